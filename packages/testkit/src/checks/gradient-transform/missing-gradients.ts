import type { GradientTransformPlugin } from '@normkit/tensor';
import { attempt, checkResult, type CheckResult } from '../../result';
import { GradientTransformHarness, type GradientTransformSuiteConfig } from './harness';

/**
 * Parameters without a gradient (frozen, or unused in this step) are skipped: `apply` does not
 * throw, leaves their gradient null, and the other gradients stay present and finite.
 */
export function checkMissingGradients(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new GradientTransformHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const entries = harness.entries(dtype);
      if (entries.length < 2) {
        failures.push(`${dtype}: give at least two entries to test a missing gradient`);
        return;
      }
      entries[0]!.parameter.grad = null;
      harness.create(dtype).apply(entries);
      if (entries[0]!.parameter.grad !== null) failures.push(`${dtype} ${entries[0]!.name}: a parameter without a gradient was given one`);
      for (const entry of entries.slice(1)) {
        if (!entry.parameter.grad) failures.push(`${dtype} ${entry.name}: lost its gradient`);
        else if (entry.parameter.grad.data.some((v) => !Number.isFinite(v))) failures.push(`${dtype} ${entry.name}: non-finite gradient`);
      }
    });
  }
  return checkResult('missing-gradients', failures, 'parameters without a gradient are skipped');
}
