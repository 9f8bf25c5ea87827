import type { GradientTransformPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, firstDifference, type CheckResult } from '../../result';
import { GradientTransformHarness, type GradientTransformSuiteConfig } from './harness';

/** Two transforms built with the same options, applied to equal entries, give bit-identical gradients and equal reports. */
export function checkDeterministic(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new GradientTransformHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const first = harness.entries(dtype);
      const second = harness.entries(dtype);
      const reportA = harness.create(dtype).apply(first);
      const reportB = harness.create(dtype).apply(second);
      first.forEach((entry, i) => {
        const a = entry.parameter.grad?.data ?? [];
        const b = second[i]!.parameter.grad?.data ?? [];
        const index = firstDifference(a, b);
        if (index !== -1) failures.push(`${dtype} ${entry.name}: gradients differ between two equal runs (${describeDifference(index, a, b)})`);
      });
      if (JSON.stringify(reportA ?? null) !== JSON.stringify(reportB ?? null)) failures.push(`${dtype}: reports differ: ${JSON.stringify(reportA)} vs ${JSON.stringify(reportB)}`);
    });
  }
  return checkResult('deterministic', failures, 'equal inputs give bit-identical gradients and reports');
}
