/**
 * The model families of the playground and the lab, built by normkit from an architecture description,
 * written as bundles and rebuilt by normkit_torch.models from the same description: the state loads
 * strictly (same keys and shapes) and a training-mode forward (which moves the running statistics) and
 * an eval forward afterwards give normkit's outputs (python/tests/families_harness.py). And back: PyTorch's state
 * (moved by a seeded perturbation) written as a bundle by normkit_torch loads strictly into the normkit model, whose
 * training-mode and eval forwards then give PyTorch's outputs.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchPlugins } from '@normkit/batch';
import {
  applyWeightParametrization, models, registerBlockWrapper, listBlockWrappers, type Classifier, type ConditionalGan, type NormChoice, type PluginChoice,
} from '@normkit/experiments';
import { conditionalPlugins } from '@normkit/conditional';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { normFreeBlockWrappers, normFreePlugins } from '@normkit/norm-free';
import { switchablePlugins } from '@normkit/switchable';
import {
  Generator, has, loadBundle, loadSafetensors, noGrad, register, saveBundle, saveSafetensors, tensor,
  type AnyPlugin, type JsonValue, type Module, type OptionValues, type OptionsSchema, type Tensor,
} from '@normkit/tensor';
import { weightPlugins } from '@normkit/weight';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface FamilyCase {
  name: string;
  model: { name: string; options: Record<string, unknown>; blockWrapper?: PluginChoice };
  norms: Record<string, NormChoice>;
  data: { inputKind: 'vector' | 'image' | 'tokens'; sampleShape: number[]; numClasses: number };
  /** Weight parametrizations by role (normkit's config `weights`). */
  weights?: Record<string, PluginChoice>;
}

const vector = (features: number, numClasses = 3) => ({ inputKind: 'vector' as const, sampleShape: [features], numClasses });
const tokens = (length: number, features: number, numClasses = 2) => ({ inputKind: 'tokens' as const, sampleShape: [length, features], numClasses });
const image = (channels: number, side: number, numClasses = 3) => ({ inputKind: 'image' as const, sampleShape: [channels, side, side], numClasses });

