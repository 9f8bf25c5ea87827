import {
  ContextError, Generator, Module, OptionError, Parameter, RegistryError, Tensor, add, crossEntropy, mul, randn, relu, sum,
} from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { oneHot, type ConditionalGan } from './gan';
import { Mlp } from './mlp';
import { models } from './index';
import { applyWeightParametrization, maskedMeanPool, type Classifier, type DataSpec, type ModelDefinition } from './model';
import { NormSlot, type NormChoice } from './norm-slot';
import {
  PlainResidualBlock, registerBlockWrapper, unregisterBlockWrapper, type ResidualBlockModule, type ResidualBranch, type ResidualNet,
} from './residual';
import { TinyTransformer } from './transformer';
import { registerTestPlugins, seen } from '../test-support';

beforeAll(() => registerTestPlugins());

const vectors: DataSpec = { inputKind: 'vector', sampleShape: [2], numClasses: 3 };
const tokens: DataSpec = { inputKind: 'tokens', sampleShape: [6, 4], numClasses: 2 };
const images: DataSpec = { inputKind: 'image', sampleShape: [1, 8, 8], numClasses: 4 };

function build(name: string, data: DataSpec, norms: Record<string, NormChoice>, options: Record<string, unknown> = {}): Module {
  const definition = models[name] as ModelDefinition;
  const defaults = Object.fromEntries(Object.entries(definition.options).map(([k, spec]) => [k, spec.default]));
  return definition.build({ options: { ...defaults, ...options } as never, data, norms, generator: new Generator(1) });
}

/** [N, L] with sequence n having 6 - n % 4 real tokens. */
function tokenMask(n: number, length: number): Tensor {
  const data = new Float32Array(n * length);
  for (let i = 0; i < n; i++) for (let t = 0; t < length - (i % 4); t++) data[i * length + t] = 1;
  return new Tensor(data, [n, length]);
}

function inputFor(data: DataSpec, n: number): { x: Tensor; mask?: Tensor } {
  const x = randn([n, ...data.sampleShape], { generator: new Generator(2) });
  return data.inputKind === 'tokens' ? { x, mask: tokenMask(n, data.sampleShape[0]!) } : { x };
}

/** Forward, cross-entropy, backward: every parameter gets a finite gradient. */
function expectTrainable(model: Module, data: DataSpec, n = 8): Tensor {
  const input = inputFor(data, n);
  const logits = (model as Classifier).forward(input);
  expect(logits.shape).toEqual([n, data.numClasses]);
  const labels = Array.from({ length: n }, (_, i) => i % data.numClasses);
  crossEntropy(logits, labels).backward();
  for (const [name, parameter] of model.namedParameters()) {
    expect(parameter.grad, `gradient of ${name}`).not.toBeNull();
    expect(parameter.grad!.data.every(Number.isFinite), `finite gradient of ${name}`).toBe(true);
  }
  return logits;
}

