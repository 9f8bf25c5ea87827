import type { WeightParametrizationPlugin } from '@normkit/tensor';
import type { CheckResult } from '../../result';
import { describeChecks, runPlanned, type PlannedCheck } from '../describe';
import { checkParametrizationFinite } from './finite';
import { checkParametrizationGradients } from './gradients';
import { ParametrizationHarness, type ParametrizationCheckName, type ParametrizationSuiteConfig } from './harness';
import { checkRegistration } from './registration';
import { checkRemoval } from './removal';
import { checkParametrizationStateDict } from './state-dict';
import { checkParametrizationTrainEval } from './train-eval';

/** The checks `describeParametrization` runs, in order. */
export function planParametrizationChecks(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): PlannedCheck<ParametrizationCheckName>[] {
  // Registers the plugin in the harness's own registry: a plugin `register` refuses fails here, once.
  new ParametrizationHarness(plugin, config);
  const planned: [ParametrizationCheckName, string, (p: WeightParametrizationPlugin, c: ParametrizationSuiteConfig) => CheckResult][] = [
    ['registration', `registers with PyTorch's state-dict keys, keeping shape and dtype${config.preservesValue ? ' and value' : ''}`, checkRegistration],
    ['gradients', 'gradcheck in float64 of the tensor w.r.t. its originals', checkParametrizationGradients],
    ['train-eval', 'eval reads are deterministic and stateless; training reads change no parameter', checkParametrizationTrainEval],
    ['state-dict', 'state-dict round trip is exact; a wrong shape is refused and changes nothing', checkParametrizationStateDict],
    ['removal', 'removal keeps the parametrized value as a plain tensor', checkRemoval],
    ['finite', 'finite values and gradients for zero, 1e4 and 1e-4 tensors', checkParametrizationFinite],
  ];
  return planned.map(([name, title, check]) => ({ name, title, skipped: config.skip?.[name], run: () => check(plugin, config) }));
}

/** Runs every non-skipped check and returns the results (no vitest needed). */
export function runParametrizationChecks(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult[] {
  return runPlanned(planParametrizationChecks(plugin, config));
}

/**
 * Generates a vitest suite for a weight-parametrization plugin, registered on a host module
 * through the core `registerParametrization`: registration, gradients, train/eval, state dict,
 * removal and finiteness.
 *
 * @example
 * describeParametrization(weightNormPlugin, {
 *   module: ({ dtype, generator }) => new Linear({ inFeatures: 3, outFeatures: 4, dtype, generator }),
 *   preservesValue: true,
 * });
 */
export function describeParametrization(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): void {
  describeChecks(`weight-parametrization plugin "${plugin.name}" (@normkit/testkit)`, () => planParametrizationChecks(plugin, config));
}
