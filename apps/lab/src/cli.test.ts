import { presets } from '@normkit/experiments';
import { describe, expect, it } from 'vitest';
import { UsageError, parseArguments, selectPresets } from './cli';

describe('parseArguments', () => {
  it('reads --only (repeatable, comma-separated, = form), --reduced, --quick, --out, --list, --torch', () => {
    expect(parseArguments([])).toEqual({ only: [], mode: 'full', seeds: 'all', out: null, list: false, help: false, torch: false, jobs: null, threads: null });
    expect(parseArguments(['--only', 'rms,qk', '--only=frn', '--reduced', '--out', '/tmp/x', '--list'])).toEqual({ only: ['rms', 'qk', 'frn'], mode: 'reduced', seeds: 'reduced', out: '/tmp/x', list: true, help: false, torch: false, jobs: null, threads: null });
    expect(parseArguments(['--torch', '--quick'])).toMatchObject({ torch: true, seeds: 'one' });
    expect(parseArguments(['--quick'])).toMatchObject({ mode: 'full', seeds: 'one' });
    expect(() => parseArguments(['--quick', '--reduced'])).toThrow('--quick and --reduced do not go together');
  });

  it('refuses unknown arguments and missing values', () => {
    expect(() => parseArguments(['--fast'])).toThrow(UsageError);
    expect(() => parseArguments(['--fast'])).toThrow("unknown argument '--fast'");
    expect(() => parseArguments(['--only'])).toThrow('--only needs a value');
    expect(() => parseArguments(['--out', '--reduced'])).toThrow('--out needs a value');
  });

  it('reads --jobs and --threads as whole numbers of at least 1', () => {
    expect(parseArguments(['--jobs', '3', '--threads=1'])).toMatchObject({ jobs: 3, threads: 1 });
    expect(parseArguments(['--jobs=1'])).toMatchObject({ jobs: 1, threads: null });
    for (const bad of ['0', '-1', '1.5', 'two', '2x']) expect(() => parseArguments(['--jobs', bad])).toThrow(`--jobs needs a whole number of at least 1, got '${bad}'`);
    expect(() => parseArguments(['--threads=0'])).toThrow("--threads needs a whole number of at least 1, got '0'");
    expect(() => parseArguments(['--jobs'])).toThrow('--jobs needs a value');
  });
});

describe('selectPresets', () => {
  it('selects exact names or name parts, in report order', () => {
    expect(selectPresets(presets, [])).toHaveLength(presets.length);
    expect(selectPresets(presets, ['rms-norm-speed']).map((p) => p.name)).toEqual(['rms-norm-speed']);
    const batch = selectPresets(presets, ['qk', 'batch-norm']).map((p) => p.name);
    expect(batch).toEqual(presets.map((p) => p.name).filter((n) => n.includes('qk') || n.includes('batch-norm')));
    expect(batch.indexOf('qk-norm-logits')).toBeGreaterThan(batch.indexOf('batch-norm-learning-rate'));
    expect(batch.filter((n) => n.startsWith('batch-norm')).length).toBeGreaterThanOrEqual(4);
  });

  it('names the experiments when a pattern matches none', () => {
    expect(() => selectPresets(presets, ['nope'])).toThrow(/no experiment matches 'nope'; the experiments are: batch-norm-small-batch, /);
  });
});
