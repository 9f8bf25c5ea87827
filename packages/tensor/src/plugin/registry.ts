import type { PostStepHook } from '../optim/post-step-hook';
import { OptionError, RegistryError, isNormkitError } from '../errors';
import { describeValue } from '../tensor';
import type { Module } from '../nn/module';
import { firstPartyHome } from './first-party';
import { resolveOptions } from './options';
import {
  SPECIFICATION_VERSION,
  type AnyPlugin,
  type GradientTransform,
  type GradientTransformName,
  type GradientTransformRegistry,
  type PostStepHookName,
  type PostStepHookRegistry,
  type Normalizer,
  type NormalizerChoice,
  type NormalizerName,
  type NormalizerPlugin,
  type NormalizerRegistry,
  type NormalizerSlot,
  type NormalizerTraits,
  type OptionValues,
  type OptionsSchema,
  type Parametrization,
  type PluginKind,
  type PluginOfKind,
  type PluginOptions,
  type PluginProduct,
  type WeightParametrizationName,
  type WeightParametrizationRegistry,
} from './types';

const REGISTRY_KEY = Symbol.for(`normkit.registry.${SPECIFICATION_VERSION}`);
const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const KINDS: readonly PluginKind[] = ['normalizer', 'weight-parametrization', 'gradient-transform', 'post-step-hook'];
/** The function that builds each kind, for messages that point at the right one. */
const CREATE_FUNCTION: Readonly<Record<PluginKind, string>> = {
  normalizer: 'create',
  'weight-parametrization': 'createParametrization',
  'gradient-transform': 'createGradientTransform',
  'post-step-hook': 'createPostStepHook',
};

const PLUGIN_FIELDS = ['specificationVersion', 'kind', 'name', 'family', 'description', 'options', 'traits', 'create'] as const;

/** True when every field is a plain data property (found without invoking any getter). */
function hasOnlyDataFields(plugin: object): boolean {
  for (const key of PLUGIN_FIELDS) {
    for (let holder: object | null = plugin; holder !== null; holder = Object.getPrototypeOf(holder) as object | null) {
      const descriptor = Object.getOwnPropertyDescriptor(holder, key);
      if (descriptor === undefined) continue;
      if (descriptor.get !== undefined || descriptor.set !== undefined) return false;
      break;
    }
  }
  return true;
}

/**
 * Validates a plugin, reading each field exactly once, and returns what the registry keeps: the
 * plugin itself when its fields are plain data properties (so `get(name)` is the registered
 * object), otherwise a frozen snapshot of the values that were validated, with the plugin as
 * prototype, so a getter answering differently on a later read cannot slip past the checks.
 */
function validatePlugin(op: string, plugin: AnyPlugin): AnyPlugin {
  // Plugins come from other packages (and plain JavaScript): check the shape at run time.
  if (typeof plugin !== 'object' || plugin === null) {
    throw new RegistryError({ op, expected: 'a plugin object', given: describeValue(plugin) });
  }
  const fields: Record<string, unknown> = {};
  for (const key of PLUGIN_FIELDS) if (key in plugin) fields[key] = (plugin as unknown as Record<string, unknown>)[key];
  const name = fields.name;
  if (typeof name !== 'string' || !KEBAB_CASE.test(name)) {
    throw new RegistryError({ op, expected: 'a kebab-case plugin name such as "batch-norm"', given: JSON.stringify(name) ?? String(name) });
  }
  if (fields.specificationVersion !== SPECIFICATION_VERSION) {
    throw new RegistryError({
      op,
      expected: `specificationVersion '${SPECIFICATION_VERSION}'`,
      given: `'${String(fields.specificationVersion)}' for plugin "${name}"`,
    });
  }
  if (!KINDS.includes(fields.kind as PluginKind)) {
    throw new RegistryError({ op, expected: `kind among ${KINDS.join(', ')}`, given: `'${String(fields.kind)}' for "${name}"` });
  }
  if (typeof fields.family !== 'string' || typeof fields.description !== 'string' || typeof fields.options !== 'object' || fields.options === null) {
    throw new RegistryError({ op, expected: 'family, description and options on the plugin', given: `plugin "${name}" missing one` });
  }
  if (typeof fields.create !== 'function') {
    throw new RegistryError({ op, expected: 'a create function on the plugin', given: `create = ${describeValue(fields.create)} for plugin "${name}"` });
  }
  if (fields.kind === 'normalizer' && typeof fields.traits !== 'function') {
    throw new RegistryError({ op, expected: 'a traits function on a normalizer plugin', given: `traits = ${describeValue(fields.traits)} for plugin "${name}"` });
  }
  if (hasOnlyDataFields(plugin)) return plugin;
  const snapshot = Object.create(plugin) as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) Object.defineProperty(snapshot, key, { value, enumerable: true });
  return Object.freeze(snapshot) as unknown as AnyPlugin;
}

