// Small normalizer plugins written as a third party would (public @normkit/tensor API only):
// correct references the testkit must pass, and variants with one planted fault each.
import {
  ContextError, Module, Parameter, SPECIFICATION_VERSION, ShapeError, customOp, defineNormalizer, div, formatShape, indexSelect,
  matmul, mean, modulate, normalize, ones, refuseMask, sqrt, sub, tensor, variance, zeros,
  type DType, type NormalizerContext, type NormalizerPlugin, type NormalizerTraits, type StateDict, type Tensor, type TypedArray,
} from '@normkit/tensor';

const dtypeOption = { dtype: { type: 'enum', values: ['float32', 'float64'], default: 'float32', description: 'parameter dtype' } } as const;

const rowTraits: NormalizerTraits = {
  batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: true, hasRunningStats: false, layout: 'channels-last',
};

/** How a LayerNorm variant goes wrong (or not). */
type LayerNormFault = 'none' | 'wrong-gradient' | 'batch-leak' | 'mask-changes-output' | 'float64-output' | 'partial-load' | 'counts-calls';

/** LayerNorm over the last dim on the shared kernel; `fault` plants one bug. */
class TinyLayerNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly features: number, dtype: DType, readonly fault: LayerNormFault) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(ones([features], { dtype })));
    this.bias = this.registerParameter('bias', new Parameter(zeros([features], { dtype })));
    if (fault === 'counts-calls') this.registerBuffer('calls', zeros([1], { dtype }));
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    if (x.shape[x.ndim - 1] !== this.features) {
      throw new ShapeError({ op: 'TinyLayerNorm.forward', expected: `[..., ${this.features}]`, given: formatShape(x.shape) });
    }
    if (this.fault === 'counts-calls' && this.training) this.getBuffer('calls')!.data[0]! += 1;
    const input = this.fault === 'wrong-gradient' ? scaleGradient(x, 1.05) : x;
    const mask = context?.mask;
    const y = normalize(input, {
      op: 'tinyLayerNorm',
      layout: { outer: x.size / this.features, groups: 1, inner: this.features },
      acrossOuter: false,
      // The planted mask fault: "forgot" to centre when a mask is given.
      center: !(this.fault === 'mask-changes-output' && mask),
      eps: 1e-5,
      weight: this.weight,
      bias: this.bias,
      affineBlock: 1,
      mask: mask?.data,
      maskSpatial: 1,
    }).output;
    if (this.fault === 'batch-leak') return leakBatchMean(y, x);
    if (this.fault === 'float64-output') return y.to('float64');
    return y;
  }

  override loadStateDict(dict: StateDict): { missingKeys: string[]; unexpectedKeys: string[] } {
    if (this.fault !== 'partial-load') return super.loadStateDict(dict);
    // The planted fault: copies entry by entry, checking nothing first.
    for (const [key, target] of Object.entries(this.stateDict())) target.data.set(dict[key]!.data);
    return { missingKeys: [], unexpectedKeys: [] };
  }
}

/** Identity forward whose backward multiplies the gradient by `factor` (a wrong gradient). */
function scaleGradient(x: Tensor, factor: number): Tensor {
  return customOp({ op: 'scaleGradient', inputs: [x], data: x.data, shape: x.shape, backward: (g) => [g.map((v) => v * factor)] });
}

/** y + 1e-3 * mean of the whole batch: a leak that is tiny, but not zero. */
function leakBatchMean(y: Tensor, x: Tensor): Tensor {
  let total = 0;
  for (let i = 0; i < x.size; i++) total += x.data[i]!;
  const leak = (1e-3 * total) / x.size;
  const out = y.data.map((v) => v + leak) as TypedArray;
  return customOp({ op: 'leak', inputs: [y], data: out, shape: y.shape, backward: (g) => [g] });
}

function layerNormPlugin(name: string, fault: LayerNormFault, traits: Partial<NormalizerTraits> = {}): NormalizerPlugin {
  return defineNormalizer({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'normalizer',
    name,
    family: 'testkit-fixtures',
    description: `LayerNorm over the last dim (${fault === 'none' ? 'correct' : `planted fault: ${fault}`})`,
    options: dtypeOption,
    traits: () => ({ ...rowTraits, ...traits }),
    create: (slot, options) => new TinyLayerNorm(slot.numFeatures, options.dtype, fault),
  });
}

