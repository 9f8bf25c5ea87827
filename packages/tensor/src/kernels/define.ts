import { ValueError } from '../errors';
import { getBackend } from './backend';
import type { BackendName } from './types';

/** A plugin's own hot loop with one implementation per backend; `js` is required and is the reference. */
export interface KernelDefinition<Args, Result> {
  /** Shown in errors, e.g. `dyt.forward`. */
  name: string;
  js: (args: Args) => Result;
  /** Optional faster version for the `wasm` backend (the plugin's own WebAssembly); `js` runs when absent. */
  wasm?: (args: Args) => Result;
}

/**
 * A kernel outside the core's table, for plugin authors (the pattern of tfjs's per-backend kernel
 * registry): returns a function that runs the implementation of the backend in use, falling back to
 * `js` where the plugin has none. Test the two against each other like the core's kernels.
 *
 * @example
 * const scaleShift = defineKernel({
 *   name: 'myPlugin.scaleShift',
 *   js: ({ x, out, a, b }: { x: Float32Array; out: Float32Array; a: number; b: number }) => {
 *     for (let i = 0; i < x.length; i++) out[i] = x[i]! * a + b;
 *   },
 * });
 * scaleShift({ x, out, a: 2, b: 1 });
 */
export function defineKernel<Args, Result>(definition: KernelDefinition<Args, Result>): (args: Args) => Result {
  const { name, js, wasm } = definition;
  if (typeof name !== 'string' || name === '' || typeof js !== 'function' || (wasm !== undefined && typeof wasm !== 'function')) {
    throw new ValueError({
      op: 'defineKernel',
      expected: 'a name, a js function and optionally a wasm function',
      given: `name ${JSON.stringify(name)}, js ${typeof js}, wasm ${typeof wasm}`,
    });
  }
  const implementations: Record<BackendName, (args: Args) => Result> = { js, wasm: wasm ?? js };
  return (args: Args) => implementations[getBackend()](args);
}
