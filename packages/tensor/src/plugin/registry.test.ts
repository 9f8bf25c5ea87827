import { beforeEach, describe, expect, it } from 'vitest';
import { OptionError, RegistryError } from '../errors';
import { Module } from '../nn/module';
import type { Tensor } from '../tensor';
import { resolveOptions } from './options';
import { Registry, defaultRegistry, has as hasGlobal } from './registry';
import { defineGradientTransform, defineWeightParametrization } from './types';
import { SPECIFICATION_VERSION, defineNormalizer, type AnyPlugin } from './types';

class PassThrough extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

const schema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'added to the variance' },
  momentum: { type: 'number', default: 0.1, min: 0, max: 1, nullable: true, description: 'running average factor' },
  affine: { type: 'boolean', default: true, description: 'learnable scale and shift' },
  kind: { type: 'enum', values: ['layer', 'rms'], default: 'layer', description: 'statistic' },
} as const;

const plugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'pass-through',
  family: 'test',
  description: 'returns its input',
  options: schema,
  traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-first' }),
  create: () => new PassThrough(),
});

// Each test gets an isolated registry; the global default one is never touched here.
let registry: Registry;
let register: Registry['register'];
let registerAll: Registry['registerAll'];
let unregister: Registry['unregister'];
let get: Registry['get'];
let list: Registry['list'];
let create: Registry['createByName'];
beforeEach(() => {
  registry = new Registry();
  register = (p) => registry.register(p);
  registerAll = (ps) => registry.registerAll(ps);
  unregister = (name) => registry.unregister(name);
  get = registry.get.bind(registry);
  list = registry.list.bind(registry);
  // The tests below build plugins whose names the type system does not know: the run-time entry point.
  create = (name, slot, options) => registry.createByName(name, slot, options, { op: 'create' });
});

