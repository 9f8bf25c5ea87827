import { globalState } from '../global-state';

/**
 * The requested intra-op thread count, shared like the backend choice by every copy of
 * @normkit/tensor in one program (see global-state.ts). A leaf: the wasm backend reads it and
 * the public `setNumThreads` / `getNumThreads` (threads.ts) write and report it.
 */
interface ThreadState {
  requested: number | null;
}

function state(): ThreadState {
  return globalState<ThreadState>('normkit.threads', () => ({ requested: null }));
}

interface NodeProcess {
  env?: Record<string, string | undefined>;
  getBuiltinModule?: (name: string) => unknown;
}

function nodeProcess(): NodeProcess | undefined {
  return (globalThis as { process?: NodeProcess }).process;
}

/** The machine's available parallelism: `os.availableParallelism()` in Node, `navigator.hardwareConcurrency` in browsers. */
export function machineParallelism(): number {
  const os = nodeProcess()?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  const fromNode = os?.availableParallelism?.();
  if (typeof fromNode === 'number' && fromNode >= 1) return fromNode;
  const fromBrowser = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof fromBrowser === 'number' && fromBrowser >= 1 ? fromBrowser : 1;
}

/** A positive integer, or the reason it is not (for the caller's typed error). */
export function parseThreadCount(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 1024 ? n : null;
}

/** The requested count: setNumThreads, else NORMKIT_THREADS, else the machine's parallelism. */
export function requestedThreads(): number {
  const current = state();
  if (current.requested === null) {
    const fromEnvironment = nodeProcess()?.env?.NORMKIT_THREADS;
    const parsed = fromEnvironment === undefined || fromEnvironment === '' ? null : parseThreadCount(fromEnvironment);
    if (fromEnvironment !== undefined && fromEnvironment !== '' && parsed === null) {
      throw new RangeError(`NORMKIT_THREADS: expected a whole number of threads from 1 to 1024, given '${fromEnvironment}'`);
    }
    current.requested = parsed ?? machineParallelism();
  }
  return current.requested;
}

export function setRequestedThreads(n: number): void {
  state().requested = n;
}