const CASES: FamilyCase[] = [
  { name: 'mlp_image_rms_norm', model: { name: 'mlp', options: { width: 6, depth: 2, activation: 'gelu' } }, norms: { hidden: { name: 'rms-norm' } }, data: { inputKind: 'image', sampleShape: [1, 3, 3], numClasses: 3 } },
  { name: 'cnn_batch_norm', model: { name: 'cnn', options: { channels: 3, stages: 2, activation: 'relu' } }, norms: { conv: { name: 'batch-norm', options: { momentum: 0.3 } } }, data: { inputKind: 'image', sampleShape: [2, 5, 6], numClasses: 4 } },
  { name: 'cnn_layer_norm_channels_last', model: { name: 'cnn', options: { channels: 2, stages: 3, activation: 'tanh' } }, norms: { conv: { name: 'layer-norm' } }, data: { inputKind: 'image', sampleShape: [1, 4, 4], numClasses: 2 } },
  { name: 'residual_group_norm', model: { name: 'residual', options: { width: 6, depth: 2, activation: 'relu' } }, norms: { block: { name: 'group-norm', options: { numGroups: 2 } }, final: { name: 'batch-norm' } }, data: { inputKind: 'vector', sampleShape: [5], numClasses: 3 } },
  { name: 'residual_nf_blocks', model: { name: 'residual', options: { width: 6, depth: 3, activation: 'relu' }, blockWrapper: { name: 'nf-block', options: { alpha: 0.3, skipInit: true } } }, norms: { final: { name: 'layer-norm' } }, data: { inputKind: 'vector', sampleShape: [5], numClasses: 3 } },
  { name: 'gan_cbn_film', model: { name: 'conditional-gan', options: { latentDim: 3, width: 5, depth: 2, discriminatorWidth: 4, discriminatorDepth: 1 } }, norms: { generator: { name: 'conditional-batch-norm' }, discriminator: { name: 'film', options: { norm: 'layer', hidden: 3 } } }, data: { inputKind: 'vector', sampleShape: [2], numClasses: 3 } },
  { name: 'gan_film_batch_ada_ln', model: { name: 'conditional-gan', options: { latentDim: 2, width: 4, depth: 1, discriminatorWidth: 4, discriminatorDepth: 2, activation: 'tanh' } }, norms: { generator: { name: 'film', options: { norm: 'batch' } }, discriminator: { name: 'ada-ln' } }, data: { inputKind: 'vector', sampleShape: [3], numClasses: 2 } },
  { name: 'transformer_pre_ln_qk_rms', model: { name: 'transformer', options: { dim: 8, numHeads: 2, depth: 2, placement: 'pre', activation: 'gelu' } }, norms: { block: { name: 'layer-norm' }, qk: { name: 'qk-norm', options: { kind: 'rms' } }, final: { name: 'layer-norm' } }, data: { inputKind: 'tokens', sampleShape: [5, 3], numClasses: 3 } },
  { name: 'transformer_peri_rms_norm', model: { name: 'transformer', options: { dim: 4, numHeads: 1, depth: 1, placement: 'peri', activation: 'relu', feedforwardMultiplier: 3 } }, norms: { block: { name: 'rms-norm' }, final: { name: 'rms-norm' } }, data: { inputKind: 'tokens', sampleShape: [4, 2], numClasses: 2 } },
  { name: 'transformer_post_ln_qk_l2', model: { name: 'transformer', options: { dim: 6, numHeads: 3, depth: 1, placement: 'post' } }, norms: { block: { name: 'layer-norm' }, qk: { name: 'qk-norm', options: { kind: 'l2' } } }, data: { inputKind: 'tokens', sampleShape: [3, 4], numClasses: 2 } },
  { name: 'residual_skip_init_image', model: { name: 'residual', options: { width: 4, depth: 2, activation: 'tanh' }, blockWrapper: { name: 'skip-init' } }, norms: {}, data: { inputKind: 'image', sampleShape: [1, 2, 2], numClasses: 2 } },
  { name: 'transformer_deepnorm', model: { name: 'transformer', options: { dim: 8, numHeads: 2, depth: 3, placement: 'deepnorm' } }, norms: { block: { name: 'layer-norm' } }, data: { inputKind: 'tokens', sampleShape: [4, 3], numClasses: 2 } },
  { name: 'transformer_output_group_norm_dyt', model: { name: 'transformer', options: { dim: 8, numHeads: 2, depth: 1, placement: 'output' } }, norms: { block: { name: 'group-norm', options: { numGroups: 2 } }, final: { name: 'dyt' } }, data: { inputKind: 'tokens', sampleShape: [4, 3], numClasses: 2 } },
  { name: 'cnn_evo_norm_b0', model: { name: 'cnn', options: { channels: 2, stages: 2, activation: 'relu' } }, norms: { conv: { name: 'evo-norm-b0' } }, data: { inputKind: 'image', sampleShape: [1, 4, 4], numClasses: 2 } },
  { name: 'mlp_batch_renorm', model: { name: 'mlp', options: { width: 5, depth: 2, activation: 'relu' } }, norms: { hidden: { name: 'batch-renorm', options: { rmax: 2, dmax: 1 } } }, data: { inputKind: 'vector', sampleShape: [3], numClasses: 2 } },
  { name: 'residual_scale_norm_layer_scale', model: { name: 'residual', options: { width: 4, depth: 2, activation: 'gelu' } }, norms: { block: { name: 'scale-norm' }, final: { name: 'layer-scale', options: { initValues: 0.5 } } }, data: { inputKind: 'vector', sampleShape: [3], numClasses: 2 } },
  // Normalizers mapped this session: FRN (+TLU), InstanceNorm, SwitchableNorm, the normalizer mixture, sync-batch-norm, qk-norm in a slot.
  { name: 'cnn_frn_tlu_learned_eps', model: { name: 'cnn', options: { channels: 2, stages: 2 } }, norms: { conv: { name: 'filter-response-norm', options: { learnableEps: true } } }, data: image(1, 4) },
  { name: 'cnn_frn_without_tlu', model: { name: 'cnn', options: { channels: 2, stages: 1, activation: 'tanh' } }, norms: { conv: { name: 'filter-response-norm', options: { tlu: false, eps: 1e-4 } } }, data: image(2, 3) },
  { name: 'cnn_instance_norm_tracked', model: { name: 'cnn', options: { channels: 2, stages: 2 } }, norms: { conv: { name: 'instance-norm', options: { affine: true, trackRunningStats: true, momentum: 0.3 } } }, data: image(1, 4) },
  { name: 'cnn_switchable_norm', model: { name: 'cnn', options: { channels: 2, stages: 2 } }, norms: { conv: { name: 'switchable-norm', options: { momentum: 0.2 } } }, data: image(1, 4) },
  { name: 'cnn_normalizer_mixture', model: { name: 'cnn', options: { channels: 2, stages: 1 } }, norms: { conv: { name: 'normalizer-mixture', options: { temperature: 0.5 } } }, data: image(1, 4) },
  { name: 'residual_tokens_switchable_no_batch_instance', model: { name: 'residual', options: { width: 4, depth: 1 } }, norms: { block: { name: 'switchable-norm', options: { usingBatchStats: false } }, final: { name: 'instance-norm' } }, data: tokens(4, 3) },
  // Token inputs for mlp and residual: per-token layers, the mask to normalizers that take one (or not: mask false), pooling over real tokens.
  { name: 'mlp_tokens_batch_norm_masked', model: { name: 'mlp', options: { width: 5, depth: 2 } }, norms: { hidden: { name: 'batch-norm', options: { momentum: 0.3 } } }, data: tokens(4, 3) },
  { name: 'mlp_tokens_group_norm_unmasked', model: { name: 'mlp', options: { width: 4, depth: 1, activation: 'gelu' } }, norms: { hidden: { name: 'group-norm', options: { numGroups: 2 }, mask: false } }, data: tokens(5, 2) },
  { name: 'residual_tokens_sync_batch_norm_qk_norm', model: { name: 'residual', options: { width: 4, depth: 2, activation: 'tanh' } }, norms: { block: { name: 'sync-batch-norm' }, final: { name: 'qk-norm', options: { kind: 'rms' } } }, data: tokens(3, 2) },
  // The mlp's conditionFeatures: the last k features go to conditional normalizers.
  { name: 'mlp_condition_features_film', model: { name: 'mlp', options: { width: 4, depth: 2, conditionFeatures: 2 } }, norms: { hidden: { name: 'film', options: { norm: 'batch', hidden: 3 } } }, data: vector(5) },
  { name: 'mlp_condition_features_ada_ln', model: { name: 'mlp', options: { width: 4, depth: 1, conditionFeatures: 3, activation: 'gelu' } }, norms: { hidden: { name: 'ada-ln' } }, data: vector(6) },
  // The transformer's layerScale, and a channels-first final norm on tokens (it gets [N, D, L] and the mask).
  { name: 'transformer_layer_scale_final_batch_norm', model: { name: 'transformer', options: { dim: 8, numHeads: 2, depth: 2, layerScale: 0.3 } }, norms: { block: { name: 'rms-norm' }, final: { name: 'batch-norm' } }, data: tokens(4, 3) },
  { name: 'transformer_deepnorm_layer_scale', model: { name: 'transformer', options: { dim: 4, numHeads: 2, depth: 2, placement: 'deepnorm', layerScale: 0.5 } }, norms: { block: { name: 'layer-norm' } }, data: tokens(3, 2) },
  // The GAN's generatorClassInput false: the class reaches the generator only through its conditional normalizers.
  { name: 'gan_without_class_input_cbn', model: { name: 'conditional-gan', options: { latentDim: 2, width: 4, depth: 2, discriminatorWidth: 3, discriminatorDepth: 1, generatorClassInput: false } }, norms: { generator: { name: 'conditional-batch-norm' } }, data: vector(2, 3) },
  // Weight parametrizations on the families, per role.
  { name: 'mlp_weight_norm', model: { name: 'mlp', options: { width: 4, depth: 2 } }, norms: { hidden: { name: 'layer-norm' } }, weights: { layers: { name: 'weight-norm' } }, data: vector(3) },
  { name: 'gan_spectral_norm_discriminator', model: { name: 'conditional-gan', options: { latentDim: 2, width: 4, depth: 1, discriminatorWidth: 4, discriminatorDepth: 2 } }, norms: { generator: { name: 'batch-norm' } }, weights: { discriminator: { name: 'spectral-norm', options: { nPowerIterations: 2 } } }, data: vector(2, 2) },
  { name: 'cnn_ws_group_norm_stages', model: { name: 'cnn', options: { channels: 4, stages: 2 } }, norms: { conv: { name: 'group-norm', options: { numGroups: 2 } } }, weights: { stages: { name: 'weight-standardization', options: { gain: true, epsMode: 'max', eps: 1e-4 } } }, data: image(1, 4) },
  { name: 'residual_nf_scaled_ws', model: { name: 'residual', options: { width: 4, depth: 2 }, blockWrapper: { name: 'nf-block', options: { alpha: 0.2 } } }, norms: {}, weights: { layers: { name: 'scaled-weight-standardization', options: { nonlinearity: 'relu' } } }, data: vector(3) },
  { name: 'transformer_spectral_norm_everywhere', model: { name: 'transformer', options: { dim: 4, numHeads: 1, depth: 1, placement: 'post' } }, norms: { block: { name: 'layer-norm' } }, weights: { layers: { name: 'spectral-norm' } }, data: tokens(3, 2) },
  // nGPT's classifier (a family added alongside: the case runs once @normkit/experiments registers it).
  ...('ngpt' in models ? [{ name: 'ngpt_classifier', model: { name: 'ngpt', options: { dim: 8, numHeads: 2, depth: 2, alphaInit: 0.1 } }, norms: {}, data: tokens(4, 3) }] : []),
  { name: 'gan_ada_ln_weight_norm_generator', model: { name: 'conditional-gan', options: { latentDim: 2, width: 4, depth: 1, discriminatorWidth: 3, discriminatorDepth: 1 } }, norms: { generator: { name: 'ada-ln' } }, weights: { generator: { name: 'weight-norm', options: { dim: null } } }, data: vector(2, 2) },
];

