// Reading and writing one option of an `OptionsSchema` as form text: the same schema format serves
// plugins, data sets, models, optimizers and schedules, so every form field goes through here.
import { describeOptionRange, resolveOptions, type OptionSpec, type OptionsSchema } from '@normkit/tensor';

export type OptionValue = number | boolean | string | null;

export type ParsedOption = { ok: true; value: OptionValue } | { ok: false; message: string };

/**
 * The value a form input stands for, checked against its spec: a number field's text becomes a
 * number (empty means null where the spec allows null), a checkbox a boolean, a select an enum
 * value. An invalid entry gives a message saying what is expected and what was typed.
 *
 * @example
 * parseOptionInput('momentum', { type: 'number', default: 0.1, min: 0, max: 1, description: '' }, '2');
 * // { ok: false, message: 'momentum: expected a number >= 0 <= 1, got 2' }
 */
export function parseOptionInput(key: string, spec: OptionSpec, input: string | boolean): ParsedOption {
  const expected = `${key}: expected ${describeOptionRange(spec)}`;
  if (spec.type === 'boolean') {
    return typeof input === 'boolean' ? { ok: true, value: input } : { ok: false, message: `${expected}, got ${JSON.stringify(input)}` };
  }
  if (spec.type === 'enum') {
    return typeof input === 'string' && spec.values.includes(input) ? { ok: true, value: input } : { ok: false, message: `${expected}, got ${JSON.stringify(input)}` };
  }
  const text = String(input).trim();
  if (text === '') {
    return spec.nullable ? { ok: true, value: null } : { ok: false, message: `${expected}, got nothing` };
  }
  if (text === 'null' && spec.nullable) return { ok: true, value: null };
  const value = Number(text);
  if (!Number.isFinite(value)) return { ok: false, message: `${expected}, got "${text}", which is not a number` };
  const single: OptionsSchema = { [key]: spec };
  try {
    resolveOptions(key, single, { [key]: value });
  } catch {
    return { ok: false, message: `${expected}, got ${text}` };
  }
  return { ok: true, value };
}

/** The text a number field shows for a value (null as empty, with the placeholder saying so). */
export function formatOptionValue(spec: OptionSpec, value: OptionValue | undefined): string {
  if (value === null || value === undefined) return spec.type === 'number' ? '' : String(spec.default);
  return String(value);
}

/** The schema's defaults as plain values (what a form shows for a freshly picked plugin). */
export function schemaDefaults(schema: OptionsSchema): Record<string, OptionValue> {
  return Object.fromEntries(Object.entries(schema).map(([key, spec]) => [key, spec.default]));
}
