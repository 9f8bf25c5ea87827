import type { GradientTransformPlugin } from '@normkit/tensor';
import type { CheckResult } from '../../result';
import { describeChecks, runPlanned, type PlannedCheck } from '../describe';
import { checkDeterministic } from './deterministic';
import { checkGradientTransformFinite } from './finite';
import { checkGradientsOnly } from './gradients-only';
import { GradientTransformHarness, type GradientTransformCheckName, type GradientTransformSuiteConfig } from './harness';
import { checkIdempotent } from './idempotent';
import { checkMissingGradients } from './missing-gradients';
import { checkReport } from './report';

/** The checks `describeGradientTransform` runs, in order (`idempotent` only when declared). */
export function planGradientTransformChecks(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): PlannedCheck<GradientTransformCheckName>[] {
  // Registers the plugin in the harness's own registry: a plugin `register` refuses fails here, once.
  new GradientTransformHarness(plugin, config);
  const planned: [GradientTransformCheckName, string, (p: GradientTransformPlugin, c: GradientTransformSuiteConfig) => CheckResult][] = [
    ['gradients-only', 'changes only gradients, keeping shape, dtype and finiteness', checkGradientsOnly],
    ['deterministic', 'equal inputs give bit-identical gradients and reports', checkDeterministic],
    ['missing-gradients', 'parameters without a gradient are skipped', checkMissingGradients],
    ['finite', 'finite gradients for zero, huge and tiny inputs', checkGradientTransformFinite],
    ['report', 'the report is flat and finite', checkReport],
  ];
  if (config.idempotent) planned.push(['idempotent', 'applying twice equals applying once', checkIdempotent]);
  return planned.map(([name, title, check]) => ({ name, title, skipped: config.skip?.[name], run: () => check(plugin, config) }));
}

/** Runs every applicable, non-skipped check and returns the results (no vitest needed). */
export function runGradientTransformChecks(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig): CheckResult[] {
  return runPlanned(planGradientTransformChecks(plugin, config));
}

/**
 * Generates a vitest suite for a gradient-transform plugin (clipping, AGC, ...): it changes
 * gradients only, deterministically, skips parameters without gradients, stays finite on extreme
 * inputs, reports flat values, and is idempotent when declared.
 *
 * @example
 * describeGradientTransform(clipGradNormPlugin, { options: { maxNorm: 1 }, idempotent: true });
 */
export function describeGradientTransform(plugin: GradientTransformPlugin, config: GradientTransformSuiteConfig = {}): void {
  describeChecks(`gradient-transform plugin "${plugin.name}" (@normkit/testkit)`, () => planGradientTransformChecks(plugin, config));
}
