import { defineNormalizer } from '@normkit/tensor';
import { DynamicTanh } from './dynamic-tanh.js';
import { dynamicTanhLowering } from './onnx.js';

/**
 * The `dynamic-tanh` normalizer plugin. Register it explicitly, then build it by name anywhere a
 * normalizer is asked for (a Transformer block, the playground):
 *
 * @example
 * import { register, create } from '@normkit/tensor';
 * register(dynamicTanhPlugin);
 * const norm = create('dynamic-tanh', { numFeatures: 768 }, { alphaInit: 0.5 });
 */
export const dynamicTanhPlugin = defineNormalizer({
  // defineNormalizer fills in kind ('normalizer') and specificationVersion: the literal carries only what is its own.
  name: 'dynamic-tanh',
  family: 'dyt',
  description: 'Dynamic Tanh (Zhu et al. 2025): weight * tanh(alpha * x) + bias, a statistics-free drop-in for LayerNorm',
  options: {
    alphaInit: { type: 'number', default: 0.5, min: 0, minExclusive: true, description: 'Initial value of the learnable scalar alpha' },
    elementwiseAffine: { type: 'boolean', default: true, description: 'Learn per-channel weight and bias' },
    dtype: { type: 'enum', values: ['float32', 'float64'] as const, default: 'float32', description: 'Parameter dtype; inputs must match' },
  },
  // Element-wise: no statistics, so nothing depends on other samples, and there is no state.
  traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-last' }),
  create: (slot, options) => new DynamicTanh({ numFeatures: slot.numFeatures, ...options }),
  onnx: dynamicTanhLowering,
});

// The name, known to the type system wherever this package is imported, so `create('dynamic-tanh', slot, options)`
// returns a DynamicTanh and checks its options at compile time (registration is still explicit: `register(...)`).
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'dynamic-tanh': typeof dynamicTanhPlugin;
  }
}