/** float32 forward of small models in two frameworks: max |torch - normkit| / (1 + |normkit|). */
const TOLERANCE = 1e-5;

let dir = '';
let results: Record<string, { train: number; eval: number }> = {};
const backResults: Record<string, { train: number; eval: number }> = {};

function setUp(): void {
  const plugins: readonly AnyPlugin[] = [...batchPlugins, ...groupPlugins, ...layerPlugins, ...conditionalPlugins, ...switchablePlugins, ...normFreePlugins, ...weightPlugins];
  for (const plugin of plugins) if (!has(plugin.name)) register(plugin);
  const known = new Set(listBlockWrappers().map((w) => w.name));
  for (const wrapper of normFreeBlockWrappers) if (!known.has(wrapper.name)) registerBlockWrapper(wrapper as never);
}

function defaults(name: string, given: Record<string, unknown>): OptionValues<OptionsSchema> {
  const schema = models[name]!.options as Record<string, { default?: unknown }>;
  return Object.fromEntries(Object.entries(schema).map(([key, spec]) => [key, given[key] ?? spec.default])) as OptionValues<OptionsSchema>;
}

/** The family's model with its weight parametrizations (as the engine's buildModel). */
function build(c: FamilyCase): Module {
  const model = models[c.model.name]!.build({
    options: defaults(c.model.name, c.model.options),
    data: c.data,
    norms: c.norms,
    generator: new Generator(1),
    ...(c.model.blockWrapper ? { blockWrapper: c.model.blockWrapper } : {}),
  });
  for (const [role, choice] of Object.entries(c.weights ?? {})) applyWeightParametrization(role === 'layers' ? model : model.getModule(role)!, choice, `weights.${role}`);
  return model;
}

