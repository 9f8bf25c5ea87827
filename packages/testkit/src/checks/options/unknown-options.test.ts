import { OptionError, ValueError, checkOptionKeys } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { checkUnknownOptions, describeUnknownOptions, planUnknownOptionsChecks, type OptionsBuilder } from './unknown-options';

/** A constructor that checks its keys the way every normkit module does. */
class Widget {
  constructor(options: { size: number; eps?: number }) {
    checkOptionKeys('Widget', options, ['size', 'eps']);
  }
}

const good: OptionsBuilder = ['Widget', (extra) => new Widget({ size: 2, ...extra })];

describeUnknownOptions([good]);
describeUnknownOptions([good], { acceptedKeys: 'size, eps' });

describe('checkUnknownOptions', () => {
  it('passes a constructor that refuses unknown keys, naming itself, the key and the accepted keys', () => {
    const result = checkUnknownOptions(...good);
    expect(result.ok).toBe(true);
    expect(result.failures).toEqual([]);
    expect(planUnknownOptionsChecks([good]).map((check) => check.name)).toEqual(['Widget']);
  });

  // Planted faults: each one must fail the check, with a line saying what went wrong.
  it('fails a constructor that silently ignores an unknown key', () => {
    const result = checkUnknownOptions('Widget', () => ({}));
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/built without throwing/);
  });

  it('fails an error of another type, even with the right message', () => {
    const result = checkUnknownOptions('Widget', (extra) => {
      if ('bogusKey' in extra) throw new ValueError({ op: 'Widget', expected: 'options among size', given: 'unknown option "bogusKey"' });
    });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/expected an OptionError, threw ValueError/);
  });

  it('fails a message that names another module, or not the accepted keys it is told', () => {
    const other = checkUnknownOptions('Gadget', good[1]);
    expect(other.ok).toBe(false);
    expect(other.message).toContain('got "Widget: expected options among size, eps, got unknown option \\"bogusKey\\""');
    expect(checkUnknownOptions(...good, { acceptedKeys: 'size, eps, dtype' }).ok).toBe(false);
  });

  it('fails a message without the accepted keys', () => {
    const result = checkUnknownOptions('Widget', (extra) => {
      if ('bogusKey' in extra) throw new OptionError({ op: 'Widget', expected: 'options among ', given: 'unknown option "bogusKey"' });
    });
    expect(result.ok).toBe(false);
  });

  it('fails a builder that throws even without an extra key, unless told not to check that', () => {
    const broken: OptionsBuilder[1] = (extra) => new Widget({ size: 2, ...extra, ...{ sizes: 1 } });
    const result = checkUnknownOptions('Widget', broken);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/builds with no extra key: threw OptionError/);
    const refusing: OptionsBuilder[1] = (extra) => {
      if (!('bogusKey' in extra)) throw new ValueError({ op: 'Widget', expected: 'candidates', given: 'none' });
      return new Widget({ size: 2, ...extra });
    };
    expect(checkUnknownOptions('Widget', refusing).ok).toBe(false);
    expect(checkUnknownOptions('Widget', refusing, { buildsWithoutExtra: false }).ok).toBe(true);
  });
});
