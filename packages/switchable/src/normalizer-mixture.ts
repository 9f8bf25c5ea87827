import {
  refuseMask, checkChannels, ContextError, DTypeError, ModuleList, Module, OptionError, Parameter, ShapeError, Tensor, allocate, checkNumberOption, checkOptionKeys, checkTensor,
  createByName, createFromPlugin, customOp, formatShape, isTensor, resolvePlugin, zeros,
  type DType, type Normalizer, type NormalizerContext, type NormalizerName, type NormalizerPlugin, type NormalizerRegistry,
  type NormalizerSlot, type NormalizerTraits, type OptionValues, type OptionsSchema, type PluginOptions, type TypedArray,
} from '@normkit/tensor';
import { softmaxOf } from './switchable-norm';

/**
 * A candidate of a mixture: a registered normalizer's name, a plugin object (registered or not), or
 * either with options for it (validated against the plugin's schema). Names and their options are
 * typed by name like `create`'s (`{ candidate: 'group-norm', options: { numGroups: 1 } }`); a name known
 * only at run time goes through `normalizerChoice(name, options)` (`{ candidate: choice.name, ... }`).
 */
export type CandidateSpec =
  | NormalizerName
  | NormalizerPlugin
  | { [N in NormalizerName]: { readonly candidate: N; readonly options?: PluginOptions<NormalizerRegistry[N]> } }[NormalizerName]
  | { readonly candidate: NormalizerPlugin; readonly options?: Readonly<Record<string, unknown>> };

/** A candidate resolved against the registry: its plugin, validated options and traits. */
export interface ResolvedCandidate {
  name: string;
  plugin: NormalizerPlugin;
  /** The options as given (the plugin's schema fills the rest). */
  given: Record<string, unknown>;
  options: OptionValues<OptionsSchema>;
  traits: NormalizerTraits;
  /** true: built through the registry by name; false: a plugin object, built directly. */
  byName: boolean;
}

/**
 * Resolves candidate specs through the registry: names must be registered normalizers (an unknown
 * name lists them and suggests near misses), plugin objects get the checks `register` makes. The
 * mixture's dtype goes to every candidate whose schema has a `dtype` option, unless its options set
 * one (which must then be the same).
 */
export function resolveCandidates(op: string, specs: readonly CandidateSpec[], dtype: DType): ResolvedCandidate[] {
  if (!Array.isArray(specs) || specs.length === 0) {
    throw new OptionError({ op, expected: 'a non-empty array of candidates (normalizer names or plugins)', given: Array.isArray(specs) ? '[]' : describeValue(specs) });
  }
  return specs.map((spec: CandidateSpec, index) => {
    const wrapped = typeof spec === 'object' && spec !== null && 'candidate' in spec;
    const target: unknown = wrapped ? spec.candidate : spec;
    const given: Record<string, unknown> = { ...(wrapped ? (spec.options ?? {}) : {}) };
    const caller = { op: `${op}: candidate ${index}` };
    const pluginLike = typeof target === 'object' && target !== null && 'kind' in target && 'create' in target;
    if (typeof target !== 'string' && !pluginLike) {
      throw new OptionError({ op, expected: `candidate ${index} to be a normalizer name or a normalizer plugin`, given: describeValue(target) });
    }
    const plugin = resolvePlugin('normalizer', target as string | NormalizerPlugin, undefined, caller).plugin;
    const dtypeSpec = plugin.options.dtype;
    if (dtypeSpec?.type === 'enum' && dtypeSpec.values.includes(dtype)) {
      if (given.dtype === undefined) given.dtype = dtype;
      else if (given.dtype !== dtype) {
        throw new OptionError({ op, expected: `candidate "${plugin.name}" in the mixture's dtype ${dtype}`, given: `dtype = ${JSON.stringify(given.dtype)}` });
      }
    }
    const { options } = resolvePlugin('normalizer', plugin, given, caller);
    return { name: plugin.name, plugin, given, options, traits: plugin.traits(options), byName: typeof target === 'string' };
  });
}

function describeValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) return `an object with keys ${Object.keys(value).join(', ') || '(none)'}`;
  return String(value);
}

/**
 * The traits of a mix of candidates: batch-dependent, needing a condition or labels, or with running
 * statistics when any candidate is; accepting a mask only when every candidate does. Candidates must
 * share a layout (their outputs are added elementwise on the same input).
 */
export function mixtureTraits(op: string, candidates: readonly ResolvedCandidate[]): NormalizerTraits {
  const layouts = new Set(candidates.map((c) => c.traits.layout));
  if (layouts.size > 1) {
    throw new OptionError({
      op,
      expected: 'candidates with one layout (all channels-first [N, C, *] or all channels-last [..., C])',
      given: candidates.map((c) => `${c.name}: ${c.traits.layout}`).join(', '),
    });
  }
  const any = (key: 'batchDependent' | 'needsCondition' | 'needsLabels' | 'hasRunningStats') => candidates.some((c) => c.traits[key]);
  return {
    batchDependent: any('batchDependent'),
    needsCondition: any('needsCondition'),
    needsLabels: any('needsLabels'),
    acceptsMask: candidates.every((c) => c.traits.acceptsMask),
    hasRunningStats: any('hasRunningStats'),
    layout: candidates[0]!.traits.layout,
  };
}

/**
 * sum_k softmax(logits / temperature)_k * outputs[k], as ONE autograd node over [logits, ...outputs]:
 *
 *   dL/dy_k = w_k * g,   dL/dlogit_k = w_k (d_k - sum_j w_j d_j) / temperature,   d_k = sum_i g_i y_k,i
 *
 * Accumulates each element in float64 before storing it in the outputs' dtype.
 *
 * @example
 * const y = mixOutputs([batchNorm.forward(x), instanceNorm.forward(x)], logits, 1);
 */
export function mixOutputs(outputs: readonly Tensor[], logits: Tensor, temperature: number, op = 'normalizerMixture'): Tensor {
  const k = outputs.length;
  if (k === 0 || logits.size !== k) {
    throw new ShapeError({ op, expected: `one logit per output (${k} outputs)`, given: `logits of shape ${formatShape(logits.shape)}` });
  }
  checkNumberOption(op, 'temperature', temperature, { min: 0, minExclusive: true });
  const first = outputs[0]!;
  for (const y of outputs) {
    if (formatShape(y.shape) !== formatShape(first.shape) || y.dtype !== first.dtype) {
      throw new ShapeError({ op, expected: `outputs of one shape and dtype, ${formatShape(first.shape)} ${first.dtype}`, given: `${formatShape(y.shape)} ${y.dtype}` });
    }
  }
  const scaled = new Float64Array(k);
  for (let j = 0; j < k; j++) scaled[j] = logits.data[j]! / temperature;
  const w = softmaxOf(scaled);
  const arrays = outputs.map((y) => y.data);
  const out = allocate(first.dtype, first.size);
  mixInto(out, arrays, w);
  return customOp({
    op,
    inputs: [logits, ...outputs],
    data: out,
    shape: first.shape,
    backward: (gradOutput) => {
      const d = new Float64Array(k);
      for (let j = 0; j < k; j++) d[j] = dot(gradOutput, arrays[j]!);
      let mean = 0;
      for (let j = 0; j < k; j++) mean += w[j]! * d[j]!;
      const gradLogits = new Float64Array(k);
      for (let j = 0; j < k; j++) gradLogits[j] = (w[j]! * (d[j]! - mean)) / temperature;
      const grads: Array<TypedArray | null> = [gradLogits];
      for (let j = 0; j < k; j++) {
        if (!outputs[j]!.requiresGrad) {
          grads.push(null);
          continue;
        }
        const g = allocate(outputs[j]!.dtype, gradOutput.length);
        const wj = w[j]!;
        for (let i = 0; i < g.length; i++) g[i] = wj * gradOutput[i]!;
        grads.push(g);
      }
      return grads;
    },
  });
}

