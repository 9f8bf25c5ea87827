import { list, type Module } from '@normkit/tensor';
import { OnnxExportError } from './errors';
import type { LowerFunction } from './graph';

/** The literal version of the lowering interface; lowerings and the exporter evolve on separate schedules. */
export const LOWERING_VERSION = 'v1' as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a constructor of any arity
export type ModuleClass<M extends Module = Module> = abstract new (...args: any[]) => M;

/** How instances of exactly one module class lower to ONNX. */
export interface OnnxLowering<M extends Module = Module> {
  readonly loweringVersion: typeof LOWERING_VERSION;
  /** The class it lowers; subclasses are not matched (they may override forward). */
  readonly module: ModuleClass<M>;
  readonly lower: LowerFunction<M>;
}

/** Identity helper that checks a lowering literal and ties `lower`'s module type to the class. */
export function defineLowering<M extends Module>(lowering: OnnxLowering<M>): OnnxLowering<M> {
  return lowering;
}

const REGISTRY_KEY = Symbol.for('normkit.onnx.lowerings');

/** One table per process, shared by every copy of this package (like the plugin registry). */
function table(): Map<ModuleClass, OnnxLowering> {
  const holder = globalThis as unknown as Record<symbol, Map<ModuleClass, OnnxLowering> | undefined>;
  return (holder[REGISTRY_KEY] ??= new Map<ModuleClass, OnnxLowering>());
}

/** Registers (or replaces) the lowering of `lowering.module` for every later export. */
export function registerLowering<M extends Module>(lowering: OnnxLowering<M>): void {
  table().set(lowering.module, lowering as unknown as OnnxLowering);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a lowering of any module class
export type AnyLowering = OnnxLowering<any>;

export function registerLowerings(lowerings: Iterable<AnyLowering>): void {
  for (const lowering of lowerings) registerLowering(lowering as unknown as OnnxLowering);
}

export function unregisterLowering(module: ModuleClass): boolean {
  return table().delete(module);
}

export function getLowering(module: ModuleClass): OnnxLowering | undefined {
  return table().get(module);
}

/**
 * The lowering a registered normalizer plugin carries in its optional `onnx` field (plugin
 * specification v1) for exactly this class, if any; a hook of another lowering version is refused
 * naming the plugin.
 */
export function getPluginLowering(module: ModuleClass): OnnxLowering | undefined {
  for (const plugin of list({ kind: 'normalizer' })) {
    const hook = plugin.kind === 'normalizer' ? plugin.onnx : undefined;
    if (hook === undefined || hook.module !== module) continue;
    if (hook.loweringVersion !== LOWERING_VERSION || typeof hook.lower !== 'function') {
      throw new OnnxExportError({
        op: 'exportOnnx',
        expected: `plugin onnx hooks with loweringVersion '${LOWERING_VERSION}' and a lower function`,
        given: `loweringVersion '${String(hook.loweringVersion)}', lower = ${typeof hook.lower} on plugin "${plugin.name}"`,
      });
    }
    return hook as unknown as OnnxLowering;
  }
  return undefined;
}
