import type { ActivationArgs, ActivationBackwardArgs } from '../types';
import { INV_SQRT_2PI, erf } from './math';

// The activations of the `js` backend: one loop per activation with its formula inline (a shared
// loop calling a function per element stops V8 from inlining it). gradX = gradOutput * dy/dx, the
// derivative from the input and, where cheaper, the stored output.

export function activation(args: ActivationArgs): void {
  const { op, x, out } = args;
  const n = out.length;
  switch (op) {
    case 'relu':
      // PyTorch's relu (clamp_min(x, 0)): NaN stays NaN (a diverged value is not hidden), -0 stays -0.
      for (let i = 0; i < n; i++) out[i] = x[i]! < 0 ? 0 : x[i]!;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]!);
      return;
    case 'sigmoid':
      // Either branch keeps exp's argument <= 0: no overflow for large |x|.
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        out[i] = v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
      }
      return;
    case 'silu':
      for (let i = 0; i < n; i++) out[i] = x[i]! / (1 + Math.exp(-x[i]!));
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) out[i] = 0.5 * x[i]! * (1 + erf(x[i]! / Math.SQRT2));
      return;
  }
}

export function activationBackward(args: ActivationBackwardArgs): void {
  const { op, x, out, gradOutput: g, gradX } = args;
  const n = gradX.length;
  switch (op) {
    case 'relu':
      // PyTorch's threshold_backward: the gradient passes unless x <= 0 (so it passes at NaN).
      for (let i = 0; i < n; i++) gradX[i] = x[i]! <= 0 ? 0 : g[i]!;
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) gradX[i] = g[i]! * (1 - out[i]! * out[i]!);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) gradX[i] = g[i]! * (out[i]! * (1 - out[i]!));
      return;
    case 'silu':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        const s = 1 / (1 + Math.exp(-v));
        gradX[i] = g[i]! * (s * (1 + v * (1 - s)));
      }
      return;
    case 'gelu':
      for (let i = 0; i < n; i++) {
        const v = x[i]!;
        gradX[i] = g[i]! * (0.5 * (1 + erf(v / Math.SQRT2)) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
      }
      return;
  }
}
