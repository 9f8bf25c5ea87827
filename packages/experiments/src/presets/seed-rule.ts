// How a claim's verdict is decided over several seeds: a rule declared with the preset, applied per criterion.
import { median } from './analysis';
import { checkCriterion, formatValue, type ClaimPreset, type Criterion, type CriterionResult } from './preset';

/**
 * A rule over seeds, declared with the preset before anything runs:
 * - `{ kind: 'fraction', atLeast: 0.8 }`: a criterion holds when it held on at least that share of
 *   the seeds (a seed where it could not be measured counts as not held);
 * - `{ kind: 'median' }`: a criterion holds when the median of its per-seed values passes the threshold.
 * With one seed both rules give that seed's result.
 */
export type SeedRule = { kind: 'fraction'; atLeast: number } | { kind: 'median' };

/** The default rule: every criterion (controls included) holds on at least 80% of the seeds (4 of 5). */
export const MOST_SEEDS: SeedRule = { kind: 'fraction', atLeast: 0.8 };

/** The seeds of a full run when a preset declares none: five, so one unlucky seed cannot decide a verdict alone. */
export const DEFAULT_SEEDS: readonly number[] = [0, 1, 2, 3, 4];

/** The rule in words ('holds on at least 80% of seeds'). */
export function describeSeedRule(rule: SeedRule): string {
  return rule.kind === 'median' ? 'the median over seeds passes' : `holds on at least ${Math.round(rule.atLeast * 100)}% of seeds`;
}

/** A criterion over several seeds: the per-seed values and results beside the aggregate. */
export interface SeedCriterionResult extends CriterionResult {
  /** The value measured at each seed, in seed order (NaN: not measurable there). */
  perSeed: number[];
  /** On how many seeds it held. */
  heldOn: number;
  /** Smallest and largest finite per-seed value (NaN when none is finite). */
  spread: { min: number; max: number };
}

/**
 * Applies `rule` to one criterion's per-seed results (same criterion, one result per seed). The
 * aggregate's `measured` is the median of the finite per-seed values (what the summary shows);
 * `passed` follows the rule; null when no seed could measure it.
 *
 * @example
 * aggregateCriterion(c, [0.9, 0.7, 0.9, 0.9, 0.9].map((v) => checkCriterion(c, v)), MOST_SEEDS).passed; // true for c: >= 0.8
 */
export function aggregateCriterion(criterion: Criterion, perSeed: readonly CriterionResult[], rule: SeedRule): SeedCriterionResult {
  if (perSeed.length === 0) throw new RangeError(`aggregateCriterion: expected at least one seed's result for "${criterion.id}", got none`);
  const values = perSeed.map((r) => r.measured);
  const finite = values.filter((v) => Number.isFinite(v));
  const heldOn = perSeed.filter((r) => r.passed === true).length;
  const measurable = perSeed.filter((r) => r.passed !== null).length;
  const middle = median(finite);
  let passed: boolean | null;
  if (measurable === 0) passed = null;
  else if (rule.kind === 'median') passed = checkCriterion(criterion, middle).passed;
  else passed = heldOn / perSeed.length >= rule.atLeast - 1e-12;
  const spread = finite.length ? { min: Math.min(...finite), max: Math.max(...finite) } : { min: Number.NaN, max: Number.NaN };
  const detail = perSeed.length === 1
    ? perSeed[0]!.detail
    : `held on ${heldOn} of ${perSeed.length} seeds; per seed: ${values.map((v) => formatValue(v)).join(', ')}; median ${formatValue(middle)}, range ${formatValue(spread.min)} to ${formatValue(spread.max)}`;
  return { ...criterion, measured: middle, passed, ...(detail !== undefined ? { detail } : {}), perSeed: values, heldOn, spread };
}

/**
 * The seeds a lab pass runs: 'all' every declared seed (the full lab), 'one' the first (`--quick`),
 * 'reduced' the first two (CI's reduced forms: enough to exercise the rule over seeds).
 */
export function presetSeeds(preset: Pick<ClaimPreset, 'seed' | 'seeds'>, pass: 'all' | 'one' | 'reduced'): number[] {
  const all = [...(preset.seeds ?? DEFAULT_SEEDS)];
  if (all[0] !== preset.seed) throw new RangeError(`presetSeeds: expected the preset's seed ${preset.seed} to be the first of its seeds, got [${all.join(', ')}]`);
  return pass === 'all' ? all : pass === 'one' ? all.slice(0, 1) : all.slice(0, 2);
}
