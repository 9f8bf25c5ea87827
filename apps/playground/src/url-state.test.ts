import { encodeConfig, resolveConfig } from '@normkit/experiments';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultDraft, withTask } from './drafts';
import { registerPlugins } from './plugins';
import { readUrlState, writeUrlState } from './url-state';

beforeAll(() => registerPlugins());

describe('URL state', () => {
  it('round-trips up to four runs through the fragment', () => {
    const configs = [defaultDraft('batch-norm'), defaultDraft('layer-norm'), withTask(defaultDraft('group-norm'), 'sequence-classification'), defaultDraft('dynamic-tanh')].map(resolveConfig);
    configs[1]!.lr = 0.05;
    configs[1]!.norms.hidden!.options!.eps = 1e-3;
    const hash = writeUrlState(configs);
    expect(hash).toMatch(/^#run=v1\.[A-Za-z0-9_-]+(&run=v1\.[A-Za-z0-9_-]+){3}$/);
    const state = readUrlState(hash);
    expect(state.errors).toEqual([]);
    expect(state.configs).toEqual(configs);
    expect(readUrlState(hash.slice(1)).configs).toEqual(configs); // with or without '#'
  });

  it('reads an empty fragment as no runs and no problem', () => {
    expect(readUrlState('')).toEqual({ configs: [], errors: [] });
    expect(readUrlState('#')).toEqual({ configs: [], errors: [] });
  });

  it('keeps the readable runs and explains each part it could not use', () => {
    const good = encodeConfig(resolveConfig(defaultDraft('batch-norm')));
    const state = readUrlState(`#run=v1.%%%&run=${good}&theme=dark&run=v2.abc&run=nonsense`);
    expect(state.configs).toHaveLength(1);
    expect(state.configs[0]!.norms.hidden!.name).toBe('batch-norm');
    expect(state.errors).toHaveLength(4);
    expect(state.errors[0]).toMatch(/^Run 1 of the link could not be loaded: decodeConfig: /);
    expect(state.errors[1]).toMatch(/unknown part "theme"/);
    expect(state.errors[2]).toMatch(/^Run 3 of the link could not be loaded: .*starting with "v1\."/);
    expect(state.errors[3]).toMatch(/^Run 4 of the link/);
  });

  it('names the field of a well-formed link with an invalid value', () => {
    const config = resolveConfig(defaultDraft('batch-norm'));
    const good = encodeConfig(config);
    // Re-encode the packed JSON with momentum = 2, bypassing encodeConfig's validation.
    const packed = JSON.parse(Buffer.from(good.slice(3), 'base64url').toString('utf8')) as unknown[];
    (packed[4] as Record<string, unknown[]>).hidden = ['batch-norm', { momentum: 2 }];
    const bad = `v1.${Buffer.from(JSON.stringify(packed)).toString('base64url')}`;
    const state = readUrlState(`#run=${bad}`);
    expect(state.configs).toEqual([]);
    expect(state.errors[0]).toMatch(/^Run 1 of the link could not be loaded: .*momentum.*got momentum = 2/);
  });

  it('loads at most four runs and says so', () => {
    const one = encodeConfig(resolveConfig(defaultDraft()));
    const state = readUrlState(`#${Array.from({ length: 5 }, () => `run=${one}`).join('&')}`);
    expect(state.configs).toHaveLength(4);
    expect(state.errors).toEqual(['The link has more than 4 runs; run 5 and later were not loaded.']);
  });
});
