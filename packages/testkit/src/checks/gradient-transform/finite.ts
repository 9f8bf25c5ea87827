import type { GradientEntry, GradientTransformPlugin } from '@normkit/tensor';
import { attempt, checkResult, firstNonFinite, type CheckResult } from '../../result';
import { GradientTransformHarness, type GradientTransformSuiteConfig } from './harness';

const EXTREME: readonly { name: string; prepare: (entries: GradientEntry[]) => void }[] = [
  { name: 'zero gradients', prepare: (entries) => entries.forEach((e) => e.parameter.grad!.data.fill(0)) },
  { name: 'zero parameters', prepare: (entries) => entries.forEach((e) => e.parameter.data.fill(0)) },
  { name: 'large gradients (x 1e15)', prepare: (entries) => entries.forEach((e) => e.parameter.grad!.data.forEach((v, i, a) => (a[i] = v * 1e15))) },
  { name: 'tiny gradients (x 1e-15)', prepare: (entries) => entries.forEach((e) => e.parameter.grad!.data.forEach((v, i, a) => (a[i] = v * 1e-15))) },
];

/** Zero gradients, zero parameters, huge and tiny gradients: the transformed gradients stay finite. */
export function checkGradientTransformFinite(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new GradientTransformHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    for (const extreme of EXTREME) {
      const label = `${extreme.name}, ${dtype}`;
      attempt(failures, label, () => {
        const entries = harness.entries(dtype);
        extreme.prepare(entries);
        harness.create(dtype).apply(entries);
        for (const entry of entries) {
          const grad = entry.parameter.grad;
          const index = grad ? firstNonFinite(grad.data) : -1;
          if (index !== -1) failures.push(`${label}: ${entry.name} gradient[${index}] = ${grad!.data[index]}`);
        }
      });
    }
  }
  return checkResult('finite', failures, 'finite gradients for zero, huge and tiny inputs');
}
