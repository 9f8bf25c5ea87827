import type { NormalizerPlugin } from '@normkit/tensor';
import type { CheckResult } from '../../result';
import { describeChecks, runPlanned, type PlannedCheck } from '../describe';
import { checkBatchIndependence } from './batch-independence';
import { checkContext } from './context';
import { checkFinite } from './finite';
import { checkGradients } from './gradients';
import { NormalizerHarness, type NormalizerCheckName, type NormalizerSuiteConfig } from './harness';
import { checkInvariances } from './invariances';
import { checkShapeAndDType } from './shape-and-dtype';
import { checkStateDict } from './state-dict';
import { checkTrainEval } from './train-eval';

/**
 * The checks that apply to `plugin` under `config`, in order: the ones its traits call for
 * (invariances only when declared; context always: a plugin that takes no mask must refuse one).
 */
export function planNormalizerChecks(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): PlannedCheck<NormalizerCheckName>[] {
  const traits = new NormalizerHarness(plugin, config).traits;
  const planned: [NormalizerCheckName, string, (p: NormalizerPlugin, c: NormalizerSuiteConfig) => CheckResult][] = [
    ['shape-and-dtype', 'output keeps the input shape and dtype (float32 and float64, train and eval)', checkShapeAndDType],
    ['gradients', 'gradcheck in float64 w.r.t. the input and every parameter (train and eval)', checkGradients],
    ['train-eval', `eval is deterministic and stateless; training ${traits.hasRunningStats ? 'updates' : 'leaves'} the buffers`, checkTrainEval],
    [
      'batch-independence',
      traits.batchDependent ? 'training outputs depend on the batch, as declared' : 'changing one sample leaves the others bit-identical',
      checkBatchIndependence,
    ],
  ];
  if ((config.invariances ?? []).length > 0) {
    const list = config.invariances!.map((s) => `${s.transform} per ${s.per}`).join(', ');
    planned.push(['invariances', `output invariant to ${list}`, checkInvariances]);
  }
  planned.push(['state-dict', 'state-dict round trip is exact; a wrong shape is refused and changes nothing', checkStateDict]);
  const parts = [
    traits.needsCondition ? 'missing condition' : '',
    traits.needsLabels ? 'missing labels' : '',
  ].filter(Boolean);
  const title = [
    parts.length ? `${parts.join(' and ')} give a ContextError` : '',
    traits.acceptsMask ? 'a mask of ones equals no mask' : 'a mask is refused with a ContextError (acceptsMask: false)',
  ]
    .filter(Boolean)
    .join('; ');
  planned.push(['context', title, checkContext]);
  planned.push(['finite', 'finite outputs and gradients on constant, 1e4 and 1e-4 inputs', checkFinite]);
  return planned.map(([name, title, check]) => ({ name, title, skipped: config.skip?.[name], run: () => check(plugin, config) }));
}

/** Runs every applicable, non-skipped check and returns the results (no vitest needed). */
export function runNormalizerChecks(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult[] {
  return runPlanned(planNormalizerChecks(plugin, config));
}

/**
 * Generates a vitest suite that checks a normalizer plugin through its public interface and traits
 * only: shape and dtype, gradients, train/eval, batch (in)dependence, declared invariances,
 * state-dict loading, context handling and finiteness. Call it at the top level of a test file.
 *
 * @example
 * describeNormalizer(myNormPlugin, { slot: { numFeatures: 4 }, inputShapes: [[3, 4], [2, 5, 4]],
 *   invariances: [{ transform: 'shift', per: 'sample' }, { transform: 'scale', per: 'sample' }] });
 */
export function describeNormalizer(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): void {
  describeChecks(`normalizer plugin "${plugin.name}" (@normkit/testkit)`, () => planNormalizerChecks(plugin, config));
}
