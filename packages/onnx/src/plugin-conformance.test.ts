// Every first-party normalizer plugin through @normkit/testkit's optional check "exports and matches
// onnxruntime", with the family lowerings: what a plugin author's CI would run.
import { batchPlugins } from '@normkit/batch';
import { conditionalPlugins } from '@normkit/conditional';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import { switchablePlugins } from '@normkit/switchable';
import { randn, resolveOptions, type NormalizerContext, type NormalizerPlugin } from '@normkit/tensor';
import { checkOnnxExport, type OnnxExportCheckConfig } from '@normkit/testkit';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { conditionalLowerings } from './conditional';
import { exportOnnx } from './index';
import { familyLowerings } from './test-cases';

type Case = Omit<OnnxExportCheckConfig, 'exportOnnx' | 'ort'>;

const channelsFirst: Case = { slot: { numFeatures: 4 }, inputShapes: [[2, 4, 3, 3]] };
const channelsLast: Case = { slot: { numFeatures: 4 }, inputShapes: [[2, 3, 4]] };
const withCondition = (base: Case, condition: (n: number) => readonly number[]): Case => ({
  ...base,
  context: ({ shape, generator }): NormalizerContext => ({ condition: randn([...condition(shape[0]!)], { generator }) }),
});

/** Per plugin: the slot, shapes and options a first-party plugin needs (defaults otherwise). */
const overrides: Record<string, Case> = {
  'group-norm': { ...channelsFirst, options: { numGroups: 2 } },
  'evo-norm-s0': { ...channelsFirst, options: { groups: 2 } },
  'qk-norm': { slot: { numFeatures: 4 }, inputShapes: [[2, 2, 3, 4]] },
  'ada-ln': withCondition({ ...channelsLast, slot: { numFeatures: 4, conditionDim: 3 } }, (n) => [n, 3]),
  'ada-ln-zero': withCondition({ ...channelsLast, slot: { numFeatures: 4, conditionDim: 3 } }, (n) => [n, 3]),
  film: withCondition({ ...channelsFirst, slot: { numFeatures: 4, conditionDim: 3 } }, (n) => [n, 3]),
  spade: withCondition({ ...channelsFirst, slot: { numFeatures: 4, conditionChannels: 2 } }, (n) => [n, 2, 5, 2]),
  'conditional-batch-norm': {
    ...channelsFirst,
    slot: { numFeatures: 4, numClasses: 3 },
    context: ({ shape }): NormalizerContext => ({ labels: Array.from({ length: shape[0]! }, (_, i) => (i * 2) % 3) }),
  },
};

// The mixture plugin is a factory of plugins (defineMixturePlugin), not one normalizer to build by default.
const skipped = new Set(['normalizer-mixture']);
const plugins: NormalizerPlugin[] = [...batchPlugins, ...groupPlugins, ...layerPlugins, ...switchablePlugins, ...conditionalPlugins].filter((p) => !skipped.has(p.name));

describe('checkOnnxExport passes for every first-party normalizer plugin (opsets 17 and 23, batch 1 and 7)', () => {
  for (const plugin of plugins) {
    it(plugin.name, async () => {
      const layout = plugin.traits(resolveOptions(plugin.name, plugin.options, {})).layout;
      const config = overrides[plugin.name] ?? (layout === 'channels-first' ? channelsFirst : channelsLast);
      const result = await checkOnnxExport(plugin, { ...config, opsets: [17, 23], exportOnnx, ort, lowerings: [...familyLowerings, ...conditionalLowerings] });
      expect(result.ok, result.message).toBe(true);
      expect(result.message).toMatch(/^4 onnxruntime runs match/); // one shape x opsets 17, 23 x batches 1, 7
    });
  }
});
