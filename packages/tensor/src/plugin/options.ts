import { OptionError, checkNumberOption } from '../errors';
import { checkDTypeOption } from '../norm/checks';
import type { NumberOptionSpec, OptionSpec, OptionsSchema, OptionValues } from './types';

export function describeOptionRange(spec: OptionSpec): string {
  if (spec.type === 'boolean') return 'true or false';
  if (spec.type === 'enum') return `one of ${spec.values.map((v) => `'${v}'`).join(', ')}`;
  const parts = [spec.integer ? 'an integer' : 'a number'];
  if (spec.min !== undefined) parts.push(`${spec.minExclusive ? '>' : '>='} ${spec.min}`);
  if (spec.max !== undefined) parts.push(`${spec.maxExclusive ? '<' : '<='} ${spec.max}`);
  if (spec.nullable) parts.push('(or null)');
  return parts.join(' ');
}

function isValid(spec: OptionSpec, value: unknown): boolean {
  switch (spec.type) {
    case 'boolean':
      return typeof value === 'boolean';
    case 'enum':
      return typeof value === 'string' && spec.values.includes(value);
    case 'number': {
      if (value === null) return spec.nullable === true;
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (spec.integer && !Number.isInteger(value)) return false;
      if (spec.min !== undefined && (spec.minExclusive ? value <= spec.min : value < spec.min)) return false;
      if (spec.max !== undefined && (spec.maxExclusive ? value >= spec.max : value > spec.max)) return false;
      return true;
    }
  }
}

/** A given value as users wrote it: JSON for strings and objects, but NaN and Infinity by name (JSON says null). */
function describeValue(value: unknown): string {
  return typeof value === 'string' || (typeof value === 'object' && value !== null) ? JSON.stringify(value) : String(value);
}

/**
 * Fills defaults and validates `given` against `schema`. Unknown keys and out-of-range values
 * throw an OptionError naming the option, the allowed range and the value given.
 */
export function resolveOptions<S extends OptionsSchema>(owner: string, schema: S, given: Record<string, unknown> = {}): OptionValues<S> {
  const known = Object.keys(schema);
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(schema, key)) {
      const near = sameNameUpToSpelling(key, known);
      throw new OptionError(
        { op: owner, expected: known.length ? `options among ${known.join(', ')}` : 'no options', given: `unknown option "${key}"` },
        near === undefined ? undefined : `Did you mean "${near}"?`,
      );
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema)) {
    const value = given[key] === undefined ? spec.default : given[key];
    if (!isValid(spec, value)) {
      throw new OptionError({ op: owner, expected: `option "${key}" to be ${describeOptionRange(spec)}`, given: `${key} = ${describeValue(value)}` });
    }
    resolved[key] = value;
  }
  return resolved as OptionValues<S>;
}

/** The defaults of a schema. */
export function defaultOptions<S extends OptionsSchema>(schema: S): OptionValues<S> {
  return resolveOptions('defaultOptions', schema, {});
}

/** A known name equal to `given` up to case and separators (`weight_decay` -> `weightDecay`, `layernorm` -> `layer-norm`). */
export function sameNameUpToSpelling(given: string, known: readonly string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  return known.find((k) => squash(k) === squash(given));
}

/**
 * Refuses option keys a constructor does not know, like the registry does for plugin options:
 * `new Adam(model, { weight_decay: 0.1 })` would otherwise silently train without weight decay.
 * Checked once, in the constructor; `forward`/`step` trust it.
 */
export function checkOptionKeys(op: string, given: object | undefined, known: readonly string[]): void {
  if (given === undefined || given === null || typeof given !== 'object') return;
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const near = sameNameUpToSpelling(key, known);
    throw new OptionError(
      { op, expected: `options among ${known.join(', ')}`, given: `unknown option "${key}"` },
      near === undefined ? undefined : `Did you mean "${near}"?`,
    );
  }
}

/** A constructor option outside the plugin schema that the caller must give: a number in a range (numFeatures). */
export type RequiredNumberOption = Omit<NumberOptionSpec, 'type' | 'default' | 'nullable' | 'description'>;

/** What a module constructor accepts: its plugin schema, and the keys only the constructor takes. */
export interface ModuleOptionsSpec<S extends OptionsSchema, R extends Record<string, RequiredNumberOption>> {
  /** The options schema declared beside the module, which its plugin uses too: defaults and ranges. */
  schema: S;
  /** Required numbers a plugin fills from its slot (`numFeatures`), checked here. */
  required?: R;
  /** Further keys the constructor takes and checks itself (a shape array, a process group, tensors). */
  other?: readonly string[];
}

/**
 * A module constructor's options, checked once (`forward` trusts them): `given` must be an object;
 * every key must be known (the `required` ones, `other`, and the schema's), or an OptionError names
 * the module, the unknown key and the accepted keys, with a did-you-mean for near spellings
 * (`epsilon`, `track_running_stats`); required numbers are checked against their range; schema
 * options are filled with their defaults and checked against their spec. Errors word ranges as
 * `checkNumberOption` does (`BatchNorm: expected eps to be a finite number > 0, got eps = 0`);
 * `dtype` is checked by `checkDTypeOption`. Values of `other` keys are returned untouched.
 *
 * @example
 * const resolved = resolveModuleOptions('BatchNorm', options, { schema: batchNormOptionsSchema, required: { numFeatures: { min: 1, integer: true } } });
 */
export function resolveModuleOptions<S extends OptionsSchema, R extends Record<string, RequiredNumberOption> = Record<never, RequiredNumberOption>>(
  op: string,
  given: unknown,
  spec: ModuleOptionsSpec<S, R>,
): OptionValues<S> & { [K in keyof R]: number } {
  const required = Object.keys(spec.required ?? {});
  if (typeof given !== 'object' || given === null) {
    const expected = required.length ? `an options object with ${required.join(', ')}` : 'an options object';
    throw new OptionError({ op, expected, given: String(given) });
  }
  const options = given as Record<string, unknown>;
  checkOptionKeys(op, options, [...required, ...(spec.other ?? []), ...Object.keys(spec.schema)]);
  const resolved: Record<string, unknown> = {};
  for (const key of required) resolved[key] = checkNumberOption(op, key, options[key], spec.required![key]!);
  for (const [key, option] of Object.entries(spec.schema)) {
    const value = options[key] === undefined ? option.default : options[key];
    resolved[key] = checkModuleOption(op, key, option, value);
  }
  return resolved as OptionValues<S> & { [K in keyof R]: number };
}

/** One schema option's value, worded as the module checks have always worded it. */
function checkModuleOption(op: string, key: string, spec: OptionSpec, value: unknown): unknown {
  if (spec.type === 'number') return value === null && spec.nullable ? null : checkNumberOption(op, key, value, spec);
  if (key === 'dtype') return checkDTypeOption(op, value);
  if (isValid(spec, value)) return value;
  throw new OptionError({ op, expected: `${key} to be ${describeOptionRange(spec)}`, given: `${key} = ${describeValue(value)}` });
}