describe('registry', () => {
  it('registers, gets, lists by family and creates by name', () => {
    register(plugin);
    expect(get('pass-through')).toBe(plugin);
    expect(list({ family: 'test' }).map((p) => p.name)).toEqual(['pass-through']);
    expect(list({ family: 'other' })).toEqual([]);
    expect(create('pass-through', { numFeatures: 4 })).toBeInstanceOf(PassThrough);
    expect(unregister('pass-through')).toBe(true);
    expect(list()).toEqual([]);
  });

  it('refuses duplicates, unknown names and malformed plugins with clear messages', () => {
    register(plugin);
    expect(() => register(plugin)).toThrow(RegistryError);
    expect(() => register(plugin)).toThrow(/"pass-through", already registered \(this same plugin\)\. Check has\("pass-through"\) before registering, or unregister\("pass-through"\) first/);
    expect(() => register({ ...plugin, family: 'other' })).toThrow(/"pass-through", already registered by family "test"\. Call unregister\("pass-through"\) first to replace it/);
    expect(() => get('nope')).toThrow(/known: pass-through/);
    expect(() => register({ ...plugin, name: 'Bad Name' })).toThrow(/kebab-case/);
    expect(() => register({ ...plugin, name: 'other', specificationVersion: 'v0' } as unknown as AnyPlugin)).toThrow(/specificationVersion 'v1'/);
    expect(() => registerAll([{ ...plugin, name: 'a-one' }, { ...plugin, name: 'a-one' }])).toThrow(RegistryError);
    expect(list().map((p) => p.name)).toEqual(['pass-through']);
  });

  it('validates options against the schema, naming option, range and value', () => {
    register(plugin);
    expect(() => create('pass-through', { numFeatures: 4 }, { eps: 0 })).toThrow(OptionError);
    expect(() => create('pass-through', { numFeatures: 4 }, { eps: 0 })).toThrow(/option "eps" to be a number > 0, got eps = 0/);
    expect(() => create('pass-through', { numFeatures: 4 }, { momentum: 2 })).toThrow(/<= 1 \(or null\)/);
    expect(() => create('pass-through', { numFeatures: 4 }, { kind: 'batch' })).toThrow(/one of 'layer', 'rms'/);
    expect(() => create('pass-through', { numFeatures: 4 }, { epsilon: 1 })).toThrow(/unknown option "epsilon"/);
    expect(resolveOptions('t', schema, { momentum: null })).toEqual({ eps: 1e-5, momentum: null, affine: true, kind: 'layer' });
  });

  it('names a non-finite value as given, not as JSON null, and refuses inherited names as options', () => {
    expect(() => resolveOptions('t', schema, { eps: NaN })).toThrow(/got eps = NaN$/);
    expect(() => resolveOptions('t', schema, { momentum: Infinity })).toThrow(/got momentum = Infinity$/);
    expect(() => resolveOptions('t', schema, { kind: 'batch' })).toThrow(/got kind = "batch"$/);
    expect(() => resolveOptions('t', schema, { constructor: 1 })).toThrow(/unknown option "constructor"/);
  });

  it('refuses a plugin without create (or a normalizer without traits), naming it', () => {
    const noCreate: Partial<typeof plugin> = { ...plugin };
    delete noCreate.create;
    expect(() => register(noCreate as unknown as AnyPlugin)).toThrow(RegistryError);
    expect(() => register(noCreate as unknown as AnyPlugin)).toThrow(/^register: expected a create function on the plugin, got create = undefined for plugin "pass-through"/);
    const noTraits: Partial<typeof plugin> = { ...plugin };
    delete noTraits.traits;
    expect(() => register(noTraits as unknown as AnyPlugin)).toThrow(/a traits function/);
    expect(() => registerAll([{ ...plugin, name: 'fine' }, noCreate as unknown as AnyPlugin])).toThrow(/create function/);
    expect(list()).toEqual([]);
  });

  it('reads each plugin field once: a getter that changes between reads cannot slip past validation', () => {
    let reads = 0;
    const shifty = {
      ...plugin,
      get name(): string {
        reads++;
        return reads === 1 ? 'shifty-one' : 'Not A Kebab Name';
      },
    };
    register(shifty);
    expect(reads).toBe(1);
    expect(list().map((p) => p.name)).toEqual(['shifty-one']);
    expect(get('shifty-one').name).toBe('shifty-one');
    expect(Object.isFrozen(get('shifty-one'))).toBe(true);
    expect(create('shifty-one', { numFeatures: 2 })).toBeInstanceOf(PassThrough);
    let kindReads = 0;
    const shiftyKind = {
      ...plugin,
      name: 'shifty-kind',
      get kind(): string {
        kindReads++;
        return kindReads === 1 ? 'normalizer' : 'gradient-transform';
      },
    };
    register(shiftyKind as unknown as AnyPlugin);
    expect(get('shifty-kind').kind).toBe('normalizer');
    expect(create('shifty-kind', { numFeatures: 2 })).toBeInstanceOf(PassThrough);
  });

  it('create() checks the plugin built a Module with forward, naming the plugin', () => {
    const returning = (name: string, value: unknown): AnyPlugin => ({ ...plugin, name, create: () => value as never });
    const cases: Array<[string, unknown, RegExp]> = [
      ['gives-null', null, /got null/],
      ['gives-number', 3, /got number 3/],
      ['gives-promise', Promise.resolve(new PassThrough()), /got a Promise \(create must be synchronous\)/],
      ['gives-object', { forward: 1 }, /got a plain object/],
      ['gives-no-forward', { parameters: () => [], train: () => undefined }, /got a plain object/],
    ];
    for (const [name, value, given] of cases) {
      register(returning(name, value));
      let error: unknown;
      try {
        create(name, { numFeatures: 2 });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(RegistryError);
      expect((error as Error).message).toMatch(new RegExp(`^create\\("${name}"\\): expected plugin "${name}" to return a normalizer \\(a Module with forward\\)`));
      expect((error as Error).message).toMatch(given);
    }
  });
  it('builds every kind, validating options, and lists each kind typed', () => {
    class Identity extends Module {
      forward(w: Tensor): Tensor {
        return w;
      }
    }
    const scaled = defineWeightParametrization({
      name: 'keep-weight', family: 'test', description: 'identity',
      options: { gain: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'gain' } },
      create: () => new Identity(),
    });
    const seen: number[] = [];
    const clip = defineGradientTransform({
      name: 'clip-test', family: 'test', description: 'records its option',
      options: { maxNorm: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'bound' } },
      create: ({ maxNorm }) => ({ name: 'clip-test', apply: () => void seen.push(maxNorm) }),
    });
    registerAll([plugin, scaled, clip]);
    const host = new PassThrough();
    expect(registry.createParametrization('keep-weight', host, 'weight', { gain: 2 })).toBeInstanceOf(Identity);
    expect(() => registry.createParametrization('keep-weight', host, 'weight', { gain: 0 })).toThrow(/^createParametrization\("keep-weight"\): expected option "gain" to be a number > 0/);
    registry.createGradientTransform('clip-test', { maxNorm: 3 }).apply([]);
    expect(seen).toEqual([3]);
    expect(() => registry.createGradientTransform('clip-test', { max: 3 })).toThrow(/unknown option "max"/);
    // Each builder refuses another kind, pointing at the function that builds it.
    expect(() => create('clip-test', { numFeatures: 2 })).toThrow(/expected a normalizer name, got "clip-test", a gradient-transform plugin\. Build it with createGradientTransform\("clip-test", \.\.\.\)/);
    expect(() => registry.createGradientTransform('pass-through')).toThrow(/Build it with create\("pass-through"/);
    const normalizers = list({ kind: 'normalizer' });
    expect(normalizers.map((p) => p.traits(registry.resolve('normalizer', p.name).options).layout)).toEqual(['channels-first']);
    expect(list({ kind: 'weight-parametrization' }).map((p) => p.name)).toEqual(['keep-weight']);
    expect(get('clip-test', 'gradient-transform')).toBe(clip);
    expect(() => get('clip-test', 'normalizer')).toThrow(RegistryError);
    expect(registry.traits('pass-through', { affine: false }).acceptsMask).toBe(false);
    expect(() => registry.traits('pass-through', { affine: 1 })).toThrow(/^traits\("pass-through"\): expected option "affine"/);
  });

  it('define* fill in kind and specificationVersion; a literal carries only its own fields', () => {
    const lean = defineNormalizer({
      name: 'lean', family: 'test', description: 'no kind, no version', options: {},
      traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: true, hasRunningStats: false, layout: 'channels-last' }),
      create: () => new PassThrough(),
    });
    expect(lean.kind).toBe('normalizer');
    expect(lean.specificationVersion).toBe(SPECIFICATION_VERSION);
    expect(defineGradientTransform({ name: 'g', family: 't', description: 'd', options: {}, create: () => ({ name: 'g', apply: () => undefined }) }).kind).toBe(
      'gradient-transform',
    );
    expect(defineWeightParametrization({ name: 'w', family: 't', description: 'd', options: {}, create: () => new PassThrough() }).kind).toBe('weight-parametrization');
    register(plugin);
    register(lean);
    expect(create('lean', { numFeatures: 1 })).toBeInstanceOf(PassThrough);
  });

  it('messages name the function called, suggest near misses and the package of a first-party plugin', () => {
    register(plugin);
    registry.register({ ...plugin, name: 'layer-norm' });
    expect(() => registry.createByName('layernorm', { numFeatures: 2 })).toThrow(/^createByName: expected a registered normalizer name \(known: layer-norm, pass-through\), got "layernorm"\. Did you mean "layer-norm"\?/);
    expect(() => registry.createByName('Layer_Norm', { numFeatures: 2 })).toThrow(/Did you mean "layer-norm"\?/);
    expect(() => registry.createByName('pass-thruogh', { numFeatures: 2 })).toThrow(/Did you mean "pass-through"\?/);
    expect(() => registry.createByName('softmax', { numFeatures: 2 })).not.toThrow(/Did you mean/);
    expect(() => registry.get('batch-norm')).toThrow(/^get: expected a registered plugin name .*, got "batch-norm"\. "batch-norm" is in @normkit\/batch: registerAll\(batchPlugins\)/);
    expect(() => registry.createGradientTransform('adaptive-gradient-clip')).toThrow(/^createGradientTransform: .*"adaptive-gradient-clip" is in @normkit\/norm-free: registerAll\(normFreePlugins\)/);
    expect(() => new Registry().createByName('x', { numFeatures: 1 })).toThrow(/none registered yet/);
    expect(() => registry.createByName(3 as unknown as string, { numFeatures: 1 })).toThrow(/expected a plugin name \(a string\), got number 3/);
  });

  it('a missing or bad slot field is named as the slot field, before the plugin runs', () => {
    let built = 0;
    register({ ...plugin, create: () => (built++, new PassThrough()) });
    expect(() => create('pass-through', {} as never)).toThrow(OptionError);
    expect(() => create('pass-through', {} as never)).toThrow(/^create\("pass-through"\): expected slot\.numFeatures to be a positive integer, got slot\.numFeatures = undefined/);
    expect(() => create('pass-through', { numFeatures: 2.5 })).toThrow(/slot\.numFeatures = 2\.5/);
    expect(() => create('pass-through', { numFeatures: 2, conditionDim: 0 })).toThrow(/slot\.conditionDim to be a positive integer/);
    expect(() => create('pass-through', { numFeatures: 2, normalizedShape: [] })).toThrow(/slot\.normalizedShape to be a non-empty array/);
    expect(built).toBe(0);
  });

  it('instances are isolated from each other and from the global default registry', () => {
    const other = new Registry();
    register(plugin);
    expect(registry.has('pass-through')).toBe(true);
    expect(other.has('pass-through')).toBe(false);
    expect(hasGlobal('pass-through')).toBe(false);
    other.register(plugin);
    expect(unregister('pass-through')).toBe(true);
    expect(other.has('pass-through')).toBe(true);
    expect(defaultRegistry).toBeInstanceOf(Registry);
    // The default registry lives on globalThis, shared by every copy of the package.
    defaultRegistry.register({ ...plugin, name: 'shared-one' });
    try {
      const shared = (globalThis as unknown as Record<symbol, Map<string, unknown>>)[Symbol.for(`normkit.registry.${SPECIFICATION_VERSION}`)];
      expect(shared?.has('shared-one')).toBe(true);
    } finally {
      defaultRegistry.unregister('shared-one');
    }
  });
});
