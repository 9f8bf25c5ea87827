// The claims lab's presets (from the engine, the same ones `npm run lab` judges) as something to
// load into the playground: a preset's configurations become runs, four at most at a time.
import { listBlockWrappers, presets, resolveConfig, type ClaimPreset, type ExperimentConfig, type PresetRun } from '@normkit/experiments';
import { has } from '@normkit/tensor';
import { MAX_RUNS } from './drafts';

/** The resources a run's worker loads by itself (so a preset needing them is available here). */
const LOADED_BY_WORKERS = new Set<string>(['mnist']);
/** Resources only the lab's analysis uses (the data-parallel comparison); the playground runs the configurations, not the analysis. */
const ANALYSIS_ONLY = new Set<string>(['dataParallel']);

export function listPresets(): readonly ClaimPreset[] {
  return presets;
}

/** The full-size runs of a preset, as the lab plans them. */
export function presetRuns(preset: ClaimPreset): PresetRun[] {
  return preset.plan('full').runs;
}

/** What this page lacks to run the preset (unregistered plugins or block wrappers); empty when it can. */
export function presetMissing(preset: ClaimPreset): string[] {
  const wrappers = new Set(listBlockWrappers().map((w) => w.name));
  return [
    ...preset.requires.plugins.filter((name) => !has(name)).map((name) => `plugin "${name}"`),
    ...(preset.requires.blockWrappers ?? []).filter((name) => !wrappers.has(name)).map((name) => `block wrapper "${name}"`),
    ...(preset.requires.resources ?? []).filter((name) => !LOADED_BY_WORKERS.has(name) && !ANALYSIS_ONLY.has(name)).map((name) => `resource "${name}"`),
  ];
}

/**
 * The runs shown first: the claim's subjects and its positive controls before references, in the
 * lab's order, at most four (e.g. BatchNorm and GroupNorm at batch 2 beside both at batch 32).
 */
export function defaultPresetSelection(preset: ClaimPreset): string[] {
  const runs = presetRuns(preset);
  const ranked = [...runs.filter((r) => r.role !== 'reference'), ...runs.filter((r) => r.role === 'reference')];
  const chosen = new Set(ranked.slice(0, MAX_RUNS).map((r) => r.id));
  return runs.filter((r) => chosen.has(r.id)).map((r) => r.id);
}

/** The resolved configs of the chosen runs, in the lab's order. */
export function presetConfigs(preset: ClaimPreset, ids: readonly string[]): ExperimentConfig[] {
  return presetRuns(preset)
    .filter((run) => ids.includes(run.id))
    .slice(0, MAX_RUNS)
    .map((run) => resolveConfig(run.config));
}
