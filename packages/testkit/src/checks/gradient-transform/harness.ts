import {
  Generator, Parameter, randn,
  type DType, type GradientEntry, type GradientTransform, type GradientTransformPlugin, type Registry,
} from '@normkit/tensor';
import type { Tolerance } from '../normalizer/harness';
import { registryWith, suiteOptionsFor, type SuiteOptions } from '../shared';

export type GradientTransformCheckName = 'gradients-only' | 'deterministic' | 'missing-gradients' | 'finite' | 'report' | 'idempotent';

export interface EntriesRequest {
  dtype: DType;
  /** Seeded; draw parameters and gradients from it. */
  generator: Generator;
}

export interface GradientTransformSuiteConfig {
  /** Plugin options; a function receives the dtype under test. */
  options?: SuiteOptions;
  /**
   * The parameters (with `.grad` set) the transform sees. Default: `linear.weight` [4, 3],
   * `linear.bias` [4] and `conv.weight` [2, 3, 3, 3], values and gradients N(0, 1), no module.
   */
  entries?: (request: EntriesRequest) => GradientEntry[];
  /** Applying twice equals applying once (clipping, AGC): checked when true. */
  idempotent?: boolean;
  tolerance?: {
    /**
     * Applying twice vs once (default atol 1e-8, rtol 1e-5: PyTorch-style clipping divides by
     * norm + 1e-6, so a second pass rescales by about 1 - 1e-6).
     */
    idempotent?: Tolerance;
  };
  seed?: number;
  dtypes?: readonly DType[];
  skip?: Partial<Record<GradientTransformCheckName, string>>;
}

export class GradientTransformHarness {
  readonly dtypes: readonly DType[];
  readonly #registry: Registry;

  constructor(
    readonly plugin: GradientTransformPlugin,
    readonly config: GradientTransformSuiteConfig,
  ) {
    this.dtypes = config.dtypes ?? ['float32', 'float64'];
    this.#registry = registryWith(plugin);
  }

  /** Builds the transform as users do, through the registry's `createGradientTransform` (options validated, the product checked). */
  create(dtype: DType): GradientTransform {
    const options = suiteOptionsFor(this.plugin, this.config.options, dtype);
    return this.#registry.createGradientTransform(this.plugin.name, options);
  }

  /** Fresh entries from the same seed: two calls give equal, independent parameters and gradients. */
  entries(dtype: DType, salt = 0): GradientEntry[] {
    const generator = new Generator((this.config.seed ?? 0) * 7919 + 97 + salt);
    if (this.config.entries) return this.config.entries({ dtype, generator });
    const make = (name: string, shape: number[]): GradientEntry => {
      const parameter = new Parameter(randn(shape, { dtype, generator }));
      parameter.grad = randn(shape, { dtype, generator });
      return { name, parameter };
    };
    return [make('linear.weight', [4, 3]), make('linear.bias', [4]), make('conv.weight', [2, 3, 3, 3])];
  }
}
