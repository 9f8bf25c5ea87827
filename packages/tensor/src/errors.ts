/**
 * Typed errors. Every error carries a marker under a `Symbol.for` key so two copies of the
 * package recognise each other's errors (`isNormkitError`), not only through `instanceof`.
 */
const ERROR_MARKER = Symbol.for('normkit.error');

export type ErrorKind = 'shape' | 'dtype' | 'option' | 'registry' | 'state-dict' | 'value' | 'context' | 'autograd';

export interface ErrorDetails {
  /** The op, module or function that refused its input, e.g. `matmul` or `BatchNorm.forward`. */
  op: string;
  /** What it expected, in words a user can act on. */
  expected: string;
  /** What it was given. */
  given: string;
}

export class NormkitError extends Error {
  readonly [ERROR_MARKER] = true;
  // A fixed string per class: minifiers rename classes, and users read this name.
  override name = 'NormkitError';
  readonly kind: ErrorKind;
  readonly op: string;
  readonly expected: string;
  readonly given: string;

  constructor(kind: ErrorKind, details: ErrorDetails, extra?: string) {
    super(`${details.op}: expected ${details.expected}, got ${details.given}${extra ? `. ${extra}` : ''}`);
    this.kind = kind;
    this.op = details.op;
    this.expected = details.expected;
    this.given = details.given;
  }
}

export class ShapeError extends NormkitError {
  override name = 'ShapeError';
  constructor(details: ErrorDetails, extra?: string) {
    super('shape', details, extra);
  }
}
export class DTypeError extends NormkitError {
  override name = 'DTypeError';
  constructor(details: ErrorDetails, extra?: string) {
    super('dtype', details, extra);
  }
}
export class OptionError extends NormkitError {
  override name = 'OptionError';
  constructor(details: ErrorDetails, extra?: string) {
    super('option', details, extra);
  }
}
export class ValueError extends NormkitError {
  override name = 'ValueError';
  constructor(details: ErrorDetails, extra?: string) {
    super('value', details, extra);
  }
}
export class ContextError extends NormkitError {
  override name = 'ContextError';
  constructor(details: ErrorDetails, extra?: string) {
    super('context', details, extra);
  }
}
/** Autograd misuse: a second backward through a freed graph, a tensor modified after it was saved for backward. */
export class AutogradError extends NormkitError {
  override name = 'AutogradError';
  constructor(details: ErrorDetails, extra?: string) {
    super('autograd', details, extra);
  }
}
export class RegistryError extends NormkitError {
  override name = 'RegistryError';
  constructor(details: ErrorDetails, extra?: string) {
    super('registry', details, extra);
  }
}
export class StateDictError extends NormkitError {
  override name = 'StateDictError';
  readonly problems: readonly string[];
  constructor(op: string, problems: readonly string[]) {
    super('state-dict', {
      op,
      expected: 'a state dict whose keys and shapes match the module exactly',
      given: `${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`,
    });
    this.problems = problems;
  }
}

/** True for any normkit error, from this copy of the package or another one. */
export function isNormkitError(value: unknown): value is NormkitError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ERROR_MARKER] === true;
}

/** `[2, 3]` as the string users see in error messages. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Validates a numeric option and throws an OptionError naming it when it is out of range. */
export function checkNumberOption(
  op: string,
  name: string,
  value: unknown,
  range: { min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; integer?: boolean },
): number {
  const describe = (): string => {
    const parts: string[] = [];
    if (range.integer) parts.push('an integer');
    else parts.push('a finite number');
    if (range.min !== undefined) parts.push(`${range.minExclusive ? '>' : '>='} ${range.min}`);
    if (range.max !== undefined) parts.push(`${range.maxExclusive ? '<' : '<='} ${range.max}`);
    return `${name} to be ${parts.join(' ')}`;
  };
  if (typeof value !== 'number' || !Number.isFinite(value) || (range.integer && !Number.isInteger(value))) {
    throw new OptionError({ op, expected: describe(), given: `${name} = ${String(value)}` });
  }
  const belowMin =
    range.min !== undefined && (range.minExclusive ? value <= range.min : value < range.min);
  const aboveMax =
    range.max !== undefined && (range.maxExclusive ? value >= range.max : value > range.max);
  if (belowMin || aboveMax) {
    throw new OptionError({ op, expected: describe(), given: `${name} = ${value}` });
  }
  return value;
}
