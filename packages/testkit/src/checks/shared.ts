import {
  Registry, isNormkitError, noGrad, resolveOptions, zeros,
  type AnyPlugin, type DType, type Module, type OptionsSchema, type OptionValues, type StateDict, type Tensor,
} from '@normkit/tensor';
import { describeError, diffSnapshots, formatShapeList, snapshotState } from '../result';

/** Options given to a plugin by a suite: fixed, or per dtype under test. */
export type SuiteOptions = Readonly<Record<string, unknown>> | ((dtype: DType) => Readonly<Record<string, unknown>>);

/**
 * The options a suite gives the plugin for one dtype, as given (the registry validates them and
 * fills defaults): a function is called with the dtype; with a plain object and an enum option
 * named `dtype` in the schema, `dtype` is set when not given.
 */
export function suiteOptionsFor(
  plugin: { options: OptionsSchema },
  options: SuiteOptions | undefined,
  dtype: DType,
): Record<string, unknown> {
  const given: Record<string, unknown> = typeof options === 'function' ? { ...options(dtype) } : { ...(options ?? {}) };
  const dtypeSpec = plugin.options.dtype;
  if (typeof options !== 'function' && given.dtype === undefined && dtypeSpec?.type === 'enum' && dtypeSpec.values.includes(dtype)) {
    given.dtype = dtype;
  }
  return given;
}

/** `suiteOptionsFor` validated against the plugin's schema, defaults filled (for traits and reports). */
export function resolveSuiteOptions(
  plugin: { name: string; options: OptionsSchema },
  options: SuiteOptions | undefined,
  dtype: DType,
): OptionValues<OptionsSchema> {
  return resolveOptions(plugin.name, plugin.options, suiteOptionsFor(plugin, options, dtype));
}

/**
 * A registry of its own holding just `plugin`, so a suite builds it as users do (`createParametrization`,
 * `createGradientTransform`: the plugin checked as `register` checks it, options validated against its
 * schema, the product checked) without touching the global default registry.
 */
export function registryWith(plugin: AnyPlugin): Registry {
  const registry = new Registry();
  registry.register(plugin);
  return registry;
}

/** Deep copies of a state dict's tensors, so loading cannot alias the source. */
export function cloneDict(dict: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [key, value] of Object.entries(dict)) out[key] = value.clone();
  return out;
}

/** Moves every parameter away from its initialisation (ones and zeros would hide a load that copies nothing). */
export function perturbParameters(module: Module, salt: number): void {
  noGrad(() => {
    for (const [, p] of module.namedParameters()) {
      for (let i = 0; i < p.size; i++) p.data[i] = p.data[i]! + 0.1 * Math.sin(7.3 * i + 1.7 + 13 * salt) + 0.05;
    }
  });
}

/**
 * Loads `valid` into `target` with the entry `key` replaced by one of shape `wrong`: the load must
 * throw a normkit error and change no parameter or buffer. Returns the problems found.
 */
export function refusesWrongShape(target: Module, valid: StateDict, key: string, wrong: readonly number[]): string[] {
  const dict = { ...valid, [key]: zeros([...wrong], { dtype: valid[key]!.dtype }) };
  const before = snapshotState(target);
  const label = `loadStateDict with "${key}" of shape ${formatShapeList(wrong)} (expected ${formatShapeList(valid[key]!.shape)})`;
  let thrown: unknown = null;
  try {
    target.loadStateDict(dict);
  } catch (error) {
    thrown = error;
  }
  const problems: string[] = [];
  if (thrown === null) problems.push(`${label}: did not throw`);
  else if (!isNormkitError(thrown)) problems.push(`${label}: threw a non-normkit error, ${describeError(thrown)}`);
  for (const change of diffSnapshots(before, snapshotState(target))) problems.push(`${label}: changed state although it failed: ${change}`);
  return problems;
}

/**
 * The wrong shapes tried for an entry of shape `right`: a different size, then the same size
 * reshaped (a loader comparing only lengths accepts it).
 */
export function wrongShapesFor(right: readonly number[]): number[][] {
  return [right.length > 0 ? [right[0]! + 1, ...right.slice(1)] : [2], [...right, 1]];
}

/** Default value-comparison tolerance per dtype: near machine precision in float64, float32 rounding otherwise. */
export function defaultTolerance(dtype: DType): { atol: number; rtol: number } {
  return dtype === 'float64' ? { atol: 1e-12, rtol: 1e-10 } : { atol: 1e-6, rtol: 1e-5 };
}

/** A fixed, non-symmetric upstream gradient (sums and means do not cancel it). */
export function upstream(size: number): Float64Array {
  const g = new Float64Array(size);
  for (let i = 0; i < size; i++) g[i] = Math.cos(0.9 * i + 0.3) + 0.2;
  return g;
}
