// Every plugin the playground offers, registered through the public registry like any app would.
//
// One line per family: the pickers and option forms are generated from the registry (each
// plugin's `options` schema and `traits`), so a new family appears in the playground by adding
// its `registerAll(...)` line here and its package to package.json. Nothing else changes.
// The page and every Web Worker call `registerPlugins()` once each (a worker has its own
// globalThis, hence its own registry).
import { batchPlugins } from '@normkit/batch';
import { conditionalPlugins } from '@normkit/conditional';
import { registerBlockWrapper } from '@normkit/experiments';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { normFreeBlockWrappers, normFreePlugins } from '@normkit/norm-free';
import { switchablePlugins } from '@normkit/switchable';
import { registerAll, type OptionsSchema } from '@normkit/tensor';
import { weightPlugins } from '@normkit/weight';
import { dynamicTanhPlugin } from 'normkit-plugin-dyt';

const REGISTERED = Symbol.for('normkit.playground.pluginsRegistered');

/** Registers the plugins of every family (idempotent within one global scope). */
export function registerPlugins(): void {
  const holder = globalThis as unknown as Record<symbol, boolean | undefined>;
  if (holder[REGISTERED]) return;
  registerAll(batchPlugins);
  registerAll(layerPlugins);
  registerAll(groupPlugins);
  registerAll(weightPlugins);
  registerAll(switchablePlugins);
  registerAll(conditionalPlugins);
  registerAll(normFreePlugins);
  // Norm-free residual blocks (NF blocks, SkipInit) are the residual net's block wrappers.
  for (const wrapper of normFreeBlockWrappers) registerBlockWrapper<OptionsSchema>(wrapper);
  // A third-party plugin (examples/plugin-dyt, published as `normkit-plugin-dyt`): same call.
  registerAll([dynamicTanhPlugin]);
  holder[REGISTERED] = true;
}
