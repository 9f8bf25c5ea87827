import { RegistryError, isNormkitError } from '../errors';
import { describeValue } from '../tensor';
import { resolveOptions } from './options';
import {
  SPECIFICATION_VERSION,
  type AnyPlugin,
  type Normalizer,
  type NormalizerPlugin,
  type NormalizerSlot,
  type PluginKind,
} from './types';

const REGISTRY_KEY = Symbol.for(`normkit.registry.${SPECIFICATION_VERSION}`);
const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * The plugin registry: a plain Map on `globalThis` under a `Symbol.for` key, so two copies of
 * @normkit/tensor in one app share it. Registration is explicit: importing a package registers
 * nothing. First-party plugins use exactly these calls.
 */
function plugins(): Map<string, AnyPlugin> {
  const holder = globalThis as unknown as Record<symbol, Map<string, AnyPlugin> | undefined>;
  return (holder[REGISTRY_KEY] ??= new Map<string, AnyPlugin>());
}

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
  const kinds: PluginKind[] = ['normalizer', 'weight-parametrization', 'gradient-transform'];
  if (!kinds.includes(fields.kind as PluginKind)) {
    throw new RegistryError({ op, expected: `kind among ${kinds.join(', ')}`, given: `'${String(fields.kind)}' for "${name}"` });
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

/** Adds a plugin; a duplicate name is an error (unregister first to replace). */
export function register(plugin: AnyPlugin): void {
  const checked = validatePlugin('register', plugin);
  const map = plugins();
  const existing = map.get(checked.name);
  if (existing) {
    throw new RegistryError(
      { op: 'register', expected: 'a plugin name not registered yet', given: `"${checked.name}", already registered by family "${existing.family}"` },
      'Call unregister(name) first to replace it.',
    );
  }
  map.set(checked.name, checked);
}

/** Registers several plugins, skipping none: any invalid or duplicate plugin throws before anything is added. */
export function registerAll(list: readonly AnyPlugin[]): void {
  const map = plugins();
  const names = new Set<string>();
  const checked: AnyPlugin[] = [];
  for (const plugin of list) {
    const snapshot = validatePlugin('registerAll', plugin);
    if (map.has(snapshot.name) || names.has(snapshot.name)) {
      throw new RegistryError({ op: 'registerAll', expected: 'plugin names not registered yet', given: `"${snapshot.name}" twice` });
    }
    names.add(snapshot.name);
    checked.push(snapshot);
  }
  for (const plugin of checked) map.set(plugin.name, plugin);
}

/** Removes a plugin; returns whether it was registered. */
export function unregister(name: string): boolean {
  return plugins().delete(name);
}

export function has(name: string): boolean {
  return plugins().has(name);
}

/** The plugin named `name`; an unknown name throws, listing the known ones. */
export function get(name: string): AnyPlugin {
  const plugin = plugins().get(name);
  if (!plugin) {
    const known = [...plugins().keys()].sort();
    throw new RegistryError({
      op: 'get',
      expected: known.length ? `a registered plugin name (known: ${known.join(', ')})` : 'a registered plugin name (none are registered yet: call register(plugin))',
      given: JSON.stringify(name),
    });
  }
  return plugin;
}

export function getNormalizer(name: string): NormalizerPlugin {
  const plugin = get(name);
  if (plugin.kind !== 'normalizer') {
    throw new RegistryError({ op: 'getNormalizer', expected: 'a normalizer plugin', given: `"${name}" of kind ${plugin.kind}` });
  }
  return plugin;
}

/** Registered plugins, optionally of one family or kind, sorted by name. */
export function list(filter: { family?: string; kind?: PluginKind } = {}): AnyPlugin[] {
  return [...plugins().values()]
    .filter((p) => (filter.family === undefined || p.family === filter.family) && (filter.kind === undefined || p.kind === filter.kind))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Builds a normalizer by name, validating `options` against its schema. */
export function create(name: string, slot: NormalizerSlot, options: Record<string, unknown> = {}): Normalizer {
  const plugin = getNormalizer(name);
  const resolved = resolveOptions(plugin.name, plugin.options, options);
  let built: unknown;
  try {
    built = plugin.create(slot, resolved);
  } catch (error) {
    if (isNormkitError(error)) throw error;
    throw new RegistryError({ op: `create("${name}")`, expected: 'the plugin to build a normalizer', given: `an error: ${String(error)}` });
  }
  // Structural, not instanceof: a plugin built against another copy of @normkit/tensor returns that copy's Module.
  const module = built as Partial<Record<'forward' | 'parameters' | 'train' | 'then', unknown>> | null;
  const isModule =
    typeof module === 'object' && module !== null && typeof module.forward === 'function' &&
    typeof module.parameters === 'function' && typeof module.train === 'function';
  if (!isModule) {
    const given = typeof module?.then === 'function' ? 'a Promise (create must be synchronous)' : describeValue(built);
    throw new RegistryError({ op: `create("${name}")`, expected: `plugin "${name}" to return a normalizer (a Module with forward)`, given });
  }
  return built as Normalizer;
}

/** Removes every plugin (tests only). */
export function clearRegistry(): void {
  plugins().clear();
}