/** A training-mode forward then an eval forward on the inputs of `io`, as the harness runs them. */
function forwards(c: FamilyCase, model: Module, io: Record<string, Tensor>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const mode of ['train', 'eval'] as const) {
    if (mode === 'train') model.train();
    else model.eval();
    const x = io[`x.${mode}`]!;
    if (c.model.name === 'conditional-gan') {
      const gan = model as unknown as ConditionalGan;
      const labels = Array.from(io[`labels.${mode}`]!.data, Number);
      out[`y.${mode}`] = noGrad(() => gan.generate(x, labels));
      out[`yd.${mode}`] = noGrad(() => gan.discriminate(io[`xd.${mode}`]!, labels));
    } else {
      const mask = io[`mask.${mode}`];
      out[`y.${mode}`] = noGrad(() => (model as Classifier).forward(mask ? { x, mask } : { x }));
    }
  }
  return out;
}

/** max |a - b| / (1 + |b|) per mode. */
function worst(got: Record<string, Tensor>, expected: Record<string, Tensor>): { train: number; eval: number } {
  const out = { train: 0, eval: 0 };
  for (const [key, b] of Object.entries(expected)) {
    if (!key.startsWith('y')) continue;
    const a = got[key]!;
    expect(a.shape, key).toEqual(b.shape);
    const mode = key.endsWith('train') ? 'train' : 'eval';
    for (let i = 0; i < b.data.length; i++) out[mode] = Math.max(out[mode], Math.abs(a.data[i]! - b.data[i]!) / (1 + Math.abs(b.data[i]!)));
  }
  return out;
}

