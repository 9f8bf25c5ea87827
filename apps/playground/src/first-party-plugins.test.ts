// The registry's table of first-party plugins (which package and which registerAll call a name needs)
// must list every plugin of every family: the playground is the one place that depends on all of them.
import { batchPlugins } from '@normkit/batch';
import { conditionalPlugins } from '@normkit/conditional';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { normFreePlugins } from '@normkit/norm-free';
import { switchablePlugins } from '@normkit/switchable';
import { FIRST_PARTY_PACKAGES, Registry, type AnyPlugin } from '@normkit/tensor';
import { weightPlugins } from '@normkit/weight';
import { describe, expect, it } from 'vitest';

const families: Record<string, { exportName: string; plugins: readonly AnyPlugin[] }> = {
  '@normkit/batch': { exportName: 'batchPlugins', plugins: batchPlugins },
  '@normkit/conditional': { exportName: 'conditionalPlugins', plugins: conditionalPlugins },
  '@normkit/group': { exportName: 'groupPlugins', plugins: groupPlugins },
  '@normkit/layer': { exportName: 'layerPlugins', plugins: layerPlugins },
  '@normkit/norm-free': { exportName: 'normFreePlugins', plugins: normFreePlugins },
  '@normkit/switchable': { exportName: 'switchablePlugins', plugins: switchablePlugins },
  '@normkit/weight': { exportName: 'weightPlugins', plugins: weightPlugins },
};

describe('the first-party plugin table', () => {
  it('names exactly the plugins each family exports, with its registerAll array', () => {
    expect(FIRST_PARTY_PACKAGES.map((p) => p.packageName).sort()).toEqual(Object.keys(families).sort());
    for (const entry of FIRST_PARTY_PACKAGES) {
      const family = families[entry.packageName]!;
      expect(entry.pluginsExport, entry.packageName).toBe(family.exportName);
      expect([...entry.names].sort(), entry.packageName).toEqual(family.plugins.map((p) => p.name).sort());
    }
  });

  it('an unregistered first-party name points at its package and registerAll call', () => {
    const registry = new Registry();
    expect(() => registry.createByName('group-norm', { numFeatures: 4 })).toThrow(/"group-norm" is in @normkit\/group: registerAll\(groupPlugins\)/);
    registry.registerAll(groupPlugins);
    expect(registry.createByName('group-norm', { numFeatures: 4 }, { numGroups: 2 }).parameters()).toHaveLength(2);
  });
});