export const referenceLayerNorm = layerNormPlugin('fixture-layer-norm', 'none');
export const wrongGradientLayerNorm = layerNormPlugin('fixture-wrong-gradient', 'wrong-gradient');
export const batchLeakLayerNorm = layerNormPlugin('fixture-batch-leak', 'batch-leak');
export const maskFaultLayerNorm = layerNormPlugin('fixture-mask-fault', 'mask-changes-output');
export const float64OutputLayerNorm = layerNormPlugin('fixture-float64-output', 'float64-output');
export const partialLoadLayerNorm = layerNormPlugin('fixture-partial-load', 'partial-load');
/** Correct LayerNorm whose traits wrongly claim batch dependence. */
export const claimsBatchDependentLayerNorm = layerNormPlugin('fixture-claims-dependent', 'none', { batchDependent: true });
/** Declares hasRunningStats: false but counts training calls in a buffer. */
export const hiddenStateLayerNorm = layerNormPlugin('fixture-hidden-state', 'counts-calls');
/** Declares running statistics it never keeps. */
export const claimsRunningStatsLayerNorm = layerNormPlugin('fixture-claims-running-stats', 'none', { hasRunningStats: true });

/** How a BatchNorm variant goes wrong (or not). */
type BatchNormFault = 'none' | 'eval-updates-stats' | 'ignores-mask';

/** BatchNorm over [N, C, *] with PyTorch's running statistics (momentum 0.1, unbiased running_var). */
class TinyBatchNorm extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  constructor(readonly features: number, readonly dtype: DType, readonly fault: BatchNormFault) {
    super();
    this.weight = this.registerParameter('weight', new Parameter(ones([features], { dtype })));
    this.bias = this.registerParameter('bias', new Parameter(zeros([features], { dtype })));
    this.registerBuffer('running_mean', zeros([features], { dtype }));
    this.registerBuffer('running_var', ones([features], { dtype }));
  }

  forward(x: Tensor, context?: NormalizerContext): Tensor {
    if (x.ndim < 2 || x.shape[1] !== this.features) {
      throw new ShapeError({ op: 'TinyBatchNorm.forward', expected: `[N, ${this.features}, *]`, given: formatShape(x.shape) });
    }
    // The traits say acceptsMask: false; the planted fault ignores a mask instead of refusing it.
    if (this.fault !== 'ignores-mask') refuseMask('TinyBatchNorm.forward', context, 'no masked statistics');
    const layout = { outer: x.shape[0]!, groups: this.features, inner: x.size / (x.shape[0]! * this.features) };
    const runningMean = this.getBuffer('running_mean')!;
    const runningVar = this.getBuffer('running_var')!;
    const useBatch = this.training || this.fault === 'eval-updates-stats';
    const result = normalize(x, {
      op: 'tinyBatchNorm', layout, acrossOuter: true, center: true, eps: 1e-5, weight: this.weight, bias: this.bias,
      affineBlock: layout.inner,
      statistics: this.training ? undefined : { mean: Float64Array.from(runningMean.data), variance: Float64Array.from(runningVar.data) },
    });
    if (useBatch) {
      const { count, mean: batchMean, variance: batchVar } = this.training ? result.statistics : batchStatistics(x, layout);
      for (let c = 0; c < this.features; c++) {
        const n = count[c]!;
        runningMean.data[c] = 0.9 * runningMean.data[c]! + 0.1 * batchMean[c]!;
        runningVar.data[c] = 0.9 * runningVar.data[c]! + 0.1 * batchVar[c]! * (n / (n - 1));
      }
    }
    return result.output;
  }
}

function batchStatistics(x: Tensor, layout: { outer: number; groups: number; inner: number }): { count: Float64Array; mean: Float64Array; variance: Float64Array } {
  return normalize(x.detach(), { op: 'stats', layout, acrossOuter: true, center: true, eps: 1e-5, affineBlock: layout.inner }).statistics;
}

