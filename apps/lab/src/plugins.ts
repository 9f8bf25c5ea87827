// Registration is explicit (the engine registers nothing): every family the lab can exercise.
import { batchPlugins } from '@normkit/batch';
import { conditionalPlugins } from '@normkit/conditional';
import { listBlockWrappers, registerBlockWrapper, type BlockWrapperDefinition } from '@normkit/experiments';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { normFreeBlockWrappers, normFreePlugins } from '@normkit/norm-free';
import { switchablePlugins } from '@normkit/switchable';
import { has, list, register, type AnyPlugin } from '@normkit/tensor';
import { weightPlugins } from '@normkit/weight';

/** The plugin lists of the family packages the lab registers. */
export const familyPlugins: ReadonlyArray<readonly AnyPlugin[]> = [batchPlugins, groupPlugins, layerPlugins, weightPlugins, switchablePlugins, normFreePlugins, conditionalPlugins];

/** Residual block wrappers (NF blocks, SkipInit) for the engine's residual net. */
export const blockWrappers: readonly BlockWrapperDefinition[] = normFreeBlockWrappers;

/**
 * Registers every family plugin and block wrapper not registered yet (safe to call twice);
 * returns the names of the registered plugins and block wrappers.
 */
export function registerLabPlugins(): string[] {
  for (const plugins of familyPlugins) for (const plugin of plugins) if (!has(plugin.name)) register(plugin);
  const wrappers = new Set(listBlockWrappers().map((w) => w.name));
  for (const wrapper of blockWrappers) if (!wrappers.has(wrapper.name)) registerBlockWrapper(wrapper);
  return [...list().map((plugin) => plugin.name), ...listBlockWrappers().map((w) => `${w.name} (block wrapper)`)].sort();
}
