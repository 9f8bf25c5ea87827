import { activeKernels } from '../kernels/backend';
import type { SlotMixBackwardArgs, SlotMixForwardArgs } from '../kernels/types';

/**
 * Per-slot normalisation whose coefficients mix statistics across slots, for fused kernels outside
 * the core (SwitchableNorm): per-slot two-pass mean and biased variance, the caller's `mix` to a
 * per-slot scale and shift, then out = x * scale + shift, on the backend in use (one copy of x into
 * WebAssembly memory on `wasm`).
 */
export function mixSlotsForward(args: SlotMixForwardArgs): void {
  activeKernels().slotMixForward(args);
}

/** The backward of `mixSlotsForward`: per-slot sums, the caller's `mix` to a, c, e, then gradX = a * dy - c * x + e. */
export function mixSlotsBackward(args: SlotMixBackwardArgs): void {
  activeKernels().slotMixBackward(args);
}
