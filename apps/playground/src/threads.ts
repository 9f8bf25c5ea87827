// Intra-op threads of a run's worker: how many @normkit/tensor may use, and whether it can at all.
import { getNumThreads, setNumThreads, threadSupport } from '@normkit/tensor';

/** What a worker reports about its threads. */
export interface ThreadInfo {
  /** Threads the kernels use now (1 when threads are unavailable). */
  threads: number;
  available: boolean;
  /** Why threads are unavailable (null when they are available). */
  reason: string | null;
}

/** Threads for each of `activeRuns` runs on a machine with `cores` logical cores: max(1, floor(cores / activeRuns)). */
export function threadsPerRun(cores: number, activeRuns: number): number {
  if (!Number.isFinite(cores) || cores < 1) return 1;
  return Math.max(1, Math.floor(cores / Math.max(1, activeRuns)));
}

/** Why this context cannot share memory between threads, or null when it can (browser or Node). */
export function isolationProblem(scope: { crossOriginIsolated?: boolean; SharedArrayBuffer?: unknown } = globalThis): string | null {
  if (typeof scope.SharedArrayBuffer !== 'function') {
    return 'this browser gives no SharedArrayBuffer here: the page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, which `npm start` and the dev server send but a plain static host does not)';
  }
  if (scope.crossOriginIsolated === false) {
    return 'the page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, which `npm start` and the dev server send but a plain static host does not)';
  }
  return null;
}

/**
 * Asks @normkit/tensor for `wanted` threads and reports what it uses. Where threads are
 * unavailable (no cross-origin isolation, the js backend) the run stays on one thread and the
 * report says why.
 */
export function applyThreads(wanted: number): ThreadInfo {
  const support = threadSupport();
  if (!support.available) return { threads: 1, available: false, reason: support.reason ?? isolationProblem() ?? 'threads are unavailable here' };
  setNumThreads(Math.max(1, Math.floor(wanted)));
  return { threads: getNumThreads(), available: true, reason: null };
}
