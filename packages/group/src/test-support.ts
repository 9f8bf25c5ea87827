// Helpers for this package's tests (not exported from the package).
import { Generator, conv2d, mse, randn, tensor, type Module, type Tensor } from '@normkit/tensor';

export const f64 = { dtype: 'float64' as const, requiresGrad: true };

/** A float64 leaf holding `values`, shaped `shape`, that requires a gradient. */
export function leaf(values: readonly number[], shape: readonly number[]): Tensor {
  return tensor(Float64Array.from(values), { shape, dtype: 'float64', requiresGrad: true });
}

/** Gradients of `inputs` after `output.backward(upstream)`, as copies; resets `.grad` first. */
export function gradientsOf(run: () => Tensor, inputs: readonly Tensor[], upstream: Tensor): Tensor[] {
  for (const t of inputs) t.grad = null;
  run().backward(upstream);
  return inputs.map((t) => t.grad!.clone());
}

/** The elements of sample `n` of an [N, ...] tensor. */
export function sampleOf(t: Tensor, n: number): number[] {
  const size = t.size / t.shape[0]!;
  return Array.from(t.data.subarray(n * size, (n + 1) * size));
}

/**
 * Trains conv3x3(3 -> C) -> norm -> conv1x1(C -> 1) on ONE sample (batch size 1) towards a fixed
 * target with plain gradient descent and returns the loss at every step.
 */
export function trainOnOneSample(norm: Module & { forward(x: Tensor): Tensor }, channels: number, steps: number, lr: number): number[] {
  const generator = new Generator(7);
  const x = randn([1, 3, 6, 6], { dtype: 'float64', generator });
  const target = randn([1, 1, 6, 6], { dtype: 'float64', generator });
  const w1 = randn([channels, 3, 3, 3], { dtype: 'float64', generator, std: 0.3, requiresGrad: true });
  const b1 = randn([channels], { dtype: 'float64', generator, std: 0.1, requiresGrad: true });
  const w2 = randn([1, channels, 1, 1], { dtype: 'float64', generator, std: 0.3, requiresGrad: true });
  const parameters = [w1, b1, w2, ...norm.parameters()];
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    for (const p of parameters) p.grad = null;
    const hidden = norm.forward(conv2d(x, w1, b1, { padding: 1 }));
    const loss = mse(conv2d(hidden, w2, null), target);
    losses.push(loss.item());
    loss.backward();
    for (const p of parameters) {
      const grad = p.grad?.data;
      if (!grad) continue;
      for (let i = 0; i < p.size; i++) p.data[i]! -= lr * grad[i]!;
    }
  }
  return losses;
}
