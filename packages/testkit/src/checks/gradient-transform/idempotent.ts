import { describeMismatch, findMismatch, type GradientTransformPlugin } from '@normkit/tensor';
import { attempt, checkResult, type CheckResult } from '../../result';
import { GradientTransformHarness, type GradientTransformSuiteConfig } from './harness';

/** Declared idempotent (clipping): applying twice gives the gradients of applying once, within `tolerance.idempotent`. */
export function checkIdempotent(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new GradientTransformHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const once = harness.entries(dtype);
      const twice = harness.entries(dtype);
      harness.create(dtype).apply(once);
      const transform = harness.create(dtype);
      transform.apply(twice);
      transform.apply(twice);
      const { atol, rtol } = config.tolerance?.idempotent ?? { atol: 1e-8, rtol: 1e-5 };
      once.forEach((entry, i) => {
        const a = twice[i]!.parameter.grad;
        const b = entry.parameter.grad;
        if (!a || !b) return;
        const mismatch = findMismatch(a, b, atol, rtol);
        if (mismatch) failures.push(`${dtype} ${entry.name}: applying twice differs from once, ${describeMismatch(mismatch, atol, rtol)}`);
      });
    });
  }
  return checkResult('idempotent', failures, 'applying twice equals applying once');
}