/** Edit distance, for "did you mean" (names are short). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The closest candidate to a misspelt name: same letters ignoring case and separators, or at most two edits away. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  const squash = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const exact = candidates.find((c) => squash(c) === squash(name));
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(name.length / 3));
  for (const candidate of candidates) {
    const distance = editDistance(name.toLowerCase(), candidate);
    if (distance <= bestDistance && (best === undefined || distance < bestDistance)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

type SlotField = Exclude<keyof NormalizerSlot, 'normalizedShape'>;
const SLOT_COUNTS: readonly SlotField[] = ['numFeatures', 'conditionDim', 'numClasses', 'conditionChannels'];

/** A slot is written by the caller: name the slot field (`slot.numFeatures`), not an option it is later copied into. */
function checkSlot(op: string, slot: NormalizerSlot): void {
  if (typeof slot !== 'object' || slot === null) {
    throw new OptionError({ op, expected: 'a slot object such as { numFeatures: 64 }', given: describeValue(slot) });
  }
  for (const field of SLOT_COUNTS) {
    const value = slot[field];
    if (value === undefined && field !== 'numFeatures') continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      const given = typeof value === 'number' ? String(value) : describeValue(value);
      throw new OptionError({ op, expected: `slot.${field} to be a positive integer`, given: `slot.${field} = ${given}` });
    }
  }
  const shape = slot.normalizedShape;
  if (shape !== undefined && (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1))) {
    throw new OptionError({ op, expected: 'slot.normalizedShape to be a non-empty array of positive integers', given: `slot.normalizedShape = ${describeValue(shape)}` });
  }
}

/** Structural, not instanceof: a plugin built against another copy of @normkit/tensor returns that copy's classes. */
function checkProduct(op: string, name: string, built: unknown, what: string, method: string): void {
  const product = built as Partial<Record<'forward' | 'parameters' | 'train' | 'then' | 'apply', unknown>> | null;
  const ok =
    typeof product === 'object' && product !== null && typeof product[method as 'forward'] === 'function' &&
    (method === 'apply' || (typeof product.parameters === 'function' && typeof product.train === 'function'));
  if (!ok) {
    const given = typeof product?.then === 'function' ? 'a Promise (create must be synchronous)' : describeValue(built);
    throw new RegistryError({ op, expected: `plugin "${name}" to return ${what}`, given });
  }
}

/** Runs a plugin's own create, wrapping a non-normkit error so the message names the plugin. */
function build<T>(op: string, name: string, what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (isNormkitError(error)) throw error;
    throw new RegistryError({ op, expected: `plugin "${name}" to build ${what}`, given: `an error: ${String(error)}` });
  }
}

/** Filters for `list`. */
export interface ListFilter<K extends PluginKind = PluginKind> {
  family?: string;
  kind?: K;
}

/** Names the caller in messages when the registry is reached through another API (e.g. `TransformerBlock`). */
export interface CallerContext {
  op?: string;
}

// Set only while the module builds the global default registry around the shared map.
let adoptedMap: Map<string, AnyPlugin> | undefined;

/**
 * A set of plugins of every kind, built by name with their options validated against each
 * plugin's schema. `new Registry()` is an isolated set (tests, an app that wants its own); the
 * functions `register`, `create`, ... use the global default registry, which lives on `globalThis`
 * under a `Symbol.for` key so two copies of @normkit/tensor in one app share it. Registration is
 * explicit: importing a package registers nothing.
 *
 * @example
 * const registry = new Registry();
 * registry.registerAll(layerPlugins);
 * const norm = registry.create('layer-norm', { numFeatures: 64 }, { eps: 1e-6 }); // LayerNorm
 */
export class Registry {
  readonly #plugins: Map<string, AnyPlugin> = adoptedMap ?? new Map<string, AnyPlugin>();

  /** Adds a plugin; a name already registered is an error (has() tells, unregister() replaces). */
  register(plugin: AnyPlugin): void {
    const checked = validatePlugin('register', plugin);
    this.#refuseRegistered('register', plugin, checked.name);
    this.#plugins.set(checked.name, checked);
  }