beforeAll(() => {
  setUp();
  dir = mkdtempSync(join(tmpdir(), 'torch-handoff-families-'));
  const g = new Generator(5);
  const input = (c: FamilyCase, n: number): Tensor => {
    const shape = [n, ...c.data.sampleShape];
    return tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => g.normal()), { shape });
  };
  for (const c of CASES) {
    const model = build(c);
    // Move every tensor off its initial value (SkipInit gains start at 0, running statistics at 0 and 1); not
    // spectral norm's u and v (unit vectors of the power iteration).
    noGrad(() => {
      for (const [name, t] of Object.entries(model.stateDict())) {
        if (name.endsWith('num_batches_tracked') || name.endsWith('._u') || name.endsWith('._v')) continue;
        for (let i = 0; i < t.data.length; i++) t.data[i] = name.endsWith('running_var') ? 0.5 + g.uniform() : t.data[i]! + 0.2 * g.normal();
      }
    });
    const case_ = join(dir, c.name);
    mkdirSync(case_);
    const architecture = JSON.parse(JSON.stringify({ model: c.model, norms: c.norms, weights: c.weights ?? {}, data: c.data })) as JsonValue;
    const files = saveBundle({ model, architecture });
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(case_, name), bytes);
    const io: Record<string, Tensor> = {};
    for (const [mode, n] of [['train', 4], ['eval', 3]] as const) {
      if (mode === 'train') model.train();
      else model.eval();
      if (c.model.name === 'conditional-gan') {
        // The generator on latent codes and the discriminator on data, each with class labels.
        const gan = model as unknown as ConditionalGan;
        const z = tensor(Float32Array.from({ length: n * gan.latentDim }, () => g.normal()), { shape: [n, gan.latentDim] });
        const labels = Array.from({ length: n }, (_, i) => i % c.data.numClasses);
        const xd = input(c, n);
        Object.assign(io, {
          [`x.${mode}`]: z, [`labels.${mode}`]: tensor(labels, { shape: [n], dtype: 'float64' }), [`xd.${mode}`]: xd,
          [`y.${mode}`]: noGrad(() => gan.generate(z, labels)), [`yd.${mode}`]: noGrad(() => gan.discriminate(xd, labels)),
        });
      } else if (c.data.inputKind === 'tokens') {
        // Padding at the end of some sequences (every sequence keeps its first token).
        const length = c.data.sampleShape[0]!;
        const mask = tensor(Array.from({ length: n * length }, (_, i) => (i % length === 0 || g.uniform() > 0.3 ? 1 : 0)), { shape: [n, length] });
        const x = input(c, n);
        Object.assign(io, { [`x.${mode}`]: x, [`mask.${mode}`]: mask, [`y.${mode}`]: noGrad(() => (model as Classifier).forward({ x, mask })) });
      } else {
        const x = input(c, n);
        Object.assign(io, { [`x.${mode}`]: x, [`y.${mode}`]: noGrad(() => (model as Classifier).forward({ x })) });
      }
    }
    writeFileSync(join(case_, 'io.safetensors'), saveSafetensors(io));
  }
  const out = execFileSync('/usr/bin/python3', [join(ROOT, 'python', 'tests', 'families_harness.py'), dir], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  results = JSON.parse(out.toString()) as typeof results;
  // Back to normkit: a fresh model loads PyTorch's bundle strictly and replays PyTorch's two forwards.
  for (const c of CASES) {
    const back = join(dir, c.name, 'from-torch');
    const files = Object.fromEntries(readdirSync(back).map((name) => [name, new Uint8Array(readFileSync(join(back, name)))]));
    const io = loadSafetensors(files['io.safetensors']!);
    const model = build(c);
    loadBundle(files, { model });
    backResults[c.name] = worst(forwards(c, model, io), io);
  }
}, 150_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('playground/lab model families rebuilt by normkit_torch.models from a normkit bundle', () => {
  for (const c of CASES) {
    it(`${c.name}: strict load, train and eval outputs match`, () => {
      const r = results[c.name]!;
      expect(r, c.name).toBeDefined();
      expect(r.train).toBeLessThanOrEqual(TOLERANCE);
      expect(r.eval).toBeLessThanOrEqual(TOLERANCE);
    });
    it(`${c.name}: PyTorch's state loads back into normkit strictly, train and eval outputs match PyTorch's`, () => {
      const r = backResults[c.name]!;
      expect(r, c.name).toBeDefined();
      expect(r.train).toBeLessThanOrEqual(TOLERANCE);
      expect(r.eval).toBeLessThanOrEqual(TOLERANCE);
    });
  }
});
