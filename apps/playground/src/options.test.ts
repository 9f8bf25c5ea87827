import type { OptionSpec } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { formatOptionValue, parseOptionInput, schemaDefaults } from './options';

const momentum: OptionSpec = { type: 'number', default: 0.1, min: 0, max: 1, nullable: true, description: 'running average factor' };
const eps: OptionSpec = { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'added to the variance' };
const groups: OptionSpec = { type: 'number', default: 32, min: 1, integer: true, description: 'groups' };
const kind: OptionSpec = { type: 'enum', values: ['layer', 'rms'], default: 'layer', description: 'statistic' };
const affine: OptionSpec = { type: 'boolean', default: true, description: 'learnable scale and shift' };

describe('parseOptionInput', () => {
  it('reads numbers, including exponents and surrounding spaces', () => {
    expect(parseOptionInput('eps', eps, ' 1e-3 ')).toEqual({ ok: true, value: 0.001 });
    expect(parseOptionInput('momentum', momentum, '0.5')).toEqual({ ok: true, value: 0.5 });
    expect(parseOptionInput('numGroups', groups, '8')).toEqual({ ok: true, value: 8 });
  });

  it('maps empty text (or "null") to null only where the spec allows null', () => {
    expect(parseOptionInput('momentum', momentum, '')).toEqual({ ok: true, value: null });
    expect(parseOptionInput('momentum', momentum, 'null')).toEqual({ ok: true, value: null });
    expect(parseOptionInput('eps', eps, '')).toEqual({ ok: false, message: 'eps: expected a number > 0, got nothing' });
  });

  it('says what is expected and what was typed for out-of-range or malformed values', () => {
    expect(parseOptionInput('momentum', momentum, '2')).toEqual({ ok: false, message: 'momentum: expected a number >= 0 <= 1 (or null), got 2' });
    expect(parseOptionInput('eps', eps, '0')).toEqual({ ok: false, message: 'eps: expected a number > 0, got 0' });
    expect(parseOptionInput('numGroups', groups, '2.5')).toEqual({ ok: false, message: 'numGroups: expected an integer >= 1, got 2.5' });
    expect(parseOptionInput('eps', eps, 'abc')).toEqual({ ok: false, message: 'eps: expected a number > 0, got "abc", which is not a number' });
    expect(parseOptionInput('eps', eps, 'Infinity')).toMatchObject({ ok: false });
  });

  it('checks enums and booleans', () => {
    expect(parseOptionInput('kind', kind, 'rms')).toEqual({ ok: true, value: 'rms' });
    expect(parseOptionInput('kind', kind, 'batch')).toEqual({ ok: false, message: `kind: expected one of 'layer', 'rms', got "batch"` });
    expect(parseOptionInput('affine', affine, false)).toEqual({ ok: true, value: false });
    expect(parseOptionInput('affine', affine, 'yes')).toMatchObject({ ok: false });
  });
});

describe('formatOptionValue and schemaDefaults', () => {
  it('shows null as an empty number field and numbers as typed', () => {
    expect(formatOptionValue(momentum, null)).toBe('');
    expect(formatOptionValue(eps, 1e-5)).toBe('0.00001');
    expect(formatOptionValue(kind, 'rms')).toBe('rms');
  });

  it('lists every default of a schema', () => {
    expect(schemaDefaults({ momentum, eps, kind, affine })).toEqual({ momentum: 0.1, eps: 1e-5, kind: 'layer', affine: true });
  });
});