describe('every model trains with normalizers from the registry in its slots', () => {
  const cases: Array<[string, DataSpec, string[], Record<string, unknown>]> = [
    ['mlp', vectors, ['hidden'], {}],
    ['mlp', tokens, ['hidden'], {}],
    ['mlp', images, ['hidden'], { depth: 2 }],
    ['cnn', images, ['conv'], { channels: 4 }],
    ['residual', vectors, ['block', 'final'], { depth: 2 }],
    ['residual', tokens, ['block', 'final'], { depth: 2 }],
  ];
  // BatchNorm and GroupNorm are channels-first, LayerNorm and RMSNorm channels-last; the
  // throwaway plugins check what the slot hands them.
  const normalizers: NormChoice[] = [
    { name: 'none' },
    { name: 'batch-norm' },
    { name: 'group-norm', options: { numGroups: 2 } },
    { name: 'layer-norm' },
    { name: 'rms-norm' },
    { name: 'record-channels-first' },
    { name: 'record-channels-last' },
  ];
  for (const [name, data, roles, options] of cases) {
    for (const choice of normalizers) {
      it(`${name} on ${data.inputKind} with ${choice.name}`, () => {
        const norms = Object.fromEntries(roles.map((role) => [role, choice]));
        const model = build(name, data, norms, options);
        expectTrainable(model, data);
        const slotNames = [...model.namedModules()].filter(([, m]) => m instanceof NormSlot).map(([n]) => n);
        expect(slotNames.length).toBeGreaterThan(0);
        if (choice.name !== 'none') {
          const normalizerNames = [...model.namedModules()].map(([n]) => n).filter((n) => n.endsWith(`.${choice.name}`));
          expect(normalizerNames.length).toBe(slotNames.length);
        }
      });
    }
  }

  for (const norm of ['layer-norm', 'rms-norm', 'batch-norm', 'record-channels-first']) {
    it(`transformer with ${norm} in its blocks, every placement (Pre-LN, Post-LN, Peri-LN, output-only, DeepNorm)`, () => {
      for (const placement of ['pre', 'post', 'peri', 'output', 'deepnorm']) {
        const model = build('transformer', tokens, { block: { name: norm }, final: { name: 'layer-norm' } }, { dim: 8, numHeads: 2, depth: 2, placement });
        expect(model).toBeInstanceOf(TinyTransformer);
        expectTrainable(model, tokens);
      }
    });
  }

  it("transformer with placement 'deepnorm' takes DeepNet's encoder-only alpha and beta for its depth", () => {
    const model = build('transformer', tokens, { block: { name: 'layer-norm' } }, { dim: 8, numHeads: 2, depth: 3, placement: 'deepnorm' }) as TinyTransformer;
    expect(model.blocks.at(0).deepNorm).toEqual({ alpha: 6 ** 0.25, beta: 24 ** -0.25 });
    const peri = build('transformer', tokens, { block: { name: 'rms-norm' } }, { dim: 8, numHeads: 2, depth: 1, placement: 'peri' });
    expect([...peri.namedModules()].map(([n]) => n)).toContain('blocks.0.norm1_post');
  });

  it('transformer with layerScale: LayerScale on both branches of every block, initialised to the value; none by default', () => {
    const model = build('transformer', tokens, { block: { name: 'layer-norm' } }, { dim: 8, numHeads: 2, depth: 2, layerScale: 1e-5 }) as TinyTransformer;
    const gammas = [...model.namedParameters()].filter(([name]) => /^blocks\.\d\.ls[12]\.gamma$/.test(name));
    expect(gammas.map(([name]) => name)).toEqual(['blocks.0.ls1.gamma', 'blocks.0.ls2.gamma', 'blocks.1.ls1.gamma', 'blocks.1.ls2.gamma']);
    for (const [, gamma] of gammas) expect(Array.from(gamma.data)).toEqual(new Array(8).fill(Math.fround(1e-5)));
    expectTrainable(model, tokens);
    const plain = build('transformer', tokens, { block: { name: 'layer-norm' } }, { dim: 8, numHeads: 2, depth: 2 });
    expect([...plain.namedParameters()].some(([name]) => name.includes('.ls'))).toBe(false);
  });

  it('transformer with QK-norm: the qk slot maps to the block option, through the qk-norm schema', () => {
    const model = build('transformer', tokens, { block: { name: 'rms-norm' }, qk: { name: 'qk-norm', options: { kind: 'rms' } } }, { dim: 8, numHeads: 2 });
    const names = [...model.namedModules()].map(([n]) => n);
    expect(names).toContain('blocks.0.self_attn.q_norm');
    expectTrainable(model, tokens);
    expect(() => build('transformer', tokens, { qk: { name: 'layer-norm' } })).toThrow(/'none' or 'qk-norm'/);
    expect(() => build('transformer', tokens, { qk: { name: 'qk-norm', options: { kind: 'batch' } } })).toThrow(OptionError);
  });

  it("transformer refuses 'none' and an unmasked block norm, with the reason", () => {
    expect(() => build('transformer', tokens, { block: { name: 'none' } })).toThrow(/always has one/);
    expect(() => build('transformer', tokens, { block: { name: 'layer-norm', mask: false } })).toThrow(/hands the mask/);
  });
});

