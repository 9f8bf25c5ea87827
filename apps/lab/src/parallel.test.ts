import { presets, type PresetProgress, type PresetResult } from '@normkit/experiments';
import { loadMnist } from '@normkit/experiments/mnist';
import { describe, expect, it } from 'vitest';
import { runLab } from './lab';
import { OrderedRelay, defaultJobs, runLabParallel, threadsPerJob } from './parallel';
import { registerLabPlugins } from './plugins';

describe('OrderedRelay', () => {
  it('delivers events and results in job order whatever order they come in', () => {
    const log: string[] = [];
    const relay = new OrderedRelay<string, string>(3, (i, e) => log.push(`${i}:${e}`), (i, r) => log.push(`${i}=${r}`));
    relay.event(2, 'c1');
    relay.event(0, 'a1');
    relay.event(1, 'b1');
    relay.result(2, 'C');
    relay.event(0, 'a2');
    expect(log).toEqual(['0:a1', '0:a2']);
    relay.result(1, 'B');
    expect(relay.done).toBe(false);
    relay.event(0, 'a3');
    relay.result(0, 'A');
    expect(log).toEqual(['0:a1', '0:a2', '0:a3', '0=A', '1:b1', '1=B', '2:c1', '2=C']);
    expect(relay.done).toBe(true);
  });

  it('passes the head job\'s events on live, and a later job\'s once it becomes the head', () => {
    const log: string[] = [];
    const relay = new OrderedRelay<string, string>(2, (i, e) => log.push(`${i}:${e}`), (i, r) => log.push(`${i}=${r}`));
    relay.event(1, 'b1');
    relay.result(0, 'A');
    expect(log).toEqual(['0=A', '1:b1']);
    relay.event(1, 'b2');
    expect(log).toEqual(['0=A', '1:b1', '1:b2']);
  });

  it('refuses a second result and a job index out of range', () => {
    const relay = new OrderedRelay<string, string>(2, () => undefined, () => undefined);
    relay.result(1, 'B');
    expect(() => relay.result(1, 'B')).toThrow('OrderedRelay.result: expected one result per job, got a second for job 1');
    expect(() => relay.event(2, 'x')).toThrow('OrderedRelay: expected a job index in [0, 2), got 2');
    expect(() => relay.result(-1, 'x')).toThrow('got -1');
  });
});

describe('jobs and threads', () => {
  it('runs one experiment per core, and splits the cores between jobs', () => {
    expect(defaultJobs(190, 2)).toBe(2);
    expect(defaultJobs(1, 8)).toBe(1);
    expect(defaultJobs(0, 8)).toBe(1);
    expect(threadsPerJob(2, 2)).toBe(1);
    expect(threadsPerJob(1, 2)).toBe(2);
    expect(threadsPerJob(2, 8)).toBe(4);
    expect(threadsPerJob(3, 2)).toBe(1);
  });
});

/** The pool's worker from the TypeScript sources (the lab runs `dist/lab-worker.js`). */
const fromSources = { workerUrl: new URL('./__fixtures__/lab-worker-source.mjs', import.meta.url), execArgv: ['--conditions=source'] };

/** A result without what only the clock decides (runtimes, elapsed times, the run tables' 'ms' column). */
function deterministicPart(result: PresetResult): unknown {
  const untimed = JSON.parse(JSON.stringify(result, (key, value: unknown) => (/(runtimeMs|elapsedMs)$/i.test(key) ? 0 : value))) as PresetResult;
  for (const table of [untimed.table, ...untimed.tables.map((t) => t.table)]) {
    const ms = table ? table.columns.indexOf('ms') : -1;
    if (ms >= 0) for (const row of table!.rows) row[ms] = 0;
  }
  return untimed;
}

/** A progress event without its timings. */
function eventKey(event: PresetProgress, index: number): string {
  return `${index} ${JSON.stringify(event, (key, value: unknown) => (/ElapsedMs$|^elapsedMs$/.test(key) ? 0 : value))}`;
}