  /** Registers several plugins: any invalid or already registered plugin throws before anything is added. */
  registerAll(plugins: readonly AnyPlugin[]): void {
    if (!Array.isArray(plugins)) {
      throw new RegistryError({ op: 'registerAll', expected: 'an array of plugins (e.g. registerAll(layerPlugins))', given: describeValue(plugins) });
    }
    const names = new Set<string>();
    const checked: AnyPlugin[] = [];
    for (const plugin of plugins as readonly AnyPlugin[]) {
      const snapshot = validatePlugin('registerAll', plugin);
      this.#refuseRegistered('registerAll', plugin, snapshot.name);
      if (names.has(snapshot.name)) {
        throw new RegistryError({ op: 'registerAll', expected: 'each plugin name once in the list', given: `"${snapshot.name}" twice` });
      }
      names.add(snapshot.name);
      checked.push(snapshot);
    }
    for (const plugin of checked) this.#plugins.set(plugin.name, plugin);
  }

  #refuseRegistered(op: string, plugin: AnyPlugin, name: string): void {
    const existing = this.#plugins.get(name);
    if (existing === undefined) return;
    const same = existing === plugin || Object.getPrototypeOf(existing) === plugin;
    throw new RegistryError(
      {
        op,
        expected: 'a plugin name not registered yet',
        given: same ? `"${name}", already registered (this same plugin)` : `"${name}", already registered by family "${existing.family}"`,
      },
      same
        ? `Check has("${name}") before registering, or unregister("${name}") first to register it again.`
        : `Call unregister("${name}") first to replace it (has("${name}") tells whether a name is taken).`,
    );
  }

  /** Removes a plugin by name; returns whether it was registered. */
  unregister(name: string): boolean {
    return this.#plugins.delete(name);
  }

  has(name: string): boolean {
    return this.#plugins.has(name);
  }

  /**
   * The plugin named `name`; with `kind`, one of that kind typed. An unknown name throws,
   * suggesting near misses and naming the package of a first-party plugin.
   */
  get<K extends PluginKind>(name: string, kind: K): PluginOfKind[K];
  get(name: string): AnyPlugin;
  get(name: string, kind?: PluginKind): AnyPlugin {
    return this.#lookup('get', name, kind);
  }

  /** Registered plugins, optionally of one family or kind, sorted by name; typed by kind. */
  list<K extends PluginKind>(filter: ListFilter<K> & { kind: K }): PluginOfKind[K][];
  list(filter?: ListFilter): AnyPlugin[];
  list(filter: ListFilter = {}): AnyPlugin[] {
    return [...this.#plugins.values()]
      .filter((p) => (filter.family === undefined || p.family === filter.family) && (filter.kind === undefined || p.kind === filter.kind))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Builds a registered normalizer, validating `options` against its schema. The name must be
   * one the type system knows (see NormalizerRegistry); names known only at run time go through
   * `createByName`.
   */
  create<N extends NormalizerName>(name: N, slot: NormalizerSlot, options?: PluginOptions<NormalizerRegistry[N]>): PluginProduct<NormalizerRegistry[N]> {
    return this.#createNormalizer('create', name, slot, options) as PluginProduct<NormalizerRegistry[N]>;
  }

  /** `create` for a name known only at run time (URL state, menus, plain JavaScript); validated at run time. */
  createByName(name: string, slot: NormalizerSlot, options?: Readonly<Record<string, unknown>>, caller: CallerContext = {}): Normalizer {
    return this.#createNormalizer(caller.op ?? 'createByName', name, slot, options);
  }

  /**
   * Builds a normalizer from a plugin object that need not be registered (a mixture's candidate,
   * a plugin kept private to an app), with the checks `register` and `create` make.
   */
  createFromPlugin(plugin: NormalizerPlugin, slot: NormalizerSlot, options?: Readonly<Record<string, unknown>>, caller: CallerContext = {}): Normalizer {
    return this.#createNormalizer(caller.op ?? 'createFromPlugin', plugin, slot, options);
  }

  #createNormalizer(op: string, target: string | NormalizerPlugin, slot: NormalizerSlot, options: Readonly<Record<string, unknown>> | undefined): Normalizer {
    // Only createFromPlugin passes an object; anything else is looked up as a name (and refused if not a string).
    const byObject = typeof target === 'object' && target !== null;
    const plugin = byObject ? this.#checkUnregistered(op, target, 'normalizer') : this.#lookup(op, target, 'normalizer');
    const name = plugin.name;
    const resolved = resolveOptions(`${op}("${name}")`, plugin.options, options);
    checkSlot(`${op}("${name}")`, slot);
    const built = build(`${op}("${name}")`, name, 'a normalizer', () => plugin.create(slot, resolved));
    checkProduct(`${op}("${name}")`, name, built, 'a normalizer (a Module with forward)', 'forward');
    return built;
  }

  /**
   * Builds a weight parametrization for `module[tensorName]` (registering it on the module is
   * `parametrize`'s job), validating `options` against the plugin's schema.
   */
  createParametrization<N extends WeightParametrizationName | (string & {})>(
    name: N,
    module: Module,
    tensorName: string,
    options?: N extends WeightParametrizationName ? PluginOptions<WeightParametrizationRegistry[N]> : Readonly<Record<string, unknown>>,
    caller: CallerContext = {},
  ): N extends WeightParametrizationName ? PluginProduct<WeightParametrizationRegistry[N]> : Parametrization {
    const op = caller.op ?? 'createParametrization';
    const plugin = this.#lookup(op, name, 'weight-parametrization');
    const resolved = resolveOptions(`${op}("${name}")`, plugin.options, options);
    const built = build(`${op}("${name}")`, name, 'a parametrization', () => plugin.create(module, tensorName, resolved));
    checkProduct(`${op}("${name}")`, name, built, 'a parametrization (a Module with forward)', 'forward');
    return built as never;
  }

  /** Builds a gradient transform (clipping, AGC), validating `options` against the plugin's schema. */
  createGradientTransform<N extends GradientTransformName | (string & {})>(
    name: N,
    options?: N extends GradientTransformName ? PluginOptions<GradientTransformRegistry[N]> : Readonly<Record<string, unknown>>,
    caller: CallerContext = {},
  ): N extends GradientTransformName ? PluginProduct<GradientTransformRegistry[N]> : GradientTransform {
    const op = caller.op ?? 'createGradientTransform';
    const plugin = this.#lookup(op, name, 'gradient-transform');
    const resolved = resolveOptions(`${op}("${name}")`, plugin.options, options);
    const built = build(`${op}("${name}")`, name, 'a gradient transform', () => plugin.create(resolved));
    checkProduct(`${op}("${name}")`, name, built, 'a gradient transform (an object with apply)', 'apply');
    return built as never;
  }

  /** Builds a post-step hook (run by optimizers after the update), validating `options` against the plugin's schema. */
  createPostStepHook<N extends PostStepHookName | (string & {})>(
    name: N,
    options?: N extends PostStepHookName ? PluginOptions<PostStepHookRegistry[N]> : Readonly<Record<string, unknown>>,
  ): N extends PostStepHookName ? PluginProduct<PostStepHookRegistry[N]> : PostStepHook {
    const op = 'createPostStepHook';
    const plugin = this.#lookup(op, name, 'post-step-hook');
    const resolved = resolveOptions(`${op}("${name}")`, plugin.options, options);
    const built = build(`${op}("${name}")`, name, 'a post-step hook', () => plugin.create(resolved));
    checkProduct(`${op}("${name}")`, name, built, 'a post-step hook (an object with apply)', 'apply');
    return built as never;
  }

  /**
   * The plugin of a kind and its options with defaults filled in and validated, without building
   * anything: for configs that echo resolved options and UIs that show a plugin's traits.
   */
  resolve<K extends PluginKind>(
    kind: K,
    target: string | PluginOfKind[K],
    options?: Readonly<Record<string, unknown>>,
    caller: CallerContext = {},
  ): {
    plugin: PluginOfKind[K];
    options: OptionValues<OptionsSchema>;
  } {
    const op = caller.op ?? 'resolve';
    const plugin = typeof target === 'string' ? this.#lookup(op, target, kind) : this.#checkUnregistered(op, target, kind);
    return { plugin, options: resolveOptions(`${op}("${plugin.name}")`, plugin.options, options) };
  }

  /** A plugin object used without registering it (a mixture's candidate): the checks `register` makes, and its kind. */
  #checkUnregistered<K extends PluginKind>(op: string, plugin: PluginOfKind[K], kind: K): PluginOfKind[K] {
    const checked = validatePlugin(op, plugin);
    if (checked.kind !== kind) {
      throw new RegistryError({ op, expected: `a ${kind} plugin`, given: `"${checked.name}", a ${checked.kind} plugin` });
    }
    return checked as PluginOfKind[K];
  }

  /**
   * A `{ name, options }` pair for a normalizer name known only at run time (a config file, a menu),
   * checked now (a registered normalizer, valid options) and typed as the `NormalizerChoice` that
   * `TransformerBlock` and the mixture take: the run-time counterpart of writing the pair literally.
   */
  normalizerChoice(name: string, options?: Readonly<Record<string, unknown>>, caller: CallerContext = {}): NormalizerChoice {
    this.resolve('normalizer', name, options, { op: caller.op ?? 'normalizerChoice' });
    return (options === undefined ? { name } : { name, options: { ...options } }) as unknown as NormalizerChoice;
  }

  /** The traits of a normalizer configured with `options` validated. */
  traits(name: string, options?: Readonly<Record<string, unknown>>, caller: CallerContext = {}): NormalizerTraits {
    const { plugin, options: resolved } = this.resolve('normalizer', name, options, { op: caller.op ?? 'traits' });
    return plugin.traits(resolved);
  }

  #lookup<K extends PluginKind>(op: string, name: string, kind: K | undefined): PluginOfKind[K] {
    if (typeof name !== 'string') {
      throw new RegistryError({ op, expected: `a plugin name (a string)`, given: describeValue(name) });
    }
    const plugin = this.#plugins.get(name);
    if (plugin !== undefined && (kind === undefined || plugin.kind === kind)) return plugin as PluginOfKind[K];
    const what = kind === undefined ? 'plugin' : kind;
    if (plugin !== undefined) {
      throw new RegistryError(
        { op, expected: `a ${what} name`, given: `"${name}", a ${plugin.kind} plugin` },
        `Build it with ${CREATE_FUNCTION[plugin.kind]}("${name}", ...).`,
      );
    }
    const candidates = [...this.#plugins.values()].filter((p) => kind === undefined || p.kind === kind).map((p) => p.name).sort();
    const home = firstPartyHome(name);
    const near = home === undefined ? closest(name, candidates) : undefined;
    const hint =
      home !== undefined
        ? `"${name}" is in ${home.packageName}: registerAll(${home.pluginsExport}) (import { ${home.pluginsExport} } from '${home.packageName}').`
        : near !== undefined
          ? `Did you mean "${near}"?`
          : undefined;
    const known = candidates.length
      ? `a registered ${what} name (known: ${candidates.join(', ')})`
      : `a registered ${what} name (none registered yet: call registerAll(plugins) or register(plugin))`;
    throw new RegistryError({ op, expected: known, given: JSON.stringify(name) }, hint);
  }
}

