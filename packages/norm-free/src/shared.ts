// What the gradient transforms share: turning what a user passes into named gradient entries,
// the non-finite gradient policy, and float64 reductions over typed arrays.
import {
  Module, OptionError, Tensor, ValueError, checkNumberOption,
  type GradientEntry, type GradientTransformReport, type TypedArray,
} from '@normkit/tensor';

/**
 * Where the plain clipping functions find gradients, as `torch.nn.utils.clip_grad_norm_` does:
 * a Module (its parameters, named and with their owning modules), one tensor, or an iterable of
 * tensors (named "0", "1", ...), of `[name, tensor]` pairs or of gradient entries.
 */
export type GradientSource = Module | Tensor | Iterable<Tensor | readonly [string, Tensor] | GradientEntry>;

/**
 * What a gradient transform does when a gradient holds NaN or an infinity:
 * - 'error' (default): throw a ValueError naming the parameters, before changing any gradient;
 * - 'skip': change no gradient and report the names (`nonFinite`), leaving the decision to the
 *   caller, e.g. an optimizer with `skipNonFinite: true`, which then skips the step.
 * Never propagated silently: clipping would otherwise turn an infinity into a finite value
 * (clip by value) or every gradient into NaN (a NaN total norm).
 */
export type NonFinitePolicy = 'error' | 'skip';

/** What a transform reports when the 'skip' policy left non-finite gradients untouched. */
export interface SkippedReport extends GradientTransformReport {
  skipped: true;
  /** The parameters whose gradient holds NaN or an infinity, comma-separated. */
  nonFinite: string;
}

export const NON_FINITE_POLICIES: readonly NonFinitePolicy[] = ['error', 'skip'];

export function checkNonFinitePolicy(op: string, value: unknown): NonFinitePolicy {
  const policy = value ?? 'error';
  if (policy !== 'error' && policy !== 'skip') {
    throw new OptionError({ op, expected: "nonFinite to be 'error' or 'skip'", given: `nonFinite = ${JSON.stringify(value)}` });
  }
  return policy;
}

/** A finite number > 0, as an OptionError naming the option otherwise. */
export function checkPositive(op: string, name: string, value: unknown): number {
  return checkNumberOption(op, name, value, { min: 0, minExclusive: true });
}

function isEntry(value: unknown): value is GradientEntry {
  return typeof value === 'object' && value !== null && !(value instanceof Tensor) && 'parameter' in value && 'name' in value;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value === 'object' ? `an object (${value.constructor?.name ?? 'Object'})` : typeof value;
}

/** True for what `toGradientEntries` accepts (used to tell a parameter source from an options object). */
export function isGradientSource(value: unknown): value is GradientSource {
  return value instanceof Module || value instanceof Tensor || (typeof value === 'object' && value !== null && Symbol.iterator in value);
}

/** Named entries from a gradient source; throws a ValueError naming the first item it cannot read. */
export function toGradientEntries(op: string, source: GradientSource): GradientEntry[] {
  if (source instanceof Module) {
    const modules = new Map(source.namedModules());
    return [...source.namedParameters()].map(([name, parameter]) => {
      const dot = name.lastIndexOf('.');
      return { name, parameter, module: modules.get(dot < 0 ? '' : name.slice(0, dot)) };
    });
  }
  if (source instanceof Tensor) return [{ name: '0', parameter: source }];
  if (!isGradientSource(source)) {
    throw new ValueError({
      op,
      expected: 'parameters: a Module, a tensor, or a list of tensors, [name, tensor] pairs or gradient entries',
      given: describeValue(source),
    });
  }
  const entries: GradientEntry[] = [];
  let index = 0;
  for (const item of source as Iterable<unknown>) {
    if (item instanceof Tensor) {
      entries.push({ name: String(index), parameter: item });
    } else if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && item[1] instanceof Tensor) {
      entries.push({ name: item[0], parameter: item[1] });
    } else if (isEntry(item) && item.parameter instanceof Tensor) {
      entries.push(item);
    } else {
      throw new ValueError({
        op,
        expected: 'parameters: tensors, [name, tensor] pairs or gradient entries { name, parameter }',
        given: `${describeValue(item)} at position ${index}`,
      });
    }
    index++;
  }
  return entries;
}

/** The entries whose parameter has a gradient (transforms skip the others, as the optimizers do). */
export function withGradients(entries: readonly GradientEntry[]): GradientEntry[] {
  return entries.filter((entry) => entry.parameter.grad !== null);
}

function hasNonFinite(data: TypedArray): boolean {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return true;
  return false;
}

/** Names of the entries whose gradient holds NaN or an infinity. */
export function nonFiniteGradientNames(entries: readonly GradientEntry[]): string[] {
  return entries.filter((entry) => hasNonFinite(entry.parameter.grad!.data)).map((entry) => entry.name);
}

/** The ValueError of the 'error' policy: names the parameters, says nothing was changed and what else to do. */
export function nonFiniteGradientError(op: string, names: readonly string[]): ValueError {
  return new ValueError(
    { op, expected: 'finite gradients', given: `NaN or infinity in the gradient of ${names.map((n) => `"${n}"`).join(', ')}` },
    "No gradient was changed; pass nonFinite: 'skip' to leave them untouched and report them instead",
  );
}

/**
 * Applies the policy before a transform changes anything: returns the names of the parameters
 * with a non-finite gradient (empty when all are finite) under 'skip', throws under 'error'.
 */
export function screenNonFinite(op: string, entries: readonly GradientEntry[], policy: NonFinitePolicy): string[] {
  const names = nonFiniteGradientNames(entries);
  if (names.length > 0 && policy === 'error') throw nonFiniteGradientError(op, names);
  return names;
}

/** Multiplies a gradient in place by `factor`, in float64, rounding once into the gradient's dtype. */
export function scaleInPlace(data: TypedArray, start: number, end: number, factor: number): void {
  for (let i = start; i < end; i++) data[i] = data[i]! * factor;
}

/**
 * The Euclidean norm of `data[start:end]` accumulated in float64. Falls back to a rescaled sum
 * when the plain sum of squares overflows (float64 values above about 1e154).
 */
export function l2Norm(data: TypedArray, start = 0, end = data.length): number {
  let squares = 0;
  for (let i = start; i < end; i++) {
    const v = data[i]!;
    squares += v * v;
  }
  if (Number.isFinite(squares)) return Math.sqrt(squares);
  const largest = maxAbs(data, start, end);
  if (!Number.isFinite(largest) || largest === 0) return largest;
  let scaled = 0;
  for (let i = start; i < end; i++) {
    const v = data[i]! / largest;
    scaled += v * v;
  }
  return largest * Math.sqrt(scaled);
}

/** max |data[i]| over `[start, end)` (0 for an empty range; NaN if any value is NaN). */
export function maxAbs(data: TypedArray, start = 0, end = data.length): number {
  let largest = 0;
  for (let i = start; i < end; i++) {
    const v = Math.abs(data[i]!);
    if (v > largest || Number.isNaN(v)) largest = v;
    if (Number.isNaN(largest)) return Number.NaN;
  }
  return largest;
}
