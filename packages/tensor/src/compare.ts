import type { Tensor } from './tensor';

export interface Mismatch {
  index: number;
  actual: number;
  expected: number;
}

/**
 * The worst element where |actual - expected| > atol + rtol * |expected| (NaN always counts),
 * or null when every element is close. Shared by `allClose` and the test assertions.
 */
export function findMismatch(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 1e-6): Mismatch | null {
  const a = 'data' in actual ? actual.data : actual;
  const e = 'data' in expected ? expected.data : expected;
  if (a.length !== e.length) return { index: -1, actual: a.length, expected: e.length };
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) - rtol * Math.abs(e[i]!);
    if (!(excess <= atol) && (worstIndex === -1 || excess > worst || Number.isNaN(excess))) {
      worst = excess;
      worstIndex = i;
    }
  }
  return worstIndex === -1 ? null : { index: worstIndex, actual: a[worstIndex]!, expected: e[worstIndex]! };
}

/** True when the two have the same length and every element is within atol + rtol * |expected|. */
export function allClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 1e-6): boolean {
  return findMismatch(actual, expected, atol, rtol) === null;
}

export function describeMismatch(mismatch: Mismatch, atol: number, rtol: number): string {
  if (mismatch.index === -1) return `lengths differ: got ${mismatch.actual} elements, expected ${mismatch.expected}`;
  return `element ${mismatch.index}: got ${mismatch.actual}, expected ${mismatch.expected} (atol ${atol}, rtol ${rtol})`;
}
