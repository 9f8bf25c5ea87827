import { isNormkitError, type Module, type TypedArray } from '@normkit/tensor';

/** The outcome of one conformance check: plain data, so a check can be run and inspected without vitest. */
export interface CheckResult {
  /** The check's name, e.g. `gradients`. */
  readonly check: string;
  readonly ok: boolean;
  /** On failure, every failing case, one per line; on success, what was verified. */
  readonly message: string;
  /** The individual failures (empty when ok). */
  readonly failures: readonly string[];
}

/** Builds a result from the failures collected while running `check`. */
export function checkResult(check: string, failures: readonly string[], passed: string): CheckResult {
  if (failures.length === 0) return { check, ok: true, message: passed, failures: [] };
  const shown = failures.slice(0, 12);
  const more = failures.length > shown.length ? `\n  ... and ${failures.length - shown.length} more` : '';
  return { check, ok: false, message: `${check}: ${failures.length} failure(s)\n  - ${shown.join('\n  - ')}${more}`, failures };
}

/** Runs one case of a check, turning anything it throws into a failure line. */
export function attempt(failures: string[], label: string, run: () => void): void {
  try {
    run();
  } catch (error) {
    failures.push(`${label}: threw ${describeError(error)}`);
  }
}

export function describeError(error: unknown): string {
  if (isNormkitError(error)) return `${error.name} (${error.kind}): ${error.message}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * Index of the first element where `a` and `b` differ bit for bit (NaN equals NaN, +0 equals -0),
 * -1 when identical, -2 when the lengths differ.
 */
export function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return -2;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y && !(Number.isNaN(x) && Number.isNaN(y))) return i;
  }
  return -1;
}

/** Describes a bitwise difference found by `firstDifference`. */
export function describeDifference(index: number, a: ArrayLike<number>, b: ArrayLike<number>): string {
  if (index === -2) return `lengths differ (${a.length} vs ${b.length})`;
  return `element ${index}: ${a[index]} vs ${b[index]}`;
}

/** Index of the first non-finite element, or -1. */
export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

/** A copy of every parameter and buffer of a module (all buffers, persistent or not), by dotted name. */
export interface StateSnapshot {
  readonly values: ReadonlyMap<string, { shape: readonly number[]; data: TypedArray }>;
}

export function snapshotState(module: Module): StateSnapshot {
  const values = new Map<string, { shape: readonly number[]; data: TypedArray }>();
  for (const [name, p] of module.namedParameters()) values.set(`parameter ${name}`, { shape: [...p.shape], data: p.data.slice() });
  for (const [name, b] of module.namedBuffers()) values.set(`buffer ${name}`, { shape: [...b.shape], data: b.data.slice() });
  return { values };
}

/** What changed between two snapshots, one line per tensor (empty when nothing did). */
export function diffSnapshots(before: StateSnapshot, after: StateSnapshot): string[] {
  const changes: string[] = [];
  for (const [name, old] of before.values) {
    const now = after.values.get(name);
    if (!now) {
      changes.push(`${name} disappeared`);
      continue;
    }
    if (old.shape.join(',') !== now.shape.join(',')) {
      changes.push(`${name} changed shape from [${old.shape.join(', ')}] to [${now.shape.join(', ')}]`);
      continue;
    }
    const index = firstDifference(old.data, now.data);
    if (index !== -1) changes.push(`${name} changed (${describeDifference(index, old.data, now.data)})`);
  }
  for (const name of after.values.keys()) if (!before.values.has(name)) changes.push(`${name} appeared`);
  return changes;
}

export function formatShapeList(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
