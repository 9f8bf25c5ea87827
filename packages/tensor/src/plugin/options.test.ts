import { describe, expect, it } from 'vitest';
import { OptionError } from '../errors';
import { dtypeOptionSpec } from '../norm/checks';
import { resolveModuleOptions, resolveOptions } from './options';
import type { OptionsSchema } from './types';

const schema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'eps' },
  momentum: { type: 'number', default: 0.1, min: 0, max: 1, nullable: true, description: 'momentum' },
  affine: { type: 'boolean', default: true, description: 'affine' },
  mode: { type: 'enum', values: ['a', 'b'], default: 'a', description: 'mode' },
  dtype: dtypeOptionSpec,
} as const satisfies OptionsSchema;
const spec = { schema, required: { numFeatures: { min: 1, integer: true } }, other: ['group'] };

describe('resolveModuleOptions', () => {
  it("fills the schema's defaults, keeps given values, and returns the required numbers", () => {
    expect(resolveModuleOptions('Norm', { numFeatures: 3 }, spec)).toEqual({ numFeatures: 3, eps: 1e-5, momentum: 0.1, affine: true, mode: 'a', dtype: 'float32' });
    expect(resolveModuleOptions('Norm', { numFeatures: 3, eps: 1e-3, momentum: null, affine: false, mode: 'b', dtype: 'float64', group: 'g' }, spec)).toEqual({
      numFeatures: 3, eps: 1e-3, momentum: null, affine: false, mode: 'b', dtype: 'float64',
    });
  });

  it('refuses an unknown key naming the module, the key and every accepted key (required, other, schema), with a did-you-mean', () => {
    expect(() => resolveModuleOptions('Norm', { numFeatures: 3, bogus: 1 }, spec)).toThrow(OptionError);
    expect(() => resolveModuleOptions('Norm', { numFeatures: 3, bogus: 1 }, spec)).toThrow(
      /^Norm: expected options among numFeatures, group, eps, momentum, affine, mode, dtype, got unknown option "bogus"$/,
    );
    expect(() => resolveModuleOptions('Norm', { numFeatures: 3, Epsilon: 1 }, spec)).toThrow(/unknown option "Epsilon"$/);
    expect(() => resolveModuleOptions('Norm', { num_features: 3 }, spec)).toThrow(/unknown option "num_features". Did you mean "numFeatures"\?$/);
  });

  it('checks required numbers and schema values with the module wording', () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, 'Norm: expected numFeatures to be an integer >= 1, got numFeatures = undefined'],
      [{ numFeatures: 2.5 }, 'Norm: expected numFeatures to be an integer >= 1, got numFeatures = 2.5'],
      [{ numFeatures: 3, eps: 0 }, 'Norm: expected eps to be a finite number > 0, got eps = 0'],
      [{ numFeatures: 3, eps: null }, 'Norm: expected eps to be a finite number > 0, got eps = null'],
      [{ numFeatures: 3, momentum: 2 }, 'Norm: expected momentum to be a finite number >= 0 <= 1, got momentum = 2'],
      [{ numFeatures: 3, affine: 'yes' }, 'Norm: expected affine to be true or false, got affine = "yes"'],
      [{ numFeatures: 3, mode: 'c' }, "Norm: expected mode to be one of 'a', 'b', got mode = \"c\""],
      [{ numFeatures: 3, dtype: 'int8' }, "Norm: expected dtype 'float32' or 'float64', got dtype = int8"],
    ];
    for (const [given, message] of bad) {
      expect(() => resolveModuleOptions('Norm', given, spec)).toThrow(OptionError);
      expect(() => resolveModuleOptions('Norm', given, spec)).toThrow(message);
    }
  });

  it('refuses options that are not an object, naming the required keys', () => {
    for (const given of [undefined, null, 3, 'numFeatures']) {
      expect(() => resolveModuleOptions('Norm', given, spec)).toThrow(`Norm: expected an options object with numFeatures, got ${String(given)}`);
    }
    expect(() => resolveModuleOptions('Plain', undefined, { schema })).toThrow('Plain: expected an options object, got undefined');
  });
});

describe('resolveOptions (the registry)', () => {
  it('adds a did-you-mean to an unknown key that is a near spelling of a known one', () => {
    expect(() => resolveOptions('create("norm")', schema, { Eps: 1 })).toThrow('create("norm"): expected options among eps, momentum, affine, mode, dtype, got unknown option "Eps". Did you mean "eps"?');
    expect(() => resolveOptions('create("norm")', schema, { bogus: 1 })).toThrow(/got unknown option "bogus"$/);
  });
});
