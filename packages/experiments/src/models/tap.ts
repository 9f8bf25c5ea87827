import { Module, type Tensor } from '@normkit/tensor';

/** Mean and standard deviation of one layer's activations at the last recorded forward. */
export interface ActivationStats {
  mean: number;
  std: number;
}

/**
 * An identity layer that, while `recording`, keeps the mean and (population) standard deviation
 * of what passes through it: the per-layer activation statistics of the training events. It
 * reads the data outside the graph (float64 accumulation) and costs nothing when not recording.
 * For tokens, padded positions (mask 0) are left out, so the numbers describe real tokens only.
 *
 * Models put one after each hidden layer; the trainer finds them by type among `namedModules()`.
 */
export class ActivationTap extends Module {
  recording = false;
  last: ActivationStats | null = null;

  /** `mask` [N, L] for tokens [N, L, D]. */
  override forward(x: Tensor, mask?: Tensor): Tensor {
    if (this.recording) this.last = activationStats(x, mask);
    return x;
  }
}

/** Mean and std of `x`'s values, over the real positions only when a token mask is given. */
export function activationStats(x: Tensor, mask?: Tensor): ActivationStats {
  const data = x.data;
  const width = mask ? data.length / mask.size : 1;
  let count = 0;
  let total = 0;
  let squares = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask && mask.data[Math.floor(i / width)] === 0) continue;
    const v = data[i]!;
    total += v;
    squares += v * v;
    count++;
  }
  if (count === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = total / count;
  return { mean, std: Math.sqrt(Math.max(0, squares / count - mean * mean)) };
}
