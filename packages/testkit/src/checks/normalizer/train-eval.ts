import type { NormalizerPlugin } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, diffSnapshots, firstDifference, snapshotState, type CheckResult } from '../../result';
import { upstream } from '../shared';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';

/**
 * Training versus eval:
 * - eval is deterministic (the same input twice gives bit-identical outputs) and changes no
 *   parameter or buffer, even after a backward pass;
 * - training forwards update buffers (running statistics) exactly when the plugin declares
 *   `hasRunningStats`, and never change a parameter.
 */
export function checkTrainEval(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const { hasRunningStats } = harness.traits;
  for (const shape of config.inputShapes) {
    const dtype = 'float64';
    attempt(failures, harness.describeCase(shape, dtype, 'eval'), () => {
      const label = harness.describeCase(shape, dtype, 'eval');
      const generator = harness.generator(31);
      const module = harness.create(dtype);
      harness.warmUp(module, shape, dtype, generator);
      module.eval();
      const x = harness.input(shape, dtype, generator);
      const context = harness.context(shape, dtype, generator);
      const before = snapshotState(module);
      const first = module.forward(x, context);
      const second = module.forward(x, context);
      const index = firstDifference(first.data, second.data);
      if (index !== -1) failures.push(`${label}: two eval forwards of one input differ (${describeDifference(index, first.data, second.data)})`);
      if (second.requiresGrad) second.backward(upstream(second.size));
      for (const change of diffSnapshots(before, snapshotState(module))) failures.push(`${label}: eval changed state: ${change}`);
    });
    attempt(failures, harness.describeCase(shape, dtype, 'train'), () => {
      const label = harness.describeCase(shape, dtype, 'train');
      const generator = harness.generator(37);
      const module = harness.create(dtype);
      const before = snapshotState(module);
      harness.warmUp(module, shape, dtype, generator);
      const changes = diffSnapshots(before, snapshotState(module));
      const parameterChanges = changes.filter((c) => c.startsWith('parameter '));
      for (const change of parameterChanges) failures.push(`${label}: a training forward changed a parameter: ${change}`);
      const bufferChanges = changes.filter((c) => !c.startsWith('parameter '));
      if (hasRunningStats && bufferChanges.length === 0) {
        failures.push(`${label}: declares hasRunningStats but ${harness.trainingSteps} training forwards changed no buffer`);
      }
      if (!hasRunningStats) {
        for (const change of bufferChanges) failures.push(`${label}: declares hasRunningStats: false but a training forward changed ${change}`);
      }
    });
  }
  return checkResult(
    'train-eval',
    failures,
    `eval deterministic and stateless; training ${hasRunningStats ? 'updates running statistics' : 'changes no buffer'}`,
  );
}
