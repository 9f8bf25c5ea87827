import { ValueError } from '../errors';
import { globalState } from '../global-state';
import { jsKernels } from './js/table';
import type { BackendName, KernelTable } from './types';
import { wasmKernels } from './wasm/backend';

const BACKENDS: readonly BackendName[] = ['js', 'wasm'];

interface BackendState {
  name: BackendName | null;
}

/** The backend choice, shared by every copy of @normkit/tensor in the program (see global-state.ts). */
function state(): BackendState {
  return globalState<BackendState>('normkit.backend', () => ({ name: null }));
}

function environmentChoice(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = env?.NORMKIT_BACKEND;
  return value === undefined || value === '' ? undefined : value;
}

function checkName(op: string, name: unknown): BackendName {
  if (typeof name !== 'string' || !BACKENDS.includes(name as BackendName)) {
    throw new ValueError({ op, expected: `a backend name (${BACKENDS.map((b) => `'${b}'`).join(' or ')})`, given: typeof name === 'string' ? `'${name}'` : String(name) });
  }
  return name as BackendName;
}

/**
 * The compute backend in use: `'wasm'` (WebAssembly SIMD128) by default wherever the module
 * instantiates (Node 20, every current browser, Web Workers), else `'js'`. The `NORMKIT_BACKEND`
 * environment variable (`js` or `wasm`) sets the starting choice, for tests and CI.
 */
export function getBackend(): BackendName {
  return activeKernels().name;
}

/**
 * Chooses the compute backend for every kernel that follows. `'wasm'` throws where WebAssembly
 * SIMD128 is unavailable (the default quietly falls back to `'js'` instead).
 *
 * @example
 * setBackend('js');   // the reference loops, e.g. to compare
 * setBackend('wasm'); // SIMD128 kernels
 */
export function setBackend(name: BackendName): void {
  const chosen = checkName('setBackend', name);
  if (chosen === 'wasm' && wasmKernels() === null) {
    throw new ValueError({ op: 'setBackend', expected: 'a runtime with WebAssembly SIMD128 for the wasm backend', given: 'none here' });
  }
  state().name = chosen;
}

/** The kernel table of the current backend. */
export function activeKernels(): KernelTable {
  const current = state();
  if (current.name === null) {
    const fromEnvironment = environmentChoice();
    if (fromEnvironment !== undefined) {
      setBackend(checkName('NORMKIT_BACKEND', fromEnvironment));
    } else {
      current.name = wasmKernels() !== null ? 'wasm' : 'js';
    }
  }
  return current.name === 'wasm' ? wasmKernels()! : jsKernels;
}

/** The kernel table of a named backend (for tests and benchmarks that compare backends). */
export function kernelsOf(name: BackendName): KernelTable {
  const chosen = checkName('kernelsOf', name);
  if (chosen === 'js') return jsKernels;
  const table = wasmKernels();
  if (table === null) throw new ValueError({ op: 'kernelsOf', expected: 'a runtime with WebAssembly SIMD128', given: 'none here' });
  return table;
}
