import { presets, type PresetRun } from '@normkit/experiments';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerLabPlugins } from './plugins';
import { SECONDS_PER_SEED, scheduleJobs, type LabUnit } from './schedule';

beforeAll(() => registerLabPlugins());

function run(id: string, seed: number, lr = 0.01, extra: Partial<PresetRun> = {}): PresetRun {
  return {
    id, label: id, role: 'control', ...extra,
    config: { task: 'classification', dataset: { name: 'gaussians' }, model: { name: 'mlp' }, lr, steps: 3, seed },
  };
}

describe('scheduleJobs', () => {
  it('makes every seed a job, groups seeds sharing a run (transitively), and hands the longest out first', () => {
    const units: LabUnit[] = [
      { unit: 0, preset: 'a', seed: 0, runs: [run('x', 0), run('a', 0, 0.1)] },
      { unit: 1, preset: 'a', seed: 1, runs: [run('x', 1), run('a', 1, 0.1)] },
      { unit: 2, preset: 'b', seed: 0, runs: [run('x', 0), run('b', 0, 0.2)] },
      { unit: 3, preset: 'c', seed: 0, runs: [run('b', 0, 0.2)] },
      { unit: 4, preset: 'd', seed: 0, runs: [run('d', 0, 0.3)] },
      // Traced runs depend on more than their config: never grouped.
      { unit: 5, preset: 'e', seed: 1, runs: [run('x', 1, 0.01, { trace: { every: 1, read: () => ({}) } })] },
    ];
    const seconds: Record<string, number> = { a: 10, b: 4, c: 1, d: 7, e: 2 };
    const jobs = scheduleJobs(units, (p) => seconds[p]!);
    expect(jobs.map((j) => j.units.map((u) => u.unit))).toEqual([[0, 2, 3], [1], [4], [5]]);
    // a@0: 10 over 2 runs; b@0: its shared run counted once (2 of 4); c@0: its only run is b's (0).
    expect(jobs.map((j) => j.seconds)).toEqual([12, 10, 7, 2]);
  });

  it('has measured times for presets of the lab only (a renamed preset would silently fall back to the default)', () => {
    const names = new Set(presets.map((p) => p.name));
    expect(Object.keys(SECONDS_PER_SEED).filter((name) => !names.has(name))).toEqual([]);
    expect(Object.keys(SECONDS_PER_SEED)).toHaveLength(38);
  });
});
