// Where each first-party plugin lives, so `create('batch-norm', ...)` before registration can say
// which package and which call registers it. @normkit/experiments checks this table against every
// family's plugin list, so a new plugin without an entry fails a test.

interface FirstPartyPackage {
  readonly packageName: string;
  /** The exported array that `registerAll` takes. */
  readonly pluginsExport: string;
  readonly names: readonly string[];
}

export const FIRST_PARTY_PACKAGES: readonly FirstPartyPackage[] = [
  { packageName: '@normkit/batch', pluginsExport: 'batchPlugins', names: ['batch-norm', 'ghost-batch-norm', 'sync-batch-norm', 'frozen-batch-norm', 'batch-renorm'] },
  { packageName: '@normkit/conditional', pluginsExport: 'conditionalPlugins', names: ['conditional-batch-norm', 'spade', 'film'] },
  {
    packageName: '@normkit/group',
    pluginsExport: 'groupPlugins',
    names: ['group-norm', 'instance-norm', 'filter-response-norm', 'local-response-norm', 'evo-norm-s0', 'evo-norm-b0'],
  },
  {
    packageName: '@normkit/layer',
    pluginsExport: 'layerPlugins',
    names: ['layer-norm', 'rms-norm', 'qk-norm', 'ada-ln', 'ada-ln-zero', 'l2-norm', 'scale-norm', 'layer-scale', 'dyt'],
  },
  {
    packageName: '@normkit/norm-free',
    pluginsExport: 'normFreePlugins',
    names: ['adaptive-gradient-clip', 'clip-grad-norm', 'clip-grad-value', 'scaled-weight-standardization'],
  },
  { packageName: '@normkit/switchable', pluginsExport: 'switchablePlugins', names: ['switchable-norm', 'normalizer-mixture'] },
  { packageName: '@normkit/weight', pluginsExport: 'weightPlugins', names: ['weight-norm', 'spectral-norm', 'weight-standardization'] },
];

/** The package and registration call of a first-party plugin name, if it is one. */
export function firstPartyHome(name: string): FirstPartyPackage | undefined {
  return FIRST_PARTY_PACKAGES.find((p) => p.names.includes(name));
}
