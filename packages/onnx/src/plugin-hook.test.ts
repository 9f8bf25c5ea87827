// A normalizer plugin's optional `onnx` field (plugin specification v1): exportOnnx finds it once the plugin is registered.
import { Module, SPECIFICATION_VERSION, randn, register, unregister, type NormalizerPlugin, type Tensor } from '@normkit/tensor';
import { afterEach, describe, expect, it } from 'vitest';
import { defineLowering, exportOnnx, getPluginLowering } from './index';
import { expectClose, runOnnx } from './test-support';

/** y = -x: a trivial normalizer, so the test is about the lookup. */
class Negate extends Module {
  override forward(x: Tensor): Tensor {
    return x.mul(-1);
  }
}

const negateLowering = defineLowering({ loweringVersion: 'v1', module: Negate, lower: (_m, [x], ctx) => ctx.unary('Neg', x!) });

function plugin(onnx: NormalizerPlugin['onnx']): NormalizerPlugin {
  return {
    specificationVersion: SPECIFICATION_VERSION, kind: 'normalizer', name: 'negate-test', family: 'test', description: 'y = -x', options: {},
    traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-last' }),
    create: () => new Negate(),
    ...(onnx ? { onnx } : {}),
  };
}

afterEach(() => unregister('negate-test'));

describe("normalizer plugins' onnx hook", () => {
  it('a registered plugin with a hook exports with no lowering passed; unregistered, the export fails naming the class', async () => {
    expect(() => exportOnnx(new Negate(), { inputs: [{ shape: [2, 3] }] })).toThrow(/no ONNX lowering for the root module \(class Negate\)/);
    register(plugin(negateLowering));
    expect(getPluginLowering(Negate)).toBe(negateLowering);
    const x = randn([2, 3]);
    const { data } = await runOnnx(exportOnnx(new Negate(), { inputs: [{ shape: [2, 3] }] }), { input: x });
    expectClose(data, x.data.map((v) => -v), 0, 0);
  });

  it('a plugin without the field is skipped; lowerings passed per export come first', async () => {
    register(plugin(undefined));
    expect(getPluginLowering(Negate)).toBeUndefined();
    register({ ...plugin(negateLowering), name: 'negate-test-2' });
    try {
      const identity = defineLowering({ loweringVersion: 'v1', module: Negate, lower: (_m, [x]) => x! });
      const x = randn([4]);
      // The per-export lowering (identity) wins over the plugin's hook (Neg): the exporter checks shapes, not values.
      const { data } = await runOnnx(exportOnnx(new Negate(), { inputs: [{ shape: [4] }], lowerings: [identity] }), { input: x });
      expectClose(data, x.data, 0, 0);
    } finally {
      unregister('negate-test-2');
    }
  });

  it('a hook of another lowering version is refused naming the plugin', () => {
    register(plugin({ ...negateLowering, loweringVersion: 'v2' as 'v1' }));
    expect(() => exportOnnx(new Negate(), { inputs: [{ shape: [2] }] })).toThrow(/loweringVersion 'v1'.*got loweringVersion 'v2', lower = function on plugin "negate-test"/s);
  });
});
