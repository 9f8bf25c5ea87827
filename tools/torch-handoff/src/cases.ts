/**
 * The normkit side of the hand-off parity cases (`../cases.json`), mirrored by
 * `python/tests/handoff_harness.py` on the normkit_torch side. A producer randomises a module's state,
 * runs `steps` training steps (forward, backward with a random upstream gradient, AGC when the case
 * asks, SGD with `lr`) and one eval step, and records every input, output, gradient and the state
 * after training; the checker on the other side replays the inputs and compares everything.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchNorm, BatchRenorm, FrozenBatchNorm, GhostBatchNorm, batchPlugins } from '@normkit/batch';
import { ConditionalBatchNorm, FiLM, SPADE } from '@normkit/conditional';
import { EvoNormB0, EvoNormS0, FilterResponseNorm, FilterResponseNormTLU, GroupNorm, InstanceNorm, LocalResponseNorm, TLU, groupPlugins } from '@normkit/group';
import {
  AdaLN, AdaLNZero, DynamicTanh, L2Norm, LayerNorm, LayerScale, NGPTBlock, QKNorm, RMSNorm, Residual, ScaleNorm, TransformerBlock, layerPlugins,
  normalizeMarkedWeights, type Placement, type TransformerBlockOptions,
} from '@normkit/layer';
import { NFResidualBlock, ScaledStdConv2d, ScaledStdLinear, SkipInit, adaptiveGradientClip, normFreePlugins } from '@normkit/norm-free';
import { NormalizerMixture, SwitchableNorm, type NormalizerMixtureOptions } from '@normkit/switchable';
import {
  Conv2d, Generator, Linear, createByName, createParametrization, has, noGrad, register, registerParametrization, tensor,
  type DType, type Module, type Tensor, type NormalizerContext, type StateDict,
} from '@normkit/tensor';
import { weightNorm, weightPlugins, weightStandardization } from '@normkit/weight';

export interface HandoffCase {
  name: string;
  module: string;
  options: Record<string, unknown>;
  input: number[];
  steps?: number;
  /** true: a padding mask [N, *spatial] (channels on axis 1); 'rows': a row mask, the input's shape without its last dim; 'elements': the input's shape. */
  mask?: boolean | 'rows' | 'elements';
  /** The dtypes the case runs in (default both): modules without a dtype option run in float32 only. */
  dtypes?: DType[];
  /** Causal attention (TransformerBlock, NGPTBlock). */
  causal?: boolean;
  /** 'ngpt': renormalise the marked weights after each SGD step (nGPT's post-step hook). */
  postStep?: 'ngpt';
  condition?: number[];
  labels?: number;
  agc?: { clipping?: number; eps?: number };
}

export interface HandoffSpec {
  lr: number;
  cases: HandoffCase[];
}

export const CASES_PATH = join(dirname(fileURLToPath(import.meta.url)), '..', 'cases.json');

export function loadCases(): HandoffSpec {
  return JSON.parse(readFileSync(CASES_PATH, 'utf8')) as HandoffSpec;
}

export const DTYPES: readonly DType[] = ['float64', 'float32'];

/** |ours - theirs| <= atol + rtol * |theirs|. */
export const TOLERANCE: Record<DType, { atol: number; rtol: number }> = {
  float64: { atol: 1e-11, rtol: 1e-10 },
  float32: { atol: 1e-5, rtol: 1e-5 },
};

type Forwardable = Module & { forward(x: Tensor, context?: NormalizerContext & { causal?: boolean }): Tensor };

/** The dtypes a case runs in. */
export function dtypesOf(c: HandoffCase): readonly DType[] {
  return c.dtypes ?? DTYPES;
}

function registerFirstParty(): void {
  for (const plugin of [...batchPlugins, ...groupPlugins, ...layerPlugins]) if (!has(plugin.name)) register(plugin);
}

/** `new Ctor(options)` with a case's JSON options: the constructor checks them, as it does for any user. */
function create<O, M>(Ctor: new (options: O) => M, options: Record<string, unknown>): M {
  return new Ctor(options as unknown as O);
}

function num(c: HandoffCase, key: string): number {
  const value = c.options[key];
  if (typeof value !== 'number') throw new Error(`torch-handoff: case ${c.name} needs a number option ${key}`);
  return value;
}

