import type { GradientTransformPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, firstDifference, firstNonFinite, formatShapeList, type CheckResult } from '../../result';
import { GradientTransformHarness, type GradientTransformSuiteConfig } from './harness';

/**
 * `apply` changes gradients only: every parameter's values stay bit-identical, and every gradient
 * keeps its shape and dtype and stays finite.
 */
export function checkGradientsOnly(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new GradientTransformHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    attempt(failures, dtype, () => {
      const entries = harness.entries(dtype);
      const values = entries.map((e) => e.parameter.data.slice());
      harness.create(dtype).apply(entries);
      entries.forEach((entry, i) => {
        const label = `${dtype} ${entry.name}`;
        const index = firstDifference(entry.parameter.data, values[i]!);
        if (index !== -1) failures.push(`${label}: apply changed the parameter's value (${describeDifference(index, entry.parameter.data, values[i]!)})`);
        const grad = entry.parameter.grad;
        if (!grad) {
          failures.push(`${label}: apply removed the gradient`);
          return;
        }
        if (formatShapeList(grad.shape) !== formatShapeList(entry.parameter.shape)) failures.push(`${label}: gradient shape ${formatShapeList(grad.shape)}, expected ${formatShapeList(entry.parameter.shape)}`);
        if (grad.dtype !== dtype) failures.push(`${label}: gradient dtype ${grad.dtype}, expected ${dtype}`);
        const bad = firstNonFinite(grad.data);
        if (bad !== -1) failures.push(`${label}: gradient[${bad}] = ${grad.data[bad]}`);
      });
    });
  }
  return checkResult('gradients-only', failures, 'only gradients change, keeping shape, dtype and finiteness');
}
