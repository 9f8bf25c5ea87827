// tfjs as a comparator: tfjs-core with its CPU (plain JS) and WebAssembly backends, both in this process.
import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
// tfjs-core's Node entry (a CommonJS bundle) registers kernels but no gradients; the gradient
// definitions ship only as ES modules, which tsup bundles into dist/main.js (see tsup.config.ts).
// They register into tfjs's global registry, which every copy of tfjs-core shares.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import type { Tfjs } from './harness';

export type TfjsBackend = 'cpu' | 'wasm';

let wasmConfigured = false;

/** Points the wasm backend at the .wasm files inside its installed package (no network) and turns threads off. */
function configureWasm(): void {
  if (wasmConfigured) return;
  const require = createRequire(import.meta.url);
  // The package's Node entry lives in dist/, next to tfjs-backend-wasm{,-simd,-threaded-simd}.wasm.
  const distFolder = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
  // Emscripten under Node reads the file with fs, so a plain path (with trailing separator) is what it needs.
  setWasmPaths(`${distFolder}${sep}`);
  // Single-threaded SIMD build: Node has no threaded wasm support in tfjs, but say so rather than rely on detection.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasmConfigured = true;
}

/** Switches tfjs to `backend` and returns the namespace, or throws why the backend cannot start. */
export async function useTfjsBackend(backend: TfjsBackend): Promise<Tfjs> {
  if (backend === 'wasm') configureWasm();
  // Production mode, as a deployed model would run; it also silences the advice to install tfjs-node.
  tf.enableProdMode();
  const ok = await tf.setBackend(backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== backend) throw new Error(`tfjs backend '${backend}' failed to initialise`);
  return tf;
}

/** A description of the tfjs setup for the results file. */
export async function tfjsInfo(): Promise<Record<string, unknown>> {
  return {
    version: tf.version_core,
    wasmSimd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    wasmThreads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
  };
}

/**
 * Runs a case's tfjs factory inside an engine scope, so the inputs it makes are disposed afterwards,
 * and returns the closure to time plus the function that ends the scope.
 */
export function scopedFactory(factory: (tf: Tfjs) => () => unknown): { make: () => () => unknown; dispose: () => void } {
  tf.engine().startScope();
  return {
    make: () => factory(tf),
    dispose: () => tf.engine().endScope(),
  };
}