/** The normkit module for a case. */
export function build(c: HandoffCase, dtype: DType): Forwardable {
  const generator = new Generator(0);
  const o = { ...c.options, dtype };
  const g = { ...o, generator };
  switch (c.module) {
    case 'BatchNorm': return create(BatchNorm, o);
    case 'GhostBatchNorm': return create(GhostBatchNorm, o);
    case 'RMSNorm': return create(RMSNorm, o);
    case 'QKNorm': return create(QKNorm, o);
    case 'FilterResponseNorm': return create(FilterResponseNorm, o);
    case 'FilterResponseNormTLU': return create(FilterResponseNormTLU, o);
    case 'TLU': return create(TLU, o);
    case 'SwitchableNorm': return create(SwitchableNorm, o);
    case 'AdaLN': return create(AdaLN, g);
    case 'AdaLNZero': return create(AdaLNZero, g);
    case 'ConditionalBatchNorm': return create(ConditionalBatchNorm, o);
    case 'FiLM': return create(FiLM, g);
    case 'SPADE': return create(SPADE, g);
    case 'SkipInit': return new SkipInit(new Linear({ inFeatures: num(c, 'features'), outFeatures: num(c, 'features'), dtype, generator }));
    case 'ScaledStdLinear': return create(ScaledStdLinear, g);
    case 'ScaledStdConv2d': return create(ScaledStdConv2d, g);
    case 'WeightNormLinear':
      return weightNorm(new Linear({ inFeatures: num(c, 'inFeatures'), outFeatures: num(c, 'outFeatures'), dtype, generator }), { dim: num(c, 'dim') });
    case 'WeightNormConv2d': {
      const conv = new Conv2d({ inChannels: num(c, 'inChannels'), outChannels: num(c, 'outChannels'), kernelSize: num(c, 'kernelSize'), dtype, generator });
      return weightNorm(conv, { dim: num(c, 'dim') });
    }
    case 'WeightStandardizationLinear':
    case 'WeightStandardizationConv2d': {
      const { inFeatures, outFeatures, inChannels, outChannels, kernelSize, ...ws } = c.options;
      const layer = c.module === 'WeightStandardizationLinear'
        ? new Linear({ inFeatures: inFeatures as number, outFeatures: outFeatures as number, dtype, generator })
        : new Conv2d({ inChannels: inChannels as number, outChannels: outChannels as number, kernelSize: kernelSize as number, dtype, generator });
      return weightStandardization(layer, ws);
    }
    case 'NormalizerMixture':
      // Candidates are built by name through the registry.
      for (const plugin of [...batchPlugins, ...groupPlugins]) if (!has(plugin.name)) register(plugin);
      return create(NormalizerMixture, o as unknown as Record<string, unknown> & NormalizerMixtureOptions);
    case 'BatchRenorm': return create(BatchRenorm, o);
    case 'FrozenBatchNorm': return create(FrozenBatchNorm, o);
    // No parameters, no dtype option.
    case 'LocalResponseNorm': return create(LocalResponseNorm, c.options);
    case 'L2Norm': return create(L2Norm, c.options);
    case 'EvoNormB0': return create(EvoNormB0, o);
    case 'EvoNormS0': return create(EvoNormS0, o);
    case 'ScaleNorm': return create(ScaleNorm, o);
    case 'LayerScale': return create(LayerScale, o);
    case 'DynamicTanh': return create(DynamicTanh, o);
    case 'LayerNorm': return create(LayerNorm, o);
    case 'GroupNorm': return create(GroupNorm, o);
    case 'NGPTBlock': return create(NGPTBlock, g);
    case 'TransformerBlock':
      registerFirstParty();
      return new TransformerBlock({ ...(c.options as unknown as TransformerBlockOptions), generator, dtype });
    case 'InstanceNorm': return create(InstanceNorm, o);
    case 'SpectralNormLinear':
    case 'ScaledWeightStandardizationLinear':
    case 'ScaledWeightStandardizationConv2d': {
      // The families' weight parametrizations by plugin name, with the plugin's options (as applyWeightParametrization).
      for (const plugin of [...weightPlugins, ...normFreePlugins]) if (!has(plugin.name)) register(plugin);
      const { inFeatures, outFeatures, inChannels, outChannels, kernelSize, ...options } = c.options;
      const layer = c.module.endsWith('Linear')
        ? new Linear({ inFeatures: inFeatures as number, outFeatures: outFeatures as number, dtype, generator })
        : new Conv2d({ inChannels: inChannels as number, outChannels: outChannels as number, kernelSize: kernelSize as number, dtype, generator });
      const name = c.module === 'SpectralNormLinear' ? 'spectral-norm' : 'scaled-weight-standardization';
      registerParametrization(layer, 'weight', createParametrization(name, layer, 'weight', options, { op: c.name }));
      return layer;
    }
    case 'Residual': {
      registerFirstParty();
      const { features, norm, placement, layerScale, alpha } = c.options as { features: number; norm: string; placement: Placement; layerScale?: number; alpha?: number };
      const slot = { numFeatures: features, normalizedShape: [features] };
      const make = (): ReturnType<typeof createByName> => createByName(norm, slot, { dtype });
      return new Residual(new Linear({ inFeatures: features, outFeatures: features, dtype, generator }), {
        norm: make(),
        placement,
        ...(placement === 'peri' ? { outputNorm: make() } : {}),
        ...(layerScale !== undefined ? { layerScale: new LayerScale({ dim: features, initValues: layerScale, dtype }) } : {}),
        ...(alpha !== undefined ? { alpha } : {}),
      });
    }
    case 'NFResidualBlock': {
      const features = num(c, 'features');
      const outFeatures = typeof c.options.outFeatures === 'number' ? c.options.outFeatures : features;
      const { features: _f, outFeatures: _o, shortcut, ...block } = c.options;
      const branch = new ScaledStdLinear({ inFeatures: features, outFeatures, dtype, generator });
      return new NFResidualBlock(branch, { ...block, shortcut: shortcut ? new Linear({ inFeatures: features, outFeatures, dtype, generator }) : null });
    }
    default:
      throw new Error(`torch-handoff: unknown module ${c.module} in case ${c.name}`);
  }
}