function mixInto(out: TypedArray, arrays: readonly TypedArray[], w: Float64Array): void {
  if (arrays.length === 2) {
    const [y0, y1] = arrays as [TypedArray, TypedArray];
    const w0 = w[0]!;
    const w1 = w[1]!;
    for (let i = 0; i < out.length; i++) out[i] = w0 * y0[i]! + w1 * y1[i]!;
    return;
  }
  if (arrays.length === 3) {
    const [y0, y1, y2] = arrays as [TypedArray, TypedArray, TypedArray];
    const w0 = w[0]!;
    const w1 = w[1]!;
    const w2 = w[2]!;
    for (let i = 0; i < out.length; i++) out[i] = w0 * y0[i]! + w1 * y1[i]! + w2 * y2[i]!;
    return;
  }
  for (let i = 0; i < out.length; i++) {
    let v = 0;
    for (let j = 0; j < arrays.length; j++) v += w[j]! * arrays[j]![i]!;
    out[i] = v;
  }
}

function dot(a: TypedArray, b: TypedArray): number {
  let s0 = 0;
  let s1 = 0;
  let i = 0;
  for (; i + 1 < a.length; i += 2) {
    s0 += a[i]! * b[i]!;
    s1 += a[i + 1]! * b[i + 1]!;
  }
  if (i < a.length) s0 += a[i]! * b[i]!;
  return s0 + s1;
}

/** Every key of NormalizerMixtureOptions, the slot's included (the compiler keeps the list complete). */
const MIXTURE_OPTION_KEYS = Object.keys({
  numFeatures: true, normalizedShape: true, conditionDim: true, numClasses: true, conditionChannels: true, candidates: true, temperature: true, hard: true, dtype: true,
} satisfies Record<keyof NormalizerMixtureOptions, true>);

export interface NormalizerMixtureOptions extends NormalizerSlot {
  /** The normalizers to mix: registered names, plugin objects, or `{ candidate, options }`. */
  candidates: readonly CandidateSpec[];
  /** Divides the logits before the softmax (default 1); lower is sharper. Can be changed later (annealing). */
  temperature?: number;
  /** Use only the argmax candidate's output (default false); see `collapse()`. Can be changed later. */
  hard?: boolean;
  /** The logits' dtype, passed to every candidate with a `dtype` option (default float32); inputs must match. */
  dtype?: DType;
}

/** One candidate's current weight in the mix. */
export interface CandidateImportance {
  index: number;
  name: string;
  weight: number;
}

/**
 * A learned, softmax-weighted mix of the OUTPUTS of any registered normalizers (first-party or
 * third-party):
 *
 *   y = sum_k softmax(logits / temperature)_k * candidate_k(x)
 *
 * Each candidate is a whole normalizer with its own statistics, affine parameters and running
 * averages, built by name through the registry (`createByName(name, slot, options)`) or from a plugin
 * object. Switchable Normalization instead mixes the STATISTICS of IN, LN and BN and normalises once:
 * cheaper (one pass, one affine), but limited to techniques whose statistics are means and variances
 * of the same input. Output mixing works for anything with the Normalizer interface (RMSNorm, FRN,
 * conditional normalizers, ...), costs one forward per candidate, and after training can be collapsed
 * to the single best candidate: `collapse()` returns that module itself, with its trained state, so a
 * deployed model pays for one normalizer. `hard: true` makes the forward do the same in place.
 *
 * Candidates must share a layout. Traits combine (see `mixtureTraits`): a candidate that needs a
 * condition makes the mixture need one, a forward without it is refused before anything runs; a mask
 * is accepted only when every candidate accepts one. Each candidate receives only the context its
 * traits declare. Logits (`logits`, [K]) start at zero: equal weights. Candidates are children
 * `candidates.0`, `candidates.1`, ... in the state dict.
 *
 * @example
 * registerAll(batchPlugins); registerAll(groupPlugins);
 * const mix = new NormalizerMixture({ numFeatures: 64, candidates: ['batch-norm', { candidate: 'group-norm', options: { numGroups: 8 } }] });
 * const y = mix.forward(x);          // train: both run, outputs mixed
 * const best = mix.collapse();       // after training: the argmax candidate module itself
 */
