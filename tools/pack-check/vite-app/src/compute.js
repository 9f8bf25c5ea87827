// Shared by the page, the worker and Node: one LayerNorm-style forward + backward through
// @normkit/tensor's `normalize` (row-wise layout, per-element affine), so both normalization
// kernels of the active backend run. Plain JavaScript so Node can import it without a build.
import { getBackend, normalize, tensor } from '@normkit/tensor';

export function compute() {
  const rows = 3;
  const inner = 37; // not a multiple of the SIMD width
  const xs = new Float32Array(rows * inner);
  for (let i = 0; i < xs.length; i++) xs[i] = Math.sin(i * 0.7) * 3 + i * 0.01;
  const ws = new Float32Array(inner);
  const bs = new Float32Array(inner);
  for (let i = 0; i < inner; i++) {
    ws[i] = 1 + 0.05 * i;
    bs[i] = 0.1 * Math.cos(i);
  }
  const x = tensor(xs, { shape: [rows, inner], requiresGrad: true });
  const weight = tensor(ws, { shape: [inner], requiresGrad: true });
  const bias = tensor(bs, { shape: [inner], requiresGrad: true });
  const { output } = normalize(x, {
    op: 'layerNorm', layout: { outer: rows, groups: 1, inner }, acrossOuter: false, center: true, eps: 1e-5, weight, bias, affineBlock: 1,
  });
  const g = new Float32Array(output.data.length);
  for (let i = 0; i < g.length; i++) g[i] = Math.cos(i * 0.3);
  output.backward(g);
  const weighted = (data) => {
    let total = 0;
    for (let i = 0; i < data.length; i++) total += data[i] * ((i % 7) - 3);
    return total;
  };
  return {
    backend: getBackend(),
    output: weighted(output.data),
    gradX: weighted(x.grad.data),
    gradWeight: weighted(weight.grad.data),
    // Tensor's chaining methods are installed by the package entry point (`sideEffects: false` must not drop them).
    chained: output.detach().mul(weight.detach()).add(1).square().sum().item(),
  };
}