describe('NormSlot honours the plugin traits', () => {
  it('transposes tokens [N, L, D] to [N, D, L] for a channels-first normalizer and passes the mask', () => {
    seen['record-channels-first'] = [];
    const slot = new NormSlot('hidden', { name: 'record-channels-first' }, 5, 'tokens');
    const mask = tokenMask(3, 4);
    const x = randn([3, 4, 5], { generator: new Generator(0) });
    const y = slot.forward(x, { mask });
    expect(seen['record-channels-first'][0]!.shape).toEqual([3, 5, 4]);
    expect(seen['record-channels-first'][0]!.context.mask).toBe(mask);
    expect(y.shape).toEqual([3, 4, 5]);
    expect(Array.from(y.data)).toEqual(Array.from(x.data)); // weight 1: the identity after transposing back
  });

  it('keeps the mask from a normalizer when mask: false (the unmasked baseline)', () => {
    seen['record-channels-first'] = [];
    new NormSlot('hidden', { name: 'record-channels-first', mask: false }, 5, 'tokens').forward(randn([2, 4, 5]), { mask: tokenMask(2, 4) });
    expect(seen['record-channels-first'][0]!.context.mask).toBeUndefined();
  });

  it('gives tokens to a channels-last normalizer as they are, without a mask it does not accept', () => {
    seen['record-channels-last'] = [];
    new NormSlot('hidden', { name: 'record-channels-last' }, 5, 'tokens').forward(randn([2, 4, 5]), { mask: tokenMask(2, 4) });
    expect(seen['record-channels-last'][0]!.shape).toEqual([2, 4, 5]);
    expect(seen['record-channels-last'][0]!.context.mask).toBeUndefined();
  });

  it('permutes images [N, C, H, W] to [N, H, W, C] for a channels-last normalizer', () => {
    seen['record-channels-last'] = [];
    const x = randn([2, 3, 4, 5], { generator: new Generator(0) });
    const y = new NormSlot('conv', { name: 'record-channels-last' }, 3, 'image').forward(x);
    expect(seen['record-channels-last'][0]!.shape).toEqual([2, 4, 5, 3]);
    expect(Array.from(y.data)).toEqual(Array.from(x.data));
  });

  it('masked BatchNorm on tokens ignores padded positions; unmasked does not', () => {
    const x = randn([4, 6, 3], { generator: new Generator(5) });
    const mask = tokenMask(4, 6);
    // Change only padded positions: the masked output at real positions must not move.
    const altered = x.clone();
    for (let i = 0; i < mask.size; i++) if (mask.data[i] === 0) for (let f = 0; f < 3; f++) altered.data[i * 3 + f] = 100;
    const masked = new NormSlot('hidden', { name: 'batch-norm' }, 3, 'tokens');
    const unmasked = new NormSlot('hidden', { name: 'batch-norm', mask: false }, 3, 'tokens');
    const realValues = (t: Tensor): number[] => Array.from(t.data).filter((_, i) => mask.data[Math.floor(i / 3)] === 1);
    expect(realValues(masked.forward(altered, { mask }))).toEqual(realValues(masked.forward(x, { mask })));
    expect(realValues(unmasked.forward(altered, { mask }))).not.toEqual(realValues(unmasked.forward(x, { mask })));
  });

  it('refuses a normalizer that needs labels or a condition where the model has none', () => {
    expect(() => build('mlp', vectors, { hidden: { name: 'record-conditional' } })).toThrow(ContextError);
    expect(() => build('mlp', vectors, { hidden: { name: 'record-conditional' } })).toThrow(/needs labels|needs a condition/);
  });

  it('names unknown normalizers and bad options through the registry and the schema', () => {
    expect(() => build('mlp', vectors, { hidden: { name: 'no-such-norm' } })).toThrow(RegistryError);
    expect(() => build('mlp', vectors, { hidden: { name: 'batch-norm', options: { momentum: 3 } } })).toThrow(/norms\.hidden\("batch-norm"\): expected option "momentum"/);
    expect(() => build('mlp', vectors, { hidden: { name: 'none', options: { eps: 1 } } })).toThrow(/no options for 'none'/);
  });
});

