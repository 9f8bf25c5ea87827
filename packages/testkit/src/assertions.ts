import { expect } from 'vitest';
import { describeMismatch, findMismatch, type GradcheckResult, type Tensor } from '@normkit/tensor';

/** Asserts two tensors (or arrays) agree elementwise within atol + rtol * |expected|, naming the worst element. */
export function expectClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 1e-6): void {
  const mismatch = findMismatch(actual, expected, atol, rtol);
  if (mismatch) expect.fail(describeMismatch(mismatch, atol, rtol));
}

/** Asserts a gradcheck passed, printing the first failures when it did not. */
export function expectGradcheck(result: GradcheckResult): void {
  if (!result.ok) expect.fail(`gradcheck failed (max error ${result.maxError}): ${JSON.stringify(result.failures.slice(0, 5))}`);
}