export class NormalizerMixture extends Module implements Normalizer {
  readonly numFeatures: number;
  readonly slot: NormalizerSlot;
  readonly dtype: DType;
  readonly traits: NormalizerTraits;
  /** Plugin names, one per candidate. */
  readonly candidateNames: readonly string[];
  readonly candidates: ModuleList<Normalizer>;
  readonly logits: Parameter;
  hard: boolean;
  private readonly resolved: readonly ResolvedCandidate[];
  private temperatureValue = 1;

  constructor(options: NormalizerMixtureOptions) {
    super();
    const op = 'NormalizerMixture';
    if (typeof options !== 'object' || options === null) {
      throw new OptionError({ op, expected: 'an options object with candidates and numFeatures', given: String(options) });
    }
    // Any other key would land in the candidates' slot unnoticed: refused instead.
    checkOptionKeys(op, options, MIXTURE_OPTION_KEYS);
    const { candidates: specs, temperature, hard, dtype: dtypeOption, ...slot } = options;
    this.numFeatures = checkNumberOption(op, 'numFeatures', slot.numFeatures, { min: 1, integer: true });
    const dtype = dtypeOption ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float64') throw new OptionError({ op, expected: "dtype 'float32' or 'float64'", given: `dtype = ${String(dtype)}` });
    this.dtype = dtype;
    this.temperature = temperature ?? 1;
    if (typeof (hard ?? false) !== 'boolean') throw new OptionError({ op, expected: 'hard to be true or false', given: `hard = ${String(hard)}` });
    this.hard = hard ?? false;
    this.slot = Object.freeze({ ...slot });
    this.resolved = resolveCandidates(op, specs, dtype);
    this.traits = mixtureTraits(op, this.resolved);
    this.candidateNames = Object.freeze(this.resolved.map((c) => c.name));
    const modules = this.resolved.map((candidate) => buildCandidate(op, candidate, this.slot));
    this.candidates = this.registerModule('candidates', new ModuleList<Normalizer>(modules));
    this.logits = this.registerParameter('logits', new Parameter(zeros([modules.length], { dtype })));
  }

  get temperature(): number {
    return this.temperatureValue;
  }

  /** > 0; lower sharpens the mix towards the argmax (annealing schedules set it between steps). */
  set temperature(value: number) {
    this.temperatureValue = checkNumberOption('NormalizerMixture', 'temperature', value, { min: 0, minExclusive: true });
  }

  /** softmax(logits / temperature): each candidate's current weight. */
  importance(): CandidateImportance[] {
    const weights = this.weights();
    return this.candidateNames.map((name, index) => ({ index, name, weight: weights[index]! }));
  }

  /** Index of the largest logit (the first on ties, like torch.argmax). */
  argmax(): number {
    let best = 0;
    for (let j = 1; j < this.logits.size; j++) if (this.logits.data[j]! > this.logits.data[best]!) best = j;
    return best;
  }

  /**
   * The argmax candidate module itself (not a copy): same parameters, buffers and mode. Put it where
   * the mixture was to deploy the chosen normalizer alone; its outputs are those of `hard: true`.
   */
  collapse(): Normalizer {
    return this.candidates.at(this.argmax());
  }

  forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = 'NormalizerMixture.forward';
    this.checkInput(op, x, context);
    if (this.hard) {
      const best = this.argmax();
      return this.checkOutput(op, best, x, this.candidates.at(best).forward(x, this.contextFor(best, context)));
    }
    // Candidates run one after another: if a later one throws, the running statistics an earlier one
    // already moved are put back, so a failing forward changes no state.
    const snapshot = this.training ? [...this.candidates.buffers()].map((t) => [t, t.data.slice()] as const) : [];
    try {
      const outputs = this.resolved.map((_, j) => this.checkOutput(op, j, x, this.candidates.at(j).forward(x, this.contextFor(j, context))));
      return mixOutputs(outputs, this.logits, this.temperatureValue);
    } catch (error) {
      for (const [tensor, data] of snapshot) tensor.data.set(data);
      throw error;
    }
  }

  private weights(): Float64Array {
    const scaled = new Float64Array(this.logits.size);
    for (let j = 0; j < scaled.length; j++) scaled[j] = this.logits.data[j]! / this.temperatureValue;
    return softmaxOf(scaled);
  }

  private checkInput(op: string, x: Tensor, context: NormalizerContext): void {
    checkTensor(op, x, 'x');
    if (this.traits.layout === 'channels-first') {
      if (x.ndim < 2) throw new ShapeError({ op, expected: `an input [N, ${this.numFeatures}, *] (rank 2 or more)`, given: `shape ${formatShape(x.shape)}` });
      checkChannels(op, x, this.numFeatures, 'numFeatures');
    } else if (x.ndim < 1 || x.shape[x.ndim - 1] !== this.numFeatures) {
      throw new ShapeError({
        op,
        expected: `${this.numFeatures} features on the last axis (numFeatures = ${this.numFeatures}), [..., ${this.numFeatures}]`,
        given: `shape ${formatShape(x.shape)}`,
      });
    }
    if (x.dtype !== this.dtype) throw new DTypeError({ op, expected: `a ${this.dtype} input (the mixture's dtype)`, given: `a ${x.dtype} input` });
    const lacking = (key: 'needsCondition' | 'needsLabels') => this.resolved.filter((c) => c.traits[key]).map((c) => c.name);
    if (this.traits.needsCondition && context.condition === undefined) {
      throw new ContextError({ op, expected: `a condition (context.condition) for candidate(s) ${lacking('needsCondition').join(', ')}`, given: 'none' });
    }
    if (this.traits.needsLabels && context.labels === undefined) {
      throw new ContextError({ op, expected: `labels (context.labels) for candidate(s) ${lacking('needsLabels').join(', ')}`, given: 'none' });
    }
    if (!this.traits.acceptsMask) {
      const refusing = this.resolved.filter((c) => !c.traits.acceptsMask).map((c) => c.name);
      refuseMask(op, context, `candidate(s) ${refusing.join(', ')} accept none`);
    }
  }

  /** Only what candidate j's traits declare it takes. */
  private contextFor(j: number, context: NormalizerContext): NormalizerContext {
    const traits = this.resolved[j]!.traits;
    const out: NormalizerContext = {};
    if (traits.acceptsMask && context.mask !== undefined) out.mask = context.mask;
    if (traits.needsCondition && context.condition !== undefined) out.condition = context.condition;
    if (traits.needsLabels && context.labels !== undefined) out.labels = context.labels;
    return out;
  }

  private checkOutput(op: string, j: number, x: Tensor, y: Tensor): Tensor {
    if (isTensor(y)) checkTensor(op, y, `candidate ${j}'s output`);
    if (!(y instanceof Tensor) || formatShape(y.shape) !== formatShape(x.shape) || y.dtype !== x.dtype) {
      throw new ShapeError({
        op,
        expected: `candidate ${j} ("${this.candidateNames[j]}") to return the input's shape and dtype, ${formatShape(x.shape)} ${x.dtype}`,
        given: y instanceof Tensor ? `${formatShape(y.shape)} ${y.dtype}` : String(y),
      });
    }
    return y;
  }
}

/** Builds one candidate: by name through the registry, or from its plugin object, with the same checks. */
function buildCandidate(op: string, candidate: ResolvedCandidate, slot: NormalizerSlot): Normalizer {
  const caller = { op };
  return candidate.byName ? createByName(candidate.name, slot, candidate.given, caller) : createFromPlugin(candidate.plugin, slot, candidate.given, caller);
}
