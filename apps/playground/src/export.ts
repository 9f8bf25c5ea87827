// Results as files: JSON (configs, links and every event, to reload or analyse) and CSV (one tidy
// row per number, for a spreadsheet or pandas).
import { encodeConfig, type EvalEvent, type ExperimentConfig, type StepEvent } from '@normkit/experiments';
import { flattenNumbers, type RunHistory } from './series';

export interface ExportRun {
  label: string;
  description: string;
  config: ExperimentConfig;
  status: string;
  history: RunHistory;
}

export interface JsonExport {
  format: 'normkit-playground-results';
  version: 1;
  exportedAt: string;
  /** The page's link: opens the same configurations. */
  url: string;
  runs: Array<{
    label: string;
    description: string;
    status: string;
    /** The engine's shareable string for this run's config. */
    encodedConfig: string;
    config: ExperimentConfig;
    steps: StepEvent[];
    evals: EvalEvent[];
    end: RunHistory['end'];
  }>;
}

/** Every run's config, link string and full event history as one JSON document. */
export function resultsToJson(runs: readonly ExportRun[], url: string, now = new Date()): string {
  const document: JsonExport = {
    format: 'normkit-playground-results',
    version: 1,
    exportedAt: now.toISOString(),
    url,
    runs: runs.map((run) => ({
      label: run.label,
      description: run.description,
      status: run.status,
      encodedConfig: encodeConfig(run.config),
      config: run.config,
      steps: run.history.steps,
      evals: run.history.evals,
      end: run.history.end,
    })),
  };
  return JSON.stringify(document, null, 1);
}

export const CSV_HEADER = ['run', 'kind', 'step', 'epoch', 'metric', 'value'] as const;

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The numbers of one evaluation as [metric, value] pairs, named by their path in the event. */
export function evalMetrics(event: EvalEvent): Array<[string, number]> {
  const rows: Array<[string, number]> = [];
  for (const split of ['train', 'test'] as const) {
    rows.push([`${split}.loss`, event[split].loss], [`${split}.accuracy`, event[split].accuracy]);
    for (const [key, value] of Object.entries(event[split].extra)) rows.push([`${split}.${key}`, value]);
  }
  rows.push(['gap.loss', event.gap.loss], ['gap.accuracy', event.gap.accuracy], ['elapsedMs', event.elapsedMs]);
  for (const [layer, stats] of Object.entries(event.activations)) rows.push([`activations.${layer}.mean`, stats.mean], [`activations.${layer}.std`, stats.std]);
  for (const [layer, norm] of Object.entries(event.gradNorms)) rows.push([`gradNorms.${layer}`, norm]);
  for (const [module, stats] of Object.entries(event.probes.runningStats)) {
    stats.mean.forEach((v, i) => rows.push([`runningStats.${module}.mean.${i}`, v]));
    stats.var.forEach((v, i) => rows.push([`runningStats.${module}.var.${i}`, v]));
  }
  for (const [module, value] of Object.entries(event.probes.importance)) {
    for (const [path, v] of flattenNumbers(value, `importance.${module}`)) rows.push([path, v]);
  }
  for (const [module, v] of Object.entries(event.probes.sigma)) rows.push([`sigma.${module}`, v]);
  for (const [module, v] of Object.entries(event.probes.maxLogit)) rows.push([`maxLogit.${module}`, v]);
  return rows;
}

/**
 * Long-format CSV: `run,kind,step,epoch,metric,value`, one row per number of every step
 * (loss, accuracy, lr, reported metrics) and evaluation (see `evalMetrics`), then a row for how
 * the run ended (its value is the reason or message for diverged and failed runs).
 */
export function resultsToCsv(runs: readonly ExportRun[]): string {
  const lines = [CSV_HEADER.join(',')];
  const row = (...fields: Array<string | number | null>): void => {
    lines.push(fields.map(csvField).join(','));
  };
  for (const run of runs) {
    for (const event of run.history.steps) {
      row(run.label, 'step', event.step, event.epoch, 'loss', event.loss);
      if (event.accuracy !== null) row(run.label, 'step', event.step, event.epoch, 'accuracy', event.accuracy);
      row(run.label, 'step', event.step, event.epoch, 'lr', event.lr);
      for (const [key, value] of Object.entries(event.metrics)) row(run.label, 'step', event.step, event.epoch, key, value);
    }
    for (const event of run.history.evals) {
      for (const [metric, value] of evalMetrics(event)) row(run.label, 'eval', event.step, event.epoch, metric, value);
    }
    const end = run.history.end;
    if (end?.type === 'done') row(run.label, 'done', end.step, null, 'elapsedMs', end.elapsedMs);
    if (end?.type === 'diverged') row(run.label, 'diverged', end.step, null, 'reason', end.reason);
    if (end?.type === 'failed') row(run.label, 'failed', end.step, null, end.error.name, end.error.message);
  }
  return lines.join('\n') + '\n';
}
