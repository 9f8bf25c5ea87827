import { afterEach, describe, expect, it } from 'vitest';
import { OptionError, RegistryError } from '../errors';
import { Module } from '../nn/module';
import type { Tensor } from '../tensor';
import { resolveOptions } from './options';
import { clearRegistry, create, get, list, register, registerAll, unregister } from './registry';
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

afterEach(() => clearRegistry());

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
    expect(() => register(plugin)).toThrow(/"pass-through", already registered by family "test"/);
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
});
