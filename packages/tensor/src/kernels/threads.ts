import { ValueError } from '../errors';
import { getBackend } from './backend';
import { parseThreadCount, requestedThreads, setRequestedThreads } from './thread-state';
import { poolSupport, type ThreadSupport } from './wasm/pool';
import { wasmHasThreadPool } from './wasm/backend';

export type { ThreadSupport };

/**
 * Sets how many threads the `wasm` backend's kernels split large work over (the calling thread
 * included), like PyTorch's `torch.set_num_threads`. The default is the machine's available
 * parallelism (or the `NORMKIT_THREADS` environment variable). Results are the same bits for any
 * count; small tensors stay on one thread whatever the setting. The `js` backend is always single
 * threaded, and so is a browser page's main thread (it may not block); see `threadSupport()`.
 *
 * When several data-parallel workers (`WorkerProcessGroup`) share a machine, give each
 * `floor(cores / workers)` threads so the two kinds of parallelism do not oversubscribe the cores.
 *
 * @example
 * setNumThreads(1); // reproduce a single-thread timing
 */
export function setNumThreads(n: number): void {
  const parsed = parseThreadCount(n);
  if (parsed === null) throw new ValueError({ op: 'setNumThreads', expected: 'a whole number of threads from 1 to 1024', given: String(n) });
  setRequestedThreads(parsed);
}

/**
 * The number of threads kernels use now: the requested count on the `wasm` backend where a thread
 * pool runs, else 1.
 */
export function getNumThreads(): number {
  if (getBackend() !== 'wasm' || !wasmHasThreadPool()) return 1;
  return requestedThreads();
}

/**
 * Whether kernels can use threads here, and if not, why: a browser page needs cross-origin isolation
 * (COOP same-origin and COEP require-corp) for SharedArrayBuffer, and its main thread may not block.
 */
export function threadSupport(): ThreadSupport {
  return poolSupport();
}
