import type { GradientTransformPlugin } from '@normkit/tensor';
import { attempt, checkResult, type CheckResult } from '../../result';
import { GradientTransformHarness, type GradientTransformSuiteConfig } from './harness';

/**
 * `apply` returns nothing or a flat report of numbers, strings and booleans (what an optimizer's
 * step report and a training log can hold), with finite numbers; the transform has a name.
 */
export function checkReport(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new GradientTransformHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const transform = harness.create(dtype);
      if (typeof transform.name !== 'string' || transform.name.length === 0) failures.push(`${dtype}: the transform has no name`);
      const report: unknown = transform.apply(harness.entries(dtype));
      if (report === undefined) return;
      if (typeof report !== 'object' || report === null || Array.isArray(report)) {
        failures.push(`${dtype}: apply returned ${JSON.stringify(report)}, expected a flat object or nothing`);
        return;
      }
      for (const [key, value] of Object.entries(report)) {
        const ok = value === undefined || typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
        if (!ok) failures.push(`${dtype}: report.${key} = ${String(value)} is not a finite number, string or boolean`);
      }
    });
  }
  return checkResult('report', failures, 'the report is flat and finite');
}
