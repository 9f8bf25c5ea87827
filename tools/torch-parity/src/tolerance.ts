import { describeMismatch, findMismatch, type DType, type Tensor } from '@normkit/tensor';
import { expect } from 'vitest';

/** The stated tolerance of a comparison: |normkit - torch| <= atol + rtol * |torch|. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * Tolerances per dtype. float64: both sides compute in float64 with different summation orders,
 * so agreement is near machine precision. float32: normkit computes in float32 (accumulating
 * statistics in float64) from float32-rounded inputs; torch's values are float64.
 */
export const TOLERANCES: Record<DType, { forward: Tolerance; gradient: Tolerance }> = {
  float64: { forward: { atol: 1e-12, rtol: 1e-10 }, gradient: { atol: 1e-11, rtol: 1e-9 } },
  float32: { forward: { atol: 1e-5, rtol: 1e-5 }, gradient: { atol: 1e-4, rtol: 1e-4 } },
};

/** Asserts normkit's tensor matches torch's within `tolerance`, naming what was compared. */
export function expectMatches(what: string, actual: Tensor | null | undefined, expected: Tensor, tolerance: Tolerance): void {
  if (!actual) expect.fail(`${what}: normkit produced nothing (expected shape [${expected.shape.join(', ')}])`);
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const mismatch = findMismatch(actual, expected, tolerance.atol, tolerance.rtol);
  if (mismatch) expect.fail(`${what}: ${describeMismatch(mismatch, tolerance.atol, tolerance.rtol)}`);
}
