// Shared by this package's tests (not exported): registers the family plugins that exist and
// defines throwaway plugins that record what the engine hands them.
import { batchPlugins } from '@normkit/batch';
import { groupPlugins } from '@normkit/group';
import { layerPlugins } from '@normkit/layer';
import {
  Module, Parameter, SPECIFICATION_VERSION, Tensor, ValueError, defineGradientTransform, defineNormalizer, defineWeightParametrization,
  has, mul, ones, register, reshape, type AnyPlugin, type NormalizerContext, type NormalizerPlugin,
} from '@normkit/tensor';

/** Registers the batch, group and layer families (each plugin once per process). */
export function registerFamilies(): void {
  for (const plugin of [...batchPlugins, ...groupPlugins, ...layerPlugins]) if (!has(plugin.name)) register(plugin);
}

export function registerOnce(plugin: AnyPlugin): void {
  if (!has(plugin.name)) register(plugin);
}

/** What the recording normalizers saw at their last forward. */
export interface Seen {
  shape: readonly number[];
  context: NormalizerContext;
}

export const seen: Record<string, Seen[]> = {};

// Typed as the base plugin: the recording class is local, so its type cannot appear in declarations.
function recordingNorm(name: string, traits: { layout: 'channels-first' | 'channels-last'; acceptsMask?: boolean; needsLabels?: boolean; needsCondition?: boolean }): NormalizerPlugin {
  class Recording extends Module {
    readonly weight: Parameter;
    /** Throws at the forward numbered `failAt` (1-based), to test mid-training failures. */
    calls = 0;
    constructor(
      features: number,
      private readonly failAt: number,
    ) {
      super();
      this.weight = this.registerParameter('weight', new Parameter(ones([features])));
    }
    forward(x: Tensor, context: NormalizerContext = {}): Tensor {
      this.calls++;
      if (this.failAt > 0 && this.calls >= this.failAt) {
        throw new ValueError({ op: `${name}.forward`, expected: 'to be asked fewer times', given: `call ${this.calls}` });
      }
      (seen[name] ??= []).push({ shape: x.shape, context });
      // Scale by the per-feature weight: channels-first features are dim 1, channels-last the last dim.
      const shape = x.shape.map((_, axis) => (axis === (traits.layout === 'channels-first' ? 1 : x.ndim - 1) ? x.shape[axis]! : 1));
      return mul(x, reshape(this.weight, shape));
    }
  }
  return defineNormalizer({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'normalizer',
    name,
    family: 'experiments-test',
    description: 'records its input shape and context; multiplies by a per-feature weight',
    options: { failAt: { type: 'number', default: 0, integer: true, min: 0, description: 'throw from this forward on (0: never)' } },
    traits: () => ({
      batchDependent: false,
      needsCondition: traits.needsCondition ?? false,
      needsLabels: traits.needsLabels ?? false,
      acceptsMask: traits.acceptsMask ?? false,
      hasRunningStats: false,
      layout: traits.layout,
    }),
    create: (slot, options) => new Recording(slot.numFeatures, options.failAt),
  });
}

/** Channels-first, takes a mask. */
export const recordChannelsFirst = recordingNorm('record-channels-first', { layout: 'channels-first', acceptsMask: true });
/** Channels-last, takes no mask. */
export const recordChannelsLast = recordingNorm('record-channels-last', { layout: 'channels-last' });
/** Channels-first, needs labels and a condition (conditional-BatchNorm-like). */
export const recordConditional = recordingNorm('record-conditional', { layout: 'channels-first', needsLabels: true, needsCondition: true });

/** A weight parametrization w * s with a learnable scalar s, exposing `sigma` (= |s|) like spectral norm does. */
class ScaledWeight extends Module {
  readonly scale: Parameter;
  constructor(initial: number) {
    super();
    this.scale = this.registerParameter('scale', new Parameter(new Tensor(new Float32Array([initial]), [])));
  }
  get sigma(): number {
    return Math.abs(this.scale.data[0]!);
  }
  forward(weight: Tensor): Tensor {
    return mul(weight, this.scale);
  }
}

export const scaledWeightPlugin = defineWeightParametrization({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'weight-parametrization',
  name: 'test-scaled-weight',
  family: 'experiments-test',
  description: 'w * s with a learnable scalar s',
  options: { initial: { type: 'number', default: 1, description: 'initial s' } },
  create: (_module, _name, options) => new ScaledWeight(options.initial),
});

/** Clips each gradient element to [-limit, limit] and reports how many it clipped. */
export const clipValuePlugin = defineGradientTransform({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'gradient-transform',
  name: 'test-clip-value',
  family: 'experiments-test',
  description: 'clamps gradient elements',
  options: { limit: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'bound' } },
  create: (options) => ({
    name: 'test-clip-value',
    apply(entries) {
      let clipped = 0;
      for (const { parameter } of entries) {
        const g = parameter.grad!.data;
        for (let i = 0; i < g.length; i++) {
          if (Math.abs(g[i]!) > options.limit) {
            g[i] = Math.sign(g[i]!) * options.limit;
            clipped++;
          }
        }
      }
      return { clipped };
    },
  }),
});

export function registerTestPlugins(): void {
  registerFamilies();
  for (const plugin of [recordChannelsFirst, recordChannelsLast, recordConditional, scaledWeightPlugin, clipValuePlugin] as AnyPlugin[]) registerOnce(plugin);
}
