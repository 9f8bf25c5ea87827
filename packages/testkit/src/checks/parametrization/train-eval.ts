import type { WeightParametrizationPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, diffSnapshots, firstDifference, snapshotState, type CheckResult } from '../../result';
import { upstream } from '../shared';
import { ParametrizationHarness, type ParametrizationSuiteConfig } from './harness';

/**
 * Reading the tensor in eval mode is deterministic (bit-identical twice) and changes no parameter
 * or buffer, even after a backward pass; training reads never change a parameter (only buffers,
 * such as spectral norm's u and v, may move).
 */
export function checkParametrizationTrainEval(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new ParametrizationHarness(plugin, config);
  for (const dtype of harness.dtypes) {
    attempt(failures, `${dtype} eval`, () => {
      const target = harness.parametrize(dtype);
      harness.warmUp(target);
      target.module.eval();
      const before = snapshotState(target.module);
      const first = target.read();
      const second = target.read();
      const index = firstDifference(first.data, second.data);
      if (index !== -1) failures.push(`${dtype} eval: two reads differ (${describeDifference(index, first.data, second.data)})`);
      if (second.requiresGrad) second.backward(upstream(second.size));
      for (const change of diffSnapshots(before, snapshotState(target.module))) failures.push(`${dtype} eval: reading changed state: ${change}`);
    });
    attempt(failures, `${dtype} train`, () => {
      const target = harness.parametrize(dtype);
      const before = snapshotState(target.module);
      harness.warmUp(target);
      for (const change of diffSnapshots(before, snapshotState(target.module)).filter((c) => c.startsWith('parameter '))) {
        failures.push(`${dtype} train: a read changed a parameter: ${change}`);
      }
    });
  }
  return checkResult('train-eval', failures, 'eval reads deterministic and stateless; training reads change no parameter');
}
