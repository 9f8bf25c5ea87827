import { ContextError, type Module } from '@normkit/tensor';

/**
 * What to put in place of a module: a replacement, or null to keep it and walk into its children.
 * Called once per distinct module (a module shared by two parents is replaced by one replacement).
 */
export type ModuleReplacer = (module: Module) => Module | null;

/** Points every own property (and array or Map slot) of `parent` that held `from` at `to`. */
function redirectReferences(op: string, parent: Module, from: Module, to: Module): void {
  const fields = parent as unknown as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === from) {
      if (!Reflect.set(fields, key, to)) {
        throw new ContextError({ op, expected: `a writable property "${key}"`, given: 'a read-only one' });
      }
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) if (value[i] === from) value[i] = to;
    } else if (value instanceof Map) {
      for (const [k, v] of value) if (v === from) value.set(k, to);
    }
  }
}

/**
 * Replaces modules throughout a model tree, as `convertSyncBatchNorm` and `freezeBatchNorm` do, and
 * returns the root (or its replacement). Each swap updates the parent's registered child and every
 * field, array slot or Map value of the parent that referenced the old module (Sequential's layer
 * list, `this.norm = ...` fields); replacements are not walked into.
 */
export function replaceModules<M extends Module>(op: string, root: M, replace: ModuleReplacer): M {
  const swapped = new Map<Module, Module | null>();
  const replacementOf = (module: Module): Module | null => {
    if (!swapped.has(module)) swapped.set(module, replace(module));
    return swapped.get(module)!;
  };
  const visited = new Set<Module>();
  const walk = (parent: Module): void => {
    if (visited.has(parent)) return;
    visited.add(parent);
    for (const [name, child] of [...parent.namedChildren()]) {
      const replacement = replacementOf(child);
      if (replacement) {
        parent.registerModule(name, replacement);
        redirectReferences(op, parent, child, replacement);
      } else {
        walk(child);
      }
    }
  };
  const rootReplacement = replacementOf(root);
  if (rootReplacement) return rootReplacement as M;
  walk(root);
  return root;
}
