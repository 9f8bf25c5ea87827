// Runs claim presets and assembles the lab report (the JSON the HTML is made from).
import type { SeedPass } from './cli';
import type { TorchSection } from './torch-replicate';
import { presetSeeds, runPreset, type ClaimPreset, type ExperimentResources, type PresetMode, type PresetProgress, type PresetResult, type Verdict } from '@normkit/experiments';

/** What `lab-report/report.json` holds. */
export interface LabReport {
  generator: '@normkit/lab';
  /** 2: several seeds per claim (`seeds`, `perSeed`, per-seed criteria). */
  formatVersion: 2;
  createdAt: string;
  mode: PresetMode;
  /** Which seeds ran: every declared seed, one (`--quick`), or the reduced pass's two. */
  seedPass: SeedPass;
  environment: LabEnvironment;
  /** Wall time of the whole lab run. */
  runtimeMs: number;
  /** How many claims got each verdict. */
  summary: Partial<Record<Verdict, number>>;
  claims: PresetResult[];
  /** With `--torch`: the presets replicated in PyTorch (normkit_torch) from the same declared configuration, side by side. */
  torch?: TorchSection;
}

export interface LabEnvironment {
  node: string;
  platform: string;
  arch: string;
  cpu: string;
  cpuCount: number;
  /** The registered plugins the run could use, by name. */
  plugins: string[];
}

export interface RunLabOptions {
  presets: readonly ClaimPreset[];
  mode: PresetMode;
  /** Default: 'all' in full mode, 'reduced' in reduced mode. */
  seedPass?: SeedPass;
  resources?: ExperimentResources;
  environment: LabEnvironment;
  /** Receives every preset's progress, with the preset's position in the run (in a parallel run also how many of its seeds are done). */
  onProgress?: (event: PresetProgress, position: { index: number; count: number; seeds?: { done: number; total: number } }) => void;
  /** Receives each experiment's result as soon as it is done. */
  onResult?: (result: PresetResult, position: { index: number; count: number }) => void;
  now?: () => number;
  /** Date of the report (default now). */
  date?: Date;
}

/** Runs the presets one after another and returns the report. Never throws for a failing experiment (see `runPreset`). */
export function runLab(options: RunLabOptions): LabReport {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const claims: PresetResult[] = [];
  const seedPass = options.seedPass ?? (options.mode === 'reduced' ? 'reduced' : 'all');
  options.presets.forEach((preset, index) => {
    const position = { index, count: options.presets.length };
    const result = runPreset(preset, {
      mode: options.mode,
      seeds: presetSeeds(preset, seedPass),
      resources: options.resources ?? {},
      now,
      onProgress: (event) => options.onProgress?.(event, position),
    });
    claims.push(result);
    options.onResult?.(result, position);
  });
  return assembleReport(options, seedPass, claims, now() - started);
}

/** The report of finished claims (in report order), as `runLab` and `runLabParallel` return it. */
export function assembleReport(options: Pick<RunLabOptions, 'mode' | 'environment' | 'date'>, seedPass: SeedPass, claims: PresetResult[], runtimeMs: number): LabReport {
  const summary: Partial<Record<Verdict, number>> = {};
  for (const claim of claims) summary[claim.verdict] = (summary[claim.verdict] ?? 0) + 1;
  return {
    generator: '@normkit/lab',
    formatVersion: 2,
    createdAt: (options.date ?? new Date()).toISOString(),
    mode: options.mode,
    seedPass,
    environment: options.environment,
    runtimeMs,
    summary,
    claims,
  };
}

/**
 * The report as JSON text. JSON has no NaN or Infinity: they are written as null (a value that
 * could not be measured, or a run that diverged), which the HTML shows as "n/a".
 */
export function reportJson(report: LabReport): string {
  return JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2);
}
