import { describe, expect, it } from 'vitest';
import { ProgressPrinter, eta, formatDuration, formatRunProgress, progressBar } from './progress';

const progress = {
  type: 'run-progress' as const, preset: 'qk-norm-logits', run: 'qk-high', label: 'QK-norm, lr 0.03', index: 2, runs: 3,
  step: 150, steps: 300, presetStep: 750, totalSteps: 900, runElapsedMs: 4000, presetElapsedMs: 20_000,
};

describe('progress formatting', () => {
  it('bar, duration and ETA', () => {
    expect(progressBar(0.5, 10)).toBe('[#####-----]');
    expect(progressBar(2, 4)).toBe('[####]');
    expect(formatDuration(65_000)).toBe('1m05s');
    expect(formatDuration(4_400)).toBe('4s');
    expect(eta(4000, 0.5)).toBe(4000);
    expect(eta(1000, 0)).toBeNaN();
    expect(formatDuration(Number.NaN)).toBe('?');
  });

  it('a run line names the experiment, the configuration, the steps and both ETAs', () => {
    expect(formatRunProgress(progress, { index: 6, count: 9 })).toBe(
      '[7/9] qk-norm-logits  run 3/3 QK-norm, lr 0.03  [##########----------]  150/300 steps  4s, ETA 4s (experiment ~4s)',
    );
  });

  it('in a parallel run, the run line (instead of the experiment ETA) and a run\'s end say how many of the experiment\'s seeds are done', () => {
    const at = { index: 6, count: 9, seeds: { done: 2, total: 5 } };
    expect(formatRunProgress(progress, at)).toBe(
      '[7/9] qk-norm-logits  run 3/3 QK-norm, lr 0.03  [##########----------]  150/300 steps  4s, ETA 4s (2/5 seeds done)',
    );
    expect(formatRunProgress(progress, { ...at, seeds: { done: 0, total: 1 } })).toBe(formatRunProgress(progress, { index: 6, count: 9 }));
    const piped: string[] = [];
    new ProgressPrinter((t) => piped.push(t), false).handle({ type: 'run-end', preset: 'p', run: 'r', label: 'seed 3: L', index: 0, status: 'done', reason: null, elapsedMs: 9000 }, at);
    expect(piped.join('')).toBe('  run 1 seed 3: L: done in 9s (2/5 seeds done)\n');
  });

  it('on a pipe, prints starts, ends and a progress line at most every interval; on a terminal, rewrites one line', () => {
    const piped: string[] = [];
    const pipe = new ProgressPrinter((t) => piped.push(t), false, 5000);
    const at = { index: 0, count: 1 };
    pipe.handle({ type: 'run-start', preset: 'p', run: 'r', label: 'L', index: 0, runs: 1, steps: 300 }, at);
    pipe.handle({ ...progress, runElapsedMs: 1000 }, at);
    pipe.handle({ ...progress, runElapsedMs: 6000 }, at);
    pipe.handle({ ...progress, runElapsedMs: 7000 }, at);
    pipe.handle({ type: 'run-end', preset: 'p', run: 'r', label: 'L', index: 0, status: 'done', reason: null, elapsedMs: 9000 }, at);
    expect(piped.join('')).toBe(`  run 1/1 L: 300 steps\n    ${formatRunProgress({ ...progress, runElapsedMs: 6000 }, at)}\n  run 1 L: done in 9s\n`);

    const tty: string[] = [];
    const terminal = new ProgressPrinter((t) => tty.push(t), true);
    terminal.handle(progress, at);
    terminal.handle({ ...progress, step: 300 }, at);
    terminal.handle({ type: 'run-end', preset: 'p', run: 'r', label: 'L', index: 0, status: 'diverged', reason: 'the training loss is NaN', elapsedMs: 9000 }, at);
    expect(tty).toHaveLength(3);
    expect(tty.every((t) => t.startsWith('\r'))).toBe(true);
    expect(tty[2]!.trimEnd()).toBe('\r  run 1 L: diverged (the training loss is NaN) in 9s');
    expect(tty[2]!.endsWith('\n')).toBe(true);
  });
});
