import { expect } from 'vitest';
import type { GradcheckResult, Tensor } from '@normkit/tensor';

/** Asserts two tensors (or arrays) agree elementwise within atol + rtol * |expected|, naming the worst element. */
export function expectClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 1e-6): void {
  const a = 'data' in actual ? actual.data : actual;
  const e = 'data' in expected ? expected.data : expected;
  expect(a.length, 'element count').toBe(e.length);
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < a.length; i++) {
    const error = Math.abs(a[i]! - e[i]!) - rtol * Math.abs(e[i]!);
    if (!(error <= atol) && (worstIndex === -1 || error > worst || Number.isNaN(error))) {
      worst = error;
      worstIndex = i;
    }
  }
  if (worstIndex >= 0) {
    expect.fail(`element ${worstIndex}: got ${a[worstIndex]}, expected ${e[worstIndex]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** Asserts a gradcheck passed, printing the first failures when it did not. */
export function expectGradcheck(result: GradcheckResult): void {
  if (!result.ok) {
    expect.fail(`gradcheck failed (max error ${result.maxError}): ${JSON.stringify(result.failures.slice(0, 5))}`);
  }
}