describe('conditional GAN', () => {
  it('hands conditional normalizers the one-hot class and the labels; both nets train', () => {
    seen['record-conditional'] = [];
    const gan = build('conditional-gan', { inputKind: 'vector', sampleShape: [2], numClasses: 3 }, {
      generator: { name: 'record-conditional' },
      discriminator: { name: 'layer-norm' },
    }, { width: 8, discriminatorWidth: 8 }) as ConditionalGan;
    const labels = [0, 2, 1, 2];
    const points = gan.generate(randn([4, gan.latentDim], { generator: new Generator(0) }), labels);
    expect(points.shape).toEqual([4, 2]);
    const context = seen['record-conditional'][0]!.context;
    expect(context.labels).toEqual(labels);
    expect(Array.from(context.condition!.data)).toEqual(Array.from(oneHot(labels, 3).data));
    const score = gan.discriminate(points, labels);
    expect(score.shape).toEqual([4, 1]);
    sum(score).backward();
    for (const [name, p] of gan.namedParameters()) expect(p.grad, name).not.toBeNull();
  });
});

describe('residual net block wrapper hook', () => {
  /** SkipInit-style: y = x + alpha f(x), alpha starting at 0 (here a throwaway stand-in). */
  class ScaledBlock extends Module implements ResidualBlockModule {
    readonly alpha: Tensor;
    constructor(
      readonly branch: ResidualBranch,
      initial: number,
    ) {
      super();
      this.registerModule('branch', branch);
      this.alpha = this.registerParameter('alpha', new Parameter(new Tensor(new Float32Array([initial]), [])));
    }
    forward(x: Tensor): Tensor {
      return add(x, mul(this.alpha, this.branch.forward(x)));
    }
  }

  it('wraps every branch, and a named wrapper is used by the model definition', () => {
    const infos: number[] = [];
    registerBlockWrapper({
      name: 'test-scaled',
      description: 'x + alpha f(x)',
      options: { alpha: { type: 'number', default: 0, description: 'initial alpha' } },
      create: (branch, info, options) => {
        infos.push(info.index);
        return new ScaledBlock(branch, options.alpha);
      },
    });
    try {
      const definition = models.residual as ModelDefinition;
      const model = definition.build({
        options: { width: 8, depth: 3, activation: 'relu' } as never,
        data: vectors,
        norms: {},
        generator: new Generator(0),
        blockWrapper: { name: 'test-scaled', options: { alpha: 0 } },
      }) as ResidualNet;
      expect(infos).toEqual([0, 1, 2]);
      expect(model.blocks.at(1)).toBeInstanceOf(ScaledBlock);
      // alpha = 0: every block is the identity, so the output is head(relu(stem(x))).
      const input = inputFor(vectors, 5);
      const expected = model.head.forward(relu(model.stem.forward(input.x)));
      expect(Array.from(model.forward(input).data)).toEqual(Array.from(expected.data));
      expectTrainable(model, vectors);
      expect(() => definition.build({ options: { width: 8, depth: 1, activation: 'relu' } as never, data: vectors, norms: {}, generator: new Generator(0), blockWrapper: { name: 'nope' } })).toThrow(/among plain, test-scaled/);
    } finally {
      unregisterBlockWrapper('test-scaled');
    }
  });

  it('defaults to plain x + f(x) blocks', () => {
    const model = build('residual', vectors, {}, { depth: 2 }) as ResidualNet;
    expect(model.blocks.at(0)).toBeInstanceOf(PlainResidualBlock);
  });
});

describe('helpers', () => {
  it('maskedMeanPool averages real tokens only', () => {
    const x = new Tensor(Float32Array.from([1, 2, 3, 100, 10, 20, 30, 40]), [2, 4, 1]);
    const mask = new Tensor(Float32Array.from([1, 1, 1, 0, 1, 1, 1, 1]), [2, 4]);
    expect(Array.from(maskedMeanPool(x, mask).data)).toEqual([2, 25]);
  });

  it('applyWeightParametrization reparametrizes every Linear weight, keeping the model trainable', () => {
    const model = new Mlp({ inFeatures: 2, outFeatures: 3, width: 4, depth: 2, activation: 'relu', norm: { name: 'none' }, inputKind: 'vector', generator: new Generator(0) });
    const count = applyWeightParametrization(model, { name: 'test-scaled-weight', options: { initial: 2 } }, 'weights.layers');
    expect(count).toBe(3);
    expect(Object.keys(model.stateDict())).toContain('layers.0.linear.parametrizations.weight.0.scale');
    expectTrainable(model, vectors);
    expect(() => applyWeightParametrization(model, { name: 'batch-norm' }, 'weights.layers')).toThrow(/^weights\.layers: expected a weight-parametrization name, got "batch-norm", a normalizer plugin/);
  });
});
