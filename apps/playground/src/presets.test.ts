import { encodeConfig, resolveConfig } from '@normkit/experiments';
import { get, register, unregister } from '@normkit/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_RUNS } from './drafts';
import { registerPlugins } from './plugins';
import { defaultPresetSelection, listPresets, presetConfigs, presetMissing, presetRuns } from './presets';
import { readUrlState, writeUrlState } from './url-state';

beforeAll(() => registerPlugins());

describe('claims-lab presets in the playground', () => {
  it('offers every preset, all runnable here (the workers load MNIST themselves)', () => {
    expect(listPresets().length).toBeGreaterThan(0);
    for (const preset of listPresets()) expect(presetMissing(preset), preset.name).toEqual([]);
  });

  it('shows subjects and controls first, at most four, in the lab’s order', () => {
    for (const preset of listPresets()) {
      const runs = presetRuns(preset);
      const selection = defaultPresetSelection(preset);
      expect(selection.length, preset.name).toBe(Math.min(MAX_RUNS, runs.length));
      const order = runs.map((r) => r.id);
      expect(selection, preset.name).toEqual([...selection].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
      const nonReference = runs.filter((r) => r.role !== 'reference').length;
      const roles = selection.map((id) => runs.find((r) => r.id === id)!.role);
      if (nonReference >= MAX_RUNS) expect(roles, preset.name).not.toContain('reference');
    }
  });

  it('turns the chosen runs into resolved configs that survive the link', () => {
    for (const preset of listPresets()) {
      const ids = defaultPresetSelection(preset);
      const configs = presetConfigs(preset, ids);
      const runs = presetRuns(preset).filter((r) => ids.includes(r.id));
      expect(configs, preset.name).toEqual(runs.map((r) => resolveConfig(r.config)));
      expect(readUrlState(writeUrlState(configs)).configs, preset.name).toEqual(configs);
      expect(configs.map(encodeConfig).every((s) => s.startsWith('v1.'))).toBe(true);
    }
  });

  it('names what a preset lacks when a plugin it needs is not registered', () => {
    const preset = listPresets().find((p) => p.requires.plugins.length > 0)!;
    const name = preset.requires.plugins[0]!;
    const plugin = get(name);
    unregister(name);
    try {
      expect(presetMissing(preset)).toContain(`plugin "${name}"`);
    } finally {
      register(plugin);
    }
  });
});