function batchNormPlugin(name: string, fault: BatchNormFault): NormalizerPlugin {
  return defineNormalizer({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'normalizer',
    name,
    family: 'testkit-fixtures',
    description: `BatchNorm (${fault === 'none' ? 'correct' : `planted fault: ${fault}`})`,
    options: dtypeOption,
    traits: () => ({ batchDependent: true, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: true, layout: 'channels-first' }),
    create: (slot, options) => new TinyBatchNorm(slot.numFeatures, options.dtype, fault),
  });
}

export const referenceBatchNorm = batchNormPlugin('fixture-batch-norm', 'none');
export const evalMutatesBatchNorm = batchNormPlugin('fixture-eval-mutates', 'eval-updates-stats');
/** Traits say acceptsMask: false, yet a mask is silently ignored (padding would leak into the statistics). */
export const ignoresMaskBatchNorm = batchNormPlugin('fixture-ignores-mask', 'ignores-mask');

/**
 * Class- and vector-conditional LayerNorm over [N, C]: y = LN(x) * (1 + c W + E[label]).
 * `vague` plants the fault: a missing condition surfaces as a TypeError from deep inside.
 */
class TinyConditionalNorm extends Module {
  readonly projection: Parameter;
  readonly embedding: Parameter;
  constructor(readonly features: number, conditionDim: number, numClasses: number, dtype: DType, readonly vague: boolean) {
    super();
    const w = new Float64Array(conditionDim * features).map((_, i) => 0.1 * Math.sin(i + 1));
    const e = new Float64Array(numClasses * features).map((_, i) => 0.2 * Math.cos(i + 2));
    this.projection = this.registerParameter('projection', new Parameter(tensor(w, { shape: [conditionDim, features], dtype })));
    this.embedding = this.registerParameter('embedding', new Parameter(tensor(e, { shape: [numClasses, features], dtype })));
  }

  forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const { condition, labels } = context;
    refuseMask('TinyConditionalNorm.forward', context);
    if (!this.vague) {
      if (!condition) throw new ContextError({ op: 'TinyConditionalNorm.forward', expected: 'a condition [N, conditionDim] in the context', given: 'no condition' });
      if (!labels) throw new ContextError({ op: 'TinyConditionalNorm.forward', expected: 'labels (one class id per sample) in the context', given: 'no labels' });
    }
    const ids = Array.from(labels instanceof Array ? labels : (labels as Tensor).data, Math.round);
    const scale = matmul(condition!, this.projection);
    const normalized = normalize(x, {
      op: 'tinyConditionalNorm', layout: { outer: x.shape[0]!, groups: 1, inner: this.features }, acrossOuter: false, center: true, eps: 1e-5, affineBlock: 1,
    }).output;
    return modulate(normalized, scale, indexSelect(this.embedding, 0, ids), { form: 'one-plus' });
  }
}

function conditionalPlugin(name: string, vague: boolean): NormalizerPlugin {
  return defineNormalizer({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'normalizer',
    name,
    family: 'testkit-fixtures',
    description: `conditional LayerNorm (${vague ? 'planted fault: unclear missing-context error' : 'correct'})`,
    options: dtypeOption,
    traits: () => ({ ...rowTraits, acceptsMask: false, needsCondition: true, needsLabels: true }),
    create: (slot, options) => new TinyConditionalNorm(slot.numFeatures, slot.conditionDim ?? 2, slot.numClasses ?? 3, options.dtype, vague),
  });
}

export const referenceConditionalNorm = conditionalPlugin('fixture-conditional', false);
export const vagueContextNorm = conditionalPlugin('fixture-vague-context', true);

/** (x - mean) / std composed from primitives with no eps: NaN on a constant row. */
class NoEpsNorm extends Module {
  forward(x: Tensor, context?: NormalizerContext): Tensor {
    refuseMask('NoEpsNorm.forward', context);
    const centred = sub(x, mean(x, -1, { keepdim: true }));
    return div(centred, sqrt(variance(x, -1, { keepdim: true, unbiased: false })));
  }
}

export const noEpsNorm = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'fixture-no-eps',
  family: 'testkit-fixtures',
  description: 'LayerNorm without eps (planted fault: NaN on constant input)',
  options: {},
  traits: () => ({ ...rowTraits, acceptsMask: false }),
  create: () => new NoEpsNorm(),
}) as unknown as NormalizerPlugin;
