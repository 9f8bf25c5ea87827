// Float64 references composed from the core's primitive ops, and the comparison the tests use:
// same forward, and the same gradient for every input under one upstream gradient. Test-only.
import { expectClose } from '@normkit/testkit';
import {
  Module,
  Parameter,
  SPECIFICATION_VERSION,
  ShapeError,
  add,
  defineNormalizer,
  div,
  formatShape,
  mean,
  mul,
  normalize,
  ones,
  randn,
  sqrt,
  sub,
  variance,
  type Normalizer,
  type NormalizerContext,
  type Tensor,
} from '@normkit/tensor';

function trailingAxes(x: Tensor, dims: number): number[] {
  return Array.from({ length: dims }, (_, i) => x.ndim - dims + i);
}

/** (x - mean) / sqrt(var + eps) * weight + bias over the last `dims` axes (biased variance). */
export function layerNormReference(x: Tensor, dims: number, eps: number, weight?: Tensor | null, bias?: Tensor | null): Tensor {
  const axes = trailingAxes(x, dims);
  let y = div(sub(x, mean(x, axes, { keepdim: true })), sqrt(add(variance(x, axes, { keepdim: true, unbiased: false }), eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/** x / sqrt(mean(x^2) + eps) * weight over the last `dims` axes. */
export function rmsNormReference(x: Tensor, dims: number, eps: number, weight?: Tensor | null): Tensor {
  const y = div(x, sqrt(add(mean(mul(x, x), trailingAxes(x, dims), { keepdim: true }), eps)));
  return weight ? mul(y, weight) : y;
}

/**
 * Runs `fused` and `reference` on the same inputs, asserts equal outputs, then backpropagates the
 * same random upstream gradient through both and asserts equal gradients for every input.
 */
export function expectSameFunction(
  fused: (...inputs: Tensor[]) => Tensor,
  reference: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  tolerance = { forward: 1e-12, gradient: 1e-10 },
): void {
  for (const t of inputs) t.grad = null;
  const y = fused(...inputs);
  const expected = reference(...inputs);
  expectClose(y, expected, tolerance.forward, tolerance.forward);
  const g = randn([...y.shape], { dtype: 'float64' });
  y.backward(g);
  const fusedGrads = inputs.map((t) => t.grad?.clone() ?? null);
  for (const t of inputs) t.grad = null;
  reference(...inputs).backward(g);
  inputs.forEach((t, i) => {
    if (!t.requiresGrad) return;
    expectClose(fusedGrads[i]!, t.grad!, tolerance.gradient, tolerance.gradient);
  });
}

/**
 * A throwaway channels-first normalizer for the tests: BatchNorm's training-mode statistics on
 * [N, C, L] (per channel over batch and real positions of the [N, L] mask) through the shared
 * kernel, with a per-channel weight, recording the shapes and contexts it was given.
 */
export class TestBatchNorm extends Module implements Normalizer {
  readonly weight: Parameter;
  readonly seenShapes: number[][] = [];
  readonly seenContexts: NormalizerContext[] = [];

  constructor(readonly numFeatures: number) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(ones([numFeatures])));
  }

  override forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    this.seenShapes.push([...x.shape]);
    this.seenContexts.push(context);
    if (x.ndim !== 3 || x.shape[1] !== this.numFeatures) {
      throw new ShapeError({ op: 'TestBatchNorm', expected: `[N, ${this.numFeatures}, L]`, given: formatShape(x.shape) });
    }
    const [n, c, l] = x.shape as [number, number, number];
    const mask = context.mask ? { mask: context.mask.data, maskSpatial: l } : {};
    return normalize(x, { op: 'testBatchNorm', layout: { outer: n, groups: c, inner: l }, acrossOuter: true, center: true, eps: 1e-5, weight: this.weight, affineBlock: l, ...mask }).output;
  }
}

/** The plugin of `TestBatchNorm`, channels-first and batch-dependent. */
export const testBatchNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'test-batch-norm',
  family: 'test',
  description: 'A channels-first BatchNorm stand-in for the tests.',
  options: {},
  traits: () => ({ batchDependent: true, needsCondition: false, needsLabels: false, acceptsMask: true, hasRunningStats: false, layout: 'channels-first' }),
  create: (slot) => new TestBatchNorm(slot.numFeatures),
});