/** The forward context recorded for a step: mask, condition, labels. */
function contextOf(c: HandoffCase, tensors: StateDict, prefix: string): NormalizerContext {
  const context: NormalizerContext = {};
  if (c.mask) context.mask = tensors[`${prefix}.mask`]!;
  if (c.condition) context.condition = tensors[`${prefix}.condition`]!;
  if (c.labels) context.labels = Array.from(tensors[`${prefix}.labels`]!.data);
  if (c.causal) (context as { causal?: boolean }).causal = true;
  return context;
}

function sgdStep(module: Module, c: HandoffCase, lr: number): void {
  if (c.agc) adaptiveGradientClip(module, c.agc);
  noGrad(() => {
    for (const [, p] of module.namedParameters()) {
      const g = p.grad;
      if (!g) continue;
      for (let i = 0; i < p.data.length; i++) p.data[i] = p.data[i]! - lr * g.data[i]!;
    }
    if (c.postStep === 'ngpt') normalizeMarkedWeights(module);
  });
  module.zeroGrad();
}

function copyOf(t: Tensor): Tensor {
  return tensor(t.data.slice(), { shape: [...t.shape], dtype: t.dtype });
}

/** A seeded normal generator (mulberry32 + Box-Muller), independent of normkit's own. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  normal(): number {
    const u = Math.max(this.uniform(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.uniform());
  }
  tensor(shape: readonly number[], dtype: DType, sample: () => number): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return tensor(Float64Array.from({ length: size }, sample), { shape: [...shape], dtype });
  }
}

/** Runs a case in normkit; the returned tensors are what normkit_torch's checker replays. */
export function produce(c: HandoffCase, dtype: DType, seed: number, lr: number): StateDict {
  const rng = new Random(seed);
  const module = build(c, dtype);
  module.train();
  const out: StateDict = {};
  const start: StateDict = {};
  for (const [name, t] of Object.entries(module.stateDict())) {
    let value: Tensor;
    if (name.endsWith('num_batches_tracked')) value = tensor([2], { shape: [...t.shape], dtype: t.dtype });
    else if (name.endsWith('running_var')) value = rng.tensor(t.shape, t.dtype, () => 0.5 + rng.uniform());
    else value = tensor(Float64Array.from(t.data, (v) => v + 0.3 * rng.normal()), { shape: [...t.shape], dtype: t.dtype });
    start[name] = value;
    out[`state.${name}`] = copyOf(value);
  }
  module.loadStateDict(start);
  const steps = c.steps ?? 3;
  const prefixes = [...Array.from({ length: steps }, (_, k) => `train.${k}`), 'eval'];
  for (const prefix of prefixes) {
    if (prefix === 'eval') module.eval();
    const x = rng.tensor(c.input, dtype, () => rng.normal());
    out[`${prefix}.input`] = copyOf(x);
    if (c.mask) {
      const shape = c.mask === 'rows' ? c.input.slice(0, -1) : c.mask === 'elements' ? [...c.input] : [c.input[0]!, ...c.input.slice(2)];
      const perSample = shape.slice(1).reduce((a, b) => a * b, 1);
      // At least two real positions per sample, as the Python producer does.
      out[`${prefix}.mask`] = rng.tensor(shape, dtype, (() => {
        let i = 0;
        return () => (i++ % perSample < 2 || rng.uniform() > 0.3 ? 1 : 0);
      })());
    }
    if (c.condition) out[`${prefix}.condition`] = rng.tensor(c.condition, dtype, () => rng.normal());
    if (c.labels) out[`${prefix}.labels`] = rng.tensor([c.input[0]!], dtype, () => Math.floor(rng.uniform() * c.labels!));
    x.requireGrad();
    const y = module.forward(x, contextOf(c, out, prefix));
    const gradOutput = rng.tensor(y.shape, dtype, () => rng.normal());
    y.backward(gradOutput);
    out[`${prefix}.output`] = copyOf(y);
    out[`${prefix}.grad_output`] = gradOutput;
    out[`${prefix}.grad_input`] = copyOf(x.grad!);
    for (const [name, p] of module.namedParameters()) if (p.grad) out[`${prefix}.grad_${name}`] = copyOf(p.grad);
    if (prefix === 'eval') {
      module.zeroGrad();
      continue;
    }
    sgdStep(module, c, lr);
    if (prefix === `train.${steps - 1}`) for (const [name, t] of Object.entries(module.stateDict())) out[`final.${name}`] = copyOf(t);
  }
  return out;
}

