// Progress lines for the terminal: which experiment, which configuration, steps, a bar and an ETA.
import { formatValue, type PresetProgress, type PresetResult } from '@normkit/experiments';

/** "12s", "1m05s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** A bar of `width` cells, `fraction` of them full. */
export function progressBar(fraction: number, width = 20): string {
  const full = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

/** Remaining time from the time spent on a fraction of the work (unknown before any progress). */
export function eta(elapsedMs: number, fraction: number): number {
  return fraction > 0 ? (elapsedMs * (1 - fraction)) / fraction : Number.NaN;
}

/** Where the lab stands: the experiment's place in the report and, in a parallel run, how many of its seeds are done (they run as separate jobs). */
export interface LabPosition {
  index: number;
  count: number;
  seeds?: { done: number; total: number };
}


/**
 * The progress line of a running configuration:
 * `[3/9] batch-norm-learning-rate  run 4/18 BatchNorm, lr 0.08  [#####-----]  150/300 steps  1s, ETA 1s (experiment ~25s)`.
 * The experiment ETA counts steps, and steps differ in cost between configurations, hence '~'. In a
 * parallel run an experiment's seeds are separate jobs, running at once or out of order, so instead of
 * an experiment ETA the line says how many of its seeds are done: `(2/5 seeds done)`.
 */
export function formatRunProgress(event: Extract<PresetProgress, { type: 'run-progress' }>, position: LabPosition): string {
  const runFraction = event.step / event.steps;
  const presetFraction = event.presetStep / event.totalSteps;
  return (
    `[${position.index + 1}/${position.count}] ${event.preset}  run ${event.index + 1}/${event.runs} ${event.label}  ${progressBar(runFraction)}  ` +
    `${event.step}/${event.steps} steps  ${formatDuration(event.runElapsedMs)}, ETA ${formatDuration(eta(event.runElapsedMs, runFraction))} ` +
    (position.seeds && position.seeds.total > 1
      ? `(${position.seeds.done}/${position.seeds.total} seeds done)`
      : `(experiment ~${formatDuration(eta(event.presetElapsedMs, presetFraction))})`)
  );
}

/**
 * The closing lines of an experiment: verdict, reason, and each criterion's number against its
 * threshold; over several seeds the number is the median, followed by on how many seeds it held and each seed's value.
 */
export function formatResult(result: PresetResult): string[] {
  const lines = [`  => ${result.verdict.toUpperCase()} (${formatDuration(result.runtimeMs)}): ${result.reason}`];
  const many = result.seeds.length > 1;
  for (const c of result.criteria) {
    const mark = c.passed === null ? '?' : c.passed ? 'ok' : 'NO';
    const seeds = many ? `; held on ${c.heldOn}/${c.perSeed.length} seeds: ${c.perSeed.map((v) => formatValue(v)).join(', ')}` : '';
    lines.push(`     ${mark.padEnd(2)} ${c.kind === 'control' ? '[control] ' : ''}${c.metric} = ${many ? 'median ' : ''}${formatValue(c.measured)} (needs ${c.comparison} ${formatValue(c.threshold)}${seeds})`);
  }
  return lines;
}

/**
 * Prints progress: on a terminal one line rewritten in place (at most every 250 ms, as the runner
 * emits them), otherwise (a pipe, CI logs) a line every `pipeIntervalMs` per configuration plus
 * its start and end, so logs stay readable.
 */
export class ProgressPrinter {
  private lastPipeLine = 0;
  private lineOpen = false;
  private openLength = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly isTTY: boolean,
    private readonly pipeIntervalMs = 5000,
  ) {}

  private endLine(): void {
    if (this.lineOpen) this.write('\n');
    this.lineOpen = false;
    this.openLength = 0;
  }

  /** A finished line; on a terminal it replaces the progress line being rewritten. */
  private line(text: string): void {
    if (this.lineOpen && this.isTTY) {
      this.write(`\r${text.padEnd(this.openLength)}\n`);
      this.lineOpen = false;
      return;
    }
    this.endLine();
    this.write(`${text}\n`);
  }

  /** Rewrites the open terminal line. */
  private rewrite(text: string): void {
    const columns = process.stdout.columns ?? 160;
    const shown = text.slice(0, columns - 1);
    this.write(`\r${shown.padEnd(this.openLength)}`);
    this.openLength = shown.length;
    this.lineOpen = true;
  }

  handle(event: PresetProgress, position: LabPosition): void {
    switch (event.type) {
      case 'preset-start':
        this.line(`\n[${position.index + 1}/${position.count}] ${event.preset}: ${event.title} (${event.runs} configurations, ${event.totalSteps} steps)`);
        break;
      case 'run-start':
        if (!this.isTTY) this.line(`  run ${event.index + 1}/${event.runs} ${event.label}: ${event.steps} steps`);
        this.lastPipeLine = 0;
        break;
      case 'run-progress': {
        const text = formatRunProgress(event, position);
        if (this.isTTY) {
          this.rewrite(text);
        } else if (event.runElapsedMs - this.lastPipeLine >= this.pipeIntervalMs) {
          this.lastPipeLine = event.runElapsedMs;
          this.line(`    ${text}`);
        }
        break;
      }
      case 'run-end':
        this.line(`  run ${event.index + 1} ${event.label}: ${event.status}${event.reason ? ` (${event.reason})` : ''} in ${formatDuration(event.elapsedMs)}${position.seeds && position.seeds.total > 1 ? ` (${position.seeds.done}/${position.seeds.total} seeds done)` : ''}`);
        break;
      case 'analysis':
        if (this.isTTY) this.rewrite(`  analysis: ${event.label} ${progressBar(event.fraction)}`);
        break;
      case 'preset-end':
        this.endLine();
        break;
    }
  }
}
