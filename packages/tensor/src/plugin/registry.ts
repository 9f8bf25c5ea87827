import { RegistryError, isNormkitError } from '../errors';
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

function validatePlugin(plugin: AnyPlugin): void {
  // Plugins come from other packages (and plain JavaScript): check the shape at run time.
  const loose = plugin as unknown as Record<string, unknown>;
  const name = (plugin as { name?: unknown }).name;
  if (typeof name !== 'string' || !KEBAB_CASE.test(name)) {
    throw new RegistryError({ op: 'register', expected: 'a kebab-case plugin name such as "batch-norm"', given: JSON.stringify(name) });
  }
  if (loose.specificationVersion !== SPECIFICATION_VERSION) {
    throw new RegistryError({
      op: 'register',
      expected: `specificationVersion '${SPECIFICATION_VERSION}'`,
      given: `'${String(loose.specificationVersion)}' for plugin "${name}"`,
    });
  }
  const kinds: PluginKind[] = ['normalizer', 'weight-parametrization', 'gradient-transform'];
  if (!kinds.includes(loose.kind as PluginKind)) {
    throw new RegistryError({ op: 'register', expected: `kind among ${kinds.join(', ')}`, given: `'${String(loose.kind)}' for "${name}"` });
  }
  if (typeof plugin.family !== 'string' || typeof plugin.description !== 'string' || typeof plugin.options !== 'object') {
    throw new RegistryError({ op: 'register', expected: 'family, description and options on the plugin', given: `plugin "${name}" missing one` });
  }
}

/** Adds a plugin; a duplicate name is an error (unregister first to replace). */
export function register(plugin: AnyPlugin): void {
  validatePlugin(plugin);
  const map = plugins();
  const existing = map.get(plugin.name);
  if (existing) {
    throw new RegistryError(
      { op: 'register', expected: 'a plugin name not registered yet', given: `"${plugin.name}", already registered by family "${existing.family}"` },
      'Call unregister(name) first to replace it.',
    );
  }
  map.set(plugin.name, plugin);
}

/** Registers several plugins, skipping none: any duplicate throws before anything is added. */
export function registerAll(list: readonly AnyPlugin[]): void {
  const map = plugins();
  const names = new Set<string>();
  for (const plugin of list) {
    validatePlugin(plugin);
    if (map.has(plugin.name) || names.has(plugin.name)) {
      throw new RegistryError({ op: 'registerAll', expected: 'plugin names not registered yet', given: `"${plugin.name}" twice` });
    }
    names.add(plugin.name);
  }
  for (const plugin of list) map.set(plugin.name, plugin);
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
  try {
    return plugin.create(slot, resolved);
  } catch (error) {
    if (isNormkitError(error)) throw error;
    throw new RegistryError({ op: `create("${name}")`, expected: 'the plugin to build a normalizer', given: `an error: ${String(error)}` });
  }
}

/** Removes every plugin (tests only). */
export function clearRegistry(): void {
  plugins().clear();
}
