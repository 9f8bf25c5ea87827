// Type tests: checked by `npm run typecheck` (tsc over src), never run. Each `@ts-expect-error`
// fails the typecheck if the line below it compiles, so these lines prove what must not compile.
import { Module } from '../nn/module';
import type { Tensor } from '../tensor';
import { Registry, create, createByName, createGradientTransform, createParametrization, createPostStepHook, get, list } from './registry';
import {
  defineGradientTransform,
  defineNormalizer,
  definePostStepHook,
  defineWeightParametrization,
  type GradientTransformPlugin,
  type Normalizer,
  type NormalizerChoice,
  type NormalizerPlugin,
  type Parametrization,
  type WeightParametrizationPlugin,
} from './types';

class TypedNorm extends Module {
  readonly typedNormMarker = true;
  forward(x: Tensor): Tensor {
    return x;
  }
}
class TypedParametrization extends Module {
  readonly typedParametrizationMarker = true;
  forward(w: Tensor): Tensor {
    return w;
  }
}

export const typedNormPlugin = defineNormalizer({
  name: 'typed-norm',
  family: 'type-test',
  description: 'type test',
  options: {
    eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'eps' },
    mode: { type: 'enum', values: ['a', 'b'], default: 'a', description: 'mode' },
    momentum: { type: 'number', default: 0.1, nullable: true, description: 'momentum' },
  },
  traits: () => ({ batchDependent: false, needsCondition: false, needsLabels: false, acceptsMask: false, hasRunningStats: false, layout: 'channels-last' }),
  create: (_slot, options) => {
    const eps: number = options.eps;
    const mode: 'a' | 'b' = options.mode;
    const momentum: number | null = options.momentum;
    void [eps, mode, momentum];
    return new TypedNorm();
  },
});
export const typedParametrizationPlugin = defineWeightParametrization({
  name: 'typed-parametrization',
  family: 'type-test',
  description: 'type test',
  options: { dim: { type: 'number', default: 0, integer: true, description: 'dim' } },
  create: () => new TypedParametrization(),
});
export const typedTransformPlugin = defineGradientTransform({
  name: 'typed-transform',
  family: 'type-test',
  description: 'type test',
  options: { maxNorm: { type: 'number', default: 1, description: 'bound' } },
  create: () => ({ name: 'typed-transform', apply: () => undefined, typedTransformMarker: true as const }),
});

export const typedHookPlugin = definePostStepHook({
  name: 'typed-hook',
  family: 'type-test',
  description: 'type test',
  options: { limit: { type: 'number', default: 1, description: 'bound' } },
  create: () => ({ name: 'typed-hook', apply: () => undefined, typedHookMarker: true as const }),
});

declare module './types' {
  interface PostStepHookRegistry {
    'typed-hook': typeof typedHookPlugin;
  }
  interface NormalizerRegistry {
    'typed-norm': typeof typedNormPlugin;
  }
  interface WeightParametrizationRegistry {
    'typed-parametrization': typeof typedParametrizationPlugin;
  }
  interface GradientTransformRegistry {
    'typed-transform': typeof typedTransformPlugin;
  }
}

export function typeTests(slot: { numFeatures: number }, host: Module, runtimeName: string): void {
  // define* keep the module type and fill in kind.
  const plugin: NormalizerPlugin = typedNormPlugin;
  const kind: 'normalizer' = typedNormPlugin.kind;
  void [plugin, kind];

  // create is typed by name: the product is the plugin's module class.
  const norm: TypedNorm = create('typed-norm', slot, { eps: 1e-6, mode: 'b', momentum: null });
  void norm.typedNormMarker;
  const viaInstance: TypedNorm = new Registry().create('typed-norm', slot);
  void viaInstance;
  // @ts-expect-error a name that is not registered (snake_case) does not compile
  create('typed_norm', slot);
  // @ts-expect-error an unknown option does not compile
  create('typed-norm', slot, { epsilon: 1 });
  // @ts-expect-error an option of the wrong type does not compile
  create('typed-norm', slot, { eps: '1e-5' });
  // @ts-expect-error an enum value outside the schema does not compile
  create('typed-norm', slot, { mode: 'c' });
  // @ts-expect-error a run-time string needs createByName
  create(runtimeName, slot);
  // @ts-expect-error a slot without numFeatures does not compile
  create('typed-norm', {});

  // Run-time names return Normalizer, validated at run time.
  const byName: Normalizer = createByName(runtimeName, slot, { anything: 1 });
  // @ts-expect-error createByName cannot know the class
  const notTyped: TypedNorm = createByName(runtimeName, slot);
  void [byName, notTyped];

  // The other kinds are typed by name too, and fall back to the base type for run-time names.
  const parametrization: TypedParametrization = createParametrization('typed-parametrization', host, 'weight', { dim: 1 });
  const anyParametrization: Parametrization = createParametrization(runtimeName, host, 'weight', { dim: 1 });
  // @ts-expect-error an unknown option of a known parametrization does not compile
  createParametrization('typed-parametrization', host, 'weight', { dims: 1 });
  const transform = createGradientTransform('typed-transform', { maxNorm: 2 });
  const marker: true = transform.typedTransformMarker;
  // @ts-expect-error a known transform's option of the wrong type does not compile
  createGradientTransform('typed-transform', { maxNorm: 'big' });
  void [parametrization, anyParametrization, marker];

  const hook = createPostStepHook('typed-hook', { limit: 2 });
  const hookMarker: true = hook.typedHookMarker;
  // @ts-expect-error a known hook's unknown option does not compile
  createPostStepHook('typed-hook', { limits: 2 });
  void hookMarker;

  // list and get are typed per kind.
  const normalizers: NormalizerPlugin[] = list({ kind: 'normalizer' });
  const parametrizations: WeightParametrizationPlugin[] = list({ kind: 'weight-parametrization' });
  const transforms: GradientTransformPlugin[] = list({ kind: 'gradient-transform' });
  // @ts-expect-error a list of parametrizations is not a list of normalizers
  const wrongKind: NormalizerPlugin[] = list({ kind: 'weight-parametrization' });
  const oneTransform: GradientTransformPlugin = get('typed-transform', 'gradient-transform');
  void [normalizers, parametrizations, transforms, wrongKind, oneTransform];

  // { name, options } pairs are typed by name.
  const choice: NormalizerChoice = { name: 'typed-norm', options: { mode: 'a' } };
  // @ts-expect-error an unknown name in a choice does not compile
  const badName: NormalizerChoice = { name: 'typed-nrm' };
  // @ts-expect-error an unknown option in a choice does not compile
  const badOption: NormalizerChoice = { name: 'typed-norm', options: { epsilon: 1 } };
  void [choice, badName, badOption];

  // A plugin literal cannot claim another kind.
  // @ts-expect-error kind 'gradient-transform' in defineNormalizer does not compile
  defineNormalizer({ kind: 'gradient-transform', name: 'x', family: 'f', description: 'd', options: {}, traits: () => typedNormPlugin.traits({ eps: 1, mode: 'a', momentum: null }), create: () => new TypedNorm() });
}