function defaultRegistryMap(): Map<string, AnyPlugin> {
  const holder = globalThis as unknown as Record<symbol, Map<string, AnyPlugin> | undefined>;
  return (holder[REGISTRY_KEY] ??= new Map<string, AnyPlugin>());
}

adoptedMap = defaultRegistryMap();
/** The global default registry that `register`, `create`, ... use. */
export const defaultRegistry = new Registry();
adoptedMap = undefined;

// The functions of the global default registry (bound, so they can be passed around).
export const register: Registry['register'] = (plugin) => defaultRegistry.register(plugin);
export const registerAll: Registry['registerAll'] = (plugins) => defaultRegistry.registerAll(plugins);
export const unregister: Registry['unregister'] = (name) => defaultRegistry.unregister(name);
export const has: Registry['has'] = (name) => defaultRegistry.has(name);
export const get: Registry['get'] = defaultRegistry.get.bind(defaultRegistry);
export const list: Registry['list'] = defaultRegistry.list.bind(defaultRegistry);
export const create: Registry['create'] = (name, slot, options) => defaultRegistry.create(name, slot, options);
export const createByName: Registry['createByName'] = (name, slot, options, caller) => defaultRegistry.createByName(name, slot, options, caller);
export const createFromPlugin: Registry['createFromPlugin'] = (plugin, slot, options, caller) => defaultRegistry.createFromPlugin(plugin, slot, options, caller);
export const createParametrization: Registry['createParametrization'] = (name, module, tensorName, options, caller) =>
  defaultRegistry.createParametrization(name, module, tensorName, options as never, caller);
export const createGradientTransform: Registry['createGradientTransform'] = (name, options, caller) =>
  defaultRegistry.createGradientTransform(name, options as never, caller);
export const createPostStepHook: Registry['createPostStepHook'] = (name, options) => defaultRegistry.createPostStepHook(name, options as never);
export const resolvePlugin: Registry['resolve'] = (kind, name, options, caller) => defaultRegistry.resolve(kind, name, options, caller);
export const normalizerChoice: Registry['normalizerChoice'] = (name, options, caller) => defaultRegistry.normalizerChoice(name, options, caller);
export const normalizerTraits: Registry['traits'] = (name, options, caller) => defaultRegistry.traits(name, options, caller);

/**
 * @deprecated Use `get(name, 'normalizer')`, or `create`/`createByName` to build one.
 * The normalizer plugin named `name`.
 */
export function getNormalizer(name: string): PluginOfKind['normalizer'] {
  return defaultRegistry.get(name, 'normalizer');
}
