// A third party's view: only the package's public entry point, no relative imports.
import { afterEach, describe, expect, it } from 'vitest';
import {
  Module, Parameter, RegistryError, SPECIFICATION_VERSION, create, defineNormalizer, get, gradcheck, graphOps, isNormkitError,
  normalize, ones, randn, register, unregister, type NormalizerContext, type Tensor,
} from '@normkit/tensor';

/** ScaleNorm (Nguyen & Salazar 2019): y = g * x / ||x|| * sqrt(d), one learnable scalar g. */
class ScaleNorm extends Module {
  readonly gain: Parameter;
  constructor(private readonly features: number, dtype: 'float32' | 'float64') {
    super();
    this.gain = this.registerParameter('gain', new Parameter(ones([1], { dtype })));
  }
  forward(x: Tensor, _context?: NormalizerContext): Tensor {
    const rows = x.size / this.features;
    // RMS normalisation is ||x|| / sqrt(d): reuse the shared kernel, then the scalar gain.
    return normalize(x, {
      op: 'scaleNorm', layout: { outer: rows, groups: 1, inner: this.features }, acrossOuter: false, center: false,
      eps: 1e-10, affineBlock: this.features, weight: this.gain,
    }).output;
  }
}

const scaleNormPlugin = defineNormalizer({
  specificationVersion: SPECIFICATION_VERSION,
  kind: 'normalizer',
  name: 'acme-scale-norm',
  family: 'acme',
  description: 'ScaleNorm: one learnable scalar times x normalised to RMS 1',
  options: { dtype: { type: 'enum', values: ['float32', 'float64'], default: 'float32', description: 'parameter dtype' } },
  traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-last' }),
  create: (slot, options) => new ScaleNorm(slot.numFeatures, options.dtype),
});

// A third party makes its plugin's name known to the type system, so create() is typed by name.
declare module '@normkit/tensor' {
  interface NormalizerRegistry {
    'acme-scale-norm': typeof scaleNormPlugin;
  }
}

afterEach(() => unregister('acme-scale-norm'));

describe('a third-party plugin through the public API', () => {
  it('registers, is created by name, runs forward and backward as one node', () => {
    register(scaleNormPlugin);
    const norm = create('acme-scale-norm', { numFeatures: 6 }, { dtype: 'float64' });
    const x = randn([4, 6], { dtype: 'float64', requiresGrad: true });
    const y = norm.forward(x);
    expect(y.shape).toEqual([4, 6]);
    expect(graphOps(y)).toEqual(['scaleNorm']);
    const gain = norm.parameters()[0]!;
    const result = gradcheck((input, g) => { void g; return norm.forward(input); }, [x, gain]);
    expect(result.ok).toBe(true);
    expect([...norm.namedParameters()].map(([name]) => name)).toEqual(['gain']);
  });

  it('duplicate and unknown names are refused with clear, recognisable errors', () => {
    register(scaleNormPlugin);
    let caught: unknown;
    try {
      register(scaleNormPlugin);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    expect(isNormkitError(caught)).toBe(true);
    expect(String(caught)).toMatch(/"acme-scale-norm", already registered \(this same plugin\)\. Check has\("acme-scale-norm"\)/);
    expect(() => register({ ...scaleNormPlugin, family: 'other' })).toThrow(/"acme-scale-norm", already registered by family "acme"/);
    expect(() => get('acme-layer-norm')).toThrow(/expected a registered plugin name \(known: .*acme-scale-norm/);
  });
});