function closeTo(name: string, ours: Tensor | null | undefined, theirs: Tensor | undefined, dtype: DType): void {
  if (!ours || !theirs) throw new Error(`${name}: missing (${ours ? 'normkit_torch' : 'normkit'} has none)`);
  if (ours.shape.join(',') !== theirs.shape.join(',')) throw new Error(`${name}: shape [${ours.shape.join(', ')}] vs normkit_torch's [${theirs.shape.join(', ')}]`);
  const { atol, rtol } = TOLERANCE[dtype];
  // float32: also rtol times the array's largest magnitude. An element that is a sum with cancellation
  // (a parameter gradient reduced over a batch) carries the rounding of its largest terms, not of itself:
  // a [2, 3, 4, 4] SPADE case gave 2.6e-5 on a gradient whose largest entry is 82 (3e-7 of it, a few
  // float32 ulp) and failed an elementwise-only check. float64 keeps the elementwise check.
  let scale = 0;
  if (dtype === 'float32') for (const v of theirs.data) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let fails = false;
  for (let i = 0; i < ours.data.length; i++) {
    const a = ours.data[i]!;
    const b = theirs.data[i]!;
    const d = Math.abs(a - b);
    if (!(d <= atol + rtol * Math.abs(b) + rtol * scale)) fails = true;
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d);
  }
  if (fails) throw new Error(`${name}: max |difference| ${worst.toExponential(3)} beyond atol ${atol}, rtol ${rtol}`);
}

/** Replays a fixture written by normkit_torch in normkit; throws on any mismatch. */
export function check(c: HandoffCase, dtype: DType, tensors: StateDict, lr: number): void {
  const module = build(c, dtype);
  const state: StateDict = {};
  for (const [key, t] of Object.entries(tensors)) if (key.startsWith('state.')) state[key.slice('state.'.length)] = t;
  module.loadStateDict(state);
  module.train();
  const steps = c.steps ?? 3;
  for (const prefix of [...Array.from({ length: steps }, (_, k) => `train.${k}`), 'eval']) {
    if (prefix === 'eval') module.eval();
    const x = copyOf(tensors[`${prefix}.input`]!).requireGrad();
    const y = module.forward(x, contextOf(c, tensors, prefix));
    closeTo(`${prefix}.output`, y, tensors[`${prefix}.output`], dtype);
    y.backward(tensors[`${prefix}.grad_output`]);
    closeTo(`${prefix}.grad_input`, x.grad, tensors[`${prefix}.grad_input`], dtype);
    const ours = [...module.namedParameters()].filter(([, p]) => p.grad).map(([n]) => `${prefix}.grad_${n}`).sort();
    const theirs = Object.keys(tensors).filter((k) => k.startsWith(`${prefix}.grad_`) && k !== `${prefix}.grad_input` && k !== `${prefix}.grad_output`).sort();
    if (ours.join() !== theirs.join()) throw new Error(`${prefix}: parameter gradients [${ours.join(', ')}] vs normkit_torch's [${theirs.join(', ')}]`);
    for (const [name, p] of module.namedParameters()) if (p.grad) closeTo(`${prefix}.grad_${name}`, p.grad, tensors[`${prefix}.grad_${name}`], dtype);
    if (prefix === 'eval') continue;
    sgdStep(module, c, lr);
    if (prefix === `train.${steps - 1}`) {
      const final = module.stateDict();
      const expected = Object.keys(tensors).filter((k) => k.startsWith('final.')).map((k) => k.slice('final.'.length)).sort();
      if (Object.keys(final).sort().join() !== expected.join()) throw new Error(`final state keys [${Object.keys(final).sort().join(', ')}] vs normkit_torch's [${expected.join(', ')}]`);
      for (const [name, t] of Object.entries(final)) closeTo(`final.${name}`, t, tensors[`final.${name}`], dtype);
    }
  }
}

export function fixtureName(c: HandoffCase, dtype: DType): string {
  return `${c.name}.${dtype}.safetensors`;
}