// Two cheap reduced presets (MLPs on MNIST, Transformers) on two worker threads from the sources (tsx),
// against the sequential runLab in this process: same results, same events in the same order.
describe('runLabParallel', () => {
  const chosen = ['weight-norm-conditioning', 'qk-norm-logits'].map((name) => presets.find((p) => p.name === name)!);

  it('gives the sequential run\'s results and events, in report order, from two workers', async () => {
    const plugins = registerLabPlugins();
    const mnist = await loadMnist();
    const environment = { node: process.version, platform: 'test', arch: 'test', cpu: 'test', cpuCount: 1, plugins };
    const sequentialEvents: string[] = [];
    const sequential = runLab({
      presets: chosen, mode: 'reduced', resources: { mnist }, environment,
      onProgress: (event, position) => {
        if (event.type !== 'run-progress') sequentialEvents.push(eventKey(event, position.index));
      },
    });
    const parallelEvents: string[] = [];
    const results: string[] = [];
    const parallel = await runLabParallel({
      presets: chosen, mode: 'reduced', resources: { mnist }, environment, jobs: 2, threads: 1,
      ...fromSources,
      onProgress: (event, position) => {
        if (event.type !== 'run-progress') parallelEvents.push(eventKey(event, position.index));
      },
      onResult: (result, position) => results.push(`${position.index} ${result.name}`),
    });
    expect(results).toEqual(['0 weight-norm-conditioning', '1 qk-norm-logits']);
    expect(parallel.claims.map((c) => c.verdict)).not.toContain('error');
    expect(parallel.claims.map(deterministicPart)).toEqual(sequential.claims.map(deterministicPart));
    expect(parallelEvents).toEqual(sequentialEvents);
    expect(parallel.summary).toEqual(sequential.summary);
  }, 180_000);

  it('trains a run shared by two experiments once per seed, and gives each the result it has alone, in the sequential order', async () => {
    const plugins = registerLabPlugins();
    const environment = { node: process.version, platform: 'test', arch: 'test', cpu: 'test', cpuCount: 1, plugins };
    // Both train the same Pre-LN and Post-LN runs at each seed (their subjects differ); the sequential runLab trains each preset's own.
    const sharing = ['output-norm-deep', 'peri-ln-deep'].map((name) => presets.find((p) => p.name === name)!);
    const sequentialEvents: string[] = [];
    const sequential = runLab({
      presets: sharing, mode: 'reduced', environment,
      onProgress: (event, position) => {
        if (event.type !== 'run-progress') sequentialEvents.push(eventKey(event, position.index));
      },
    });
    const parallelEvents: string[] = [];
    const scheduled: string[][] = [];
    const runs = { trained: 0, shared: 0 };
    const parallel = await runLabParallel({
      presets: sharing, mode: 'reduced', environment, jobs: 2, threads: 1,
      ...fromSources,
      onSchedule: (jobs) => scheduled.push(...jobs.map((job) => job.units.map((u) => `${u.preset}@${u.seed}`))),
      onJobEnd: (_job, counts) => {
        runs.trained += counts.trained;
        runs.shared += counts.shared;
      },
      onProgress: (event, position) => {
        if (event.type !== 'run-progress') parallelEvents.push(eventKey(event, position.index));
      },
    });
    expect(scheduled).toEqual([['output-norm-deep@0', 'peri-ln-deep@0'], ['output-norm-deep@1', 'peri-ln-deep@1']]);
    // 2 presets x 2 seeds x 3 runs: Pre-LN and Post-LN trained once per seed.
    expect(runs).toEqual({ trained: 8, shared: 4 });
    expect(parallel.claims.map((c) => c.verdict)).not.toContain('error');
    expect(parallel.claims.map(deterministicPart)).toEqual(sequential.claims.map(deterministicPart));
    expect(parallelEvents).toEqual(sequentialEvents);
  }, 180_000);

  it('reports a job that throws in its worker as an error of its experiment and finishes the others', async () => {
    const plugins = registerLabPlugins();
    const results: PresetResult[] = [];
    const report = await runLabParallel({
      presets: [chosen[0]!, { ...chosen[1]!, name: 'crash-the-worker' }], mode: 'reduced', jobs: 2, threads: 1,
      environment: { node: process.version, platform: 'test', arch: 'test', cpu: 'test', cpuCount: 1, plugins },
      ...fromSources,
      onResult: (result) => results.push(result),
    });
    expect(report.claims.map((c) => c.name)).toEqual(['weight-norm-conditioning', 'crash-the-worker']);
    // No MNIST given: the other experiment is unavailable, and still reported.
    expect(report.claims[0]!.verdict).toBe('unavailable');
    expect(report.claims[1]!.verdict).toBe('error');
    expect(report.claims[1]!.reason).toMatch(/^its lab worker threw \w*Error: .*expected a registered preset name/);
    expect(results.map((r) => r.name)).toEqual(['weight-norm-conditioning', 'crash-the-worker']);
  }, 120_000);
});
