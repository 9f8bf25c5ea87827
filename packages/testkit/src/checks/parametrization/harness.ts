import {
  Generator, parametrizationsOf, registerParametrization,
  type DType, type Module, type Parametrization, type ParametrizationList, type Registry, type Tensor,
  type WeightParametrizationPlugin,
} from '@normkit/tensor';
import type { Tolerance } from '../normalizer/harness';
import { defaultTolerance, registryWith, suiteOptionsFor, type SuiteOptions } from '../shared';

export type ParametrizationCheckName = 'registration' | 'gradients' | 'train-eval' | 'state-dict' | 'removal' | 'finite';

export interface HostRequest {
  dtype: DType;
  /** Seeded; initialise the host from it so runs are reproducible. */
  generator: Generator;
}

export interface ParametrizationSuiteConfig {
  /** Builds the host module whose tensor is parametrized, e.g. `({ dtype, generator }) => new Linear({ inFeatures: 3, outFeatures: 4, dtype, generator })`. */
  module: (request: HostRequest) => Module;
  /** The parametrized tensor (default 'weight'). */
  tensorName?: string;
  /** Plugin options; a function receives the dtype under test. */
  options?: SuiteOptions;
  /** Registration leaves the tensor's value unchanged (weight norm: g = ||v||); spectral norm does not. */
  preservesValue?: boolean;
  tolerance?: {
    /** Value comparisons (preservesValue) in float32 (default atol 1e-6, rtol 1e-5). */
    float32?: Tolerance;
    /** Value comparisons in float64 (default atol 1e-12, rtol 1e-10). */
    float64?: Tolerance;
    /** Gradcheck tolerance and step (default atol 1e-5, rtol 1e-4, eps 1e-6). */
    gradcheck?: Partial<Tolerance> & { eps?: number };
  };
  /** Seed of the host initialisation and every random value (default 0). */
  seed?: number;
  /** Reads of the tensor in training mode before state is compared or eval tested (default 3). */
  trainingSteps?: number;
  dtypes?: readonly DType[];
  skip?: Partial<Record<ParametrizationCheckName, string>>;
}

/** A host module with the plugin's parametrization registered on it. */
export interface Parametrized {
  readonly module: Module;
  readonly list: ParametrizationList;
  /** Reads the parametrized tensor, as the host's forward does. */
  read(): Tensor;
}

export class ParametrizationHarness {
  readonly tensorName: string;
  readonly dtypes: readonly DType[];
  readonly trainingSteps: number;
  readonly #registry: Registry;

  constructor(
    readonly plugin: WeightParametrizationPlugin,
    readonly config: ParametrizationSuiteConfig,
  ) {
    this.tensorName = config.tensorName ?? 'weight';
    this.dtypes = config.dtypes ?? ['float32', 'float64'];
    this.trainingSteps = config.trainingSteps ?? 3;
    this.#registry = registryWith(plugin);
  }

  generator(salt: number): Generator {
    return new Generator((this.config.seed ?? 0) * 7919 + salt);
  }

  host(dtype: DType, salt = 0): Module {
    return this.config.module({ dtype, generator: this.generator(salt) });
  }

  /** The host's own tensor before registration. */
  hostTensor(module: Module): Tensor {
    const tensor = module.getParameter(this.tensorName) ?? module.getBuffer(this.tensorName);
    if (!tensor) throw new Error(`the host module has no parameter or buffer named "${this.tensorName}"`);
    return tensor;
  }

  /**
   * Builds the plugin's parametrization for `module` as users do, through the registry's
   * `createParametrization` (options validated against the schema, the product checked).
   */
  build(module: Module, dtype: DType): Parametrization {
    const options = suiteOptionsFor(this.plugin, this.config.options, dtype);
    return this.#registry.createParametrization(this.plugin.name, module, this.tensorName, options);
  }

  /** Registers the plugin's parametrization on `module` (a fresh host by default). */
  parametrize(dtype: DType, module: Module = this.host(dtype)): Parametrized {
    registerParametrization(module, this.tensorName, this.build(module, dtype));
    const list = parametrizationsOf(module, this.tensorName)!;
    const name = this.tensorName;
    return { module, list, read: () => (module as unknown as Record<string, Tensor>)[name]! };
  }

  /** Reads the tensor `trainingSteps` times in training mode (power iterations and the like run). */
  warmUp(target: Parametrized): void {
    const wasTraining = target.module.training;
    target.module.train();
    for (let step = 0; step < this.trainingSteps; step++) target.read();
    target.module.train(wasTraining);
  }

  tolerance(dtype: DType): Tolerance {
    return this.config.tolerance?.[dtype] ?? defaultTolerance(dtype);
  }
}
