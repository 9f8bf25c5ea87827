import { expect } from 'vitest';
import { describeMismatch, findMismatch } from './compare';
import type { GradcheckResult } from './gradcheck';
import type { Tensor } from './tensor';

// The package's own tests use these; @normkit/testkit exports the same assertions to plugin authors.

export function expectClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 1e-6): void {
  const mismatch = findMismatch(actual, expected, atol, rtol);
  if (mismatch) expect.fail(describeMismatch(mismatch, atol, rtol));
}

export function expectGradcheck(result: GradcheckResult): void {
  if (!result.ok) expect.fail(`gradcheck failed (max error ${result.maxError}): ${JSON.stringify(result.failures.slice(0, 5))}`);
}
