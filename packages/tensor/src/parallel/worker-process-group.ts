import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { machineParallelism, parseThreadCount } from '../kernels/thread-state';
import {
  ContextError, DTypeError, OptionError, RegistryError, ShapeError, StateDictError, ValueError, type ErrorDetails, type NormkitError,
} from '../errors';
import {
  checkCollectivesAgree, checkGroupSize, checkRoot, type CollectiveCall, type CollectiveKind, type ProcessGroup,
} from './process-group';

/**
 * The shared state of one worker group: plain data (two SharedArrayBuffers and numbers), so it
 * can be sent to workers in `workerData`. Made by `WorkerProcessGroup.createShared`.
 */
export interface SharedGroupHandle {
  readonly size: number;
  /** Float64 values each rank can contribute per round; longer buffers go in several rounds. */
  readonly capacity: number;
  /** Milliseconds a rank waits for the others at a collective before failing (Infinity: no limit). */
  readonly timeoutMs: number;
  /** Int32 control words: arrival count, generation (its low bit: aborted), abort record, then per-rank headers. */
  readonly control: SharedArrayBuffer;
  /** Float64 contributions: 2 parities x size ranks x capacity. */
  readonly data: SharedArrayBuffer;
}

export interface SharedGroupOptions {
  /** Float64 values per rank and round (default 65536: 512 KiB per rank and parity). */
  capacity?: number;
  /**
   * Milliseconds a rank waits for the others at one collective before it fails and aborts the
   * group. Default 30 minutes, PyTorch's default process-group timeout: a replica that dies or
   * spins without reaching the collective cannot hang training for ever. Infinity: no limit.
   */
  timeoutMs?: number;
}

/** PyTorch's default `timeout` of `init_process_group`: 30 minutes. */
export const DEFAULT_COLLECTIVE_TIMEOUT_MS = 30 * 60 * 1000;

/**
 * Why a group was aborted: a rank threw (`failed`), returned from its replica function, so no
 * collective can complete any more (`returned`), its worker exited before returning (`exited`),
 * it waited at a collective longer than `timeoutMs` (`timedOut`), or someone called `abort`
 * without a reason (`aborted`).
 */
export type GroupAbortReason = 'failed' | 'returned' | 'exited' | 'timedOut' | 'aborted';

/** Who aborted a group (-1: not a rank, e.g. the launcher) and why; the first abort wins. */
export interface GroupAbortState {
  rank: number;
  reason: GroupAbortReason;
}

const ABORT_REASONS: GroupAbortReason[] = ['failed', 'returned', 'exited', 'timedOut', 'aborted'];

/**
 * What a rank throws from a collective once the group is aborted (another rank failed, returned
 * or exited): the collective can never complete. `runWorkers` reports the original failure, not
 * this, when there is one. Recognise it by class or by `name === 'CollectiveAbortedError'`.
 */
export class CollectiveAbortedError extends ContextError {
  override name = 'CollectiveAbortedError';
  /** Marks an error caused by another rank (the launcher prefers the original one). */
  readonly peerFailure = true;

  constructor(
    details: ErrorDetails,
    /** The rank that aborted the group, or -1 when it was aborted from outside the ranks. */
    readonly abortedBy: number,
    readonly reason: GroupAbortReason,
  ) {
    super(details, 'The group is aborted: no collective of it can complete any more.');
  }
}

function describeAbort(state: GroupAbortState): string {
  const who = state.rank >= 0 ? `rank ${state.rank}` : 'the launcher';
  switch (state.reason) {
    case 'failed': return state.rank >= 0 ? `rank ${state.rank} failed` : 'the group was aborted';
    case 'returned': return `${who} returned from its replica function, so it takes part in no more collectives`;
    case 'exited': return `${who}'s worker exited`;
    case 'timedOut': return `${who} timed out waiting at a collective`;
    case 'aborted': return state.rank >= 0 ? `${who} aborted the group` : 'the group was aborted';
  }
}

const ARRIVED = 0;
/** Completed rounds times 2, plus 1 once aborted: one word, so a waiter cannot miss an abort's wake-up. */
const GENERATION = 1;
/** 0, or reason code * 65536 + (rank + 1), written once by the first abort. */
const ABORT = 2;
const HEADER_BASE = 3;
const HEADER_WORDS = 3;
const KIND_CODES: Record<CollectiveKind, number> = { allReduce: 1, broadcast: 2, barrier: 3 };
const KIND_NAMES: CollectiveKind[] = ['allReduce', 'allReduce', 'broadcast', 'barrier'];

/**
 * A process group of worker threads (or any agents sharing memory) over a SharedArrayBuffer,
 * synchronised with `Atomics.wait` / `Atomics.notify`: collectives block the calling thread, which
 * is what SyncBatchNorm needs inside a synchronous backward (message passing cannot serve there).
 *
 * Each collective is one round: every rank writes a header (op, length, root) and its values into
 * its own slot, meets the others at a barrier, checks the headers agree, then reads. Slots and
 * headers alternate between two parities, so a fast rank writing round k + 1 never overwrites what
 * a slow rank still reads from round k, and one barrier per round suffices. allReduce sums in rank
 * order on every rank: all ranks get bitwise the same result (the same as `InProcessGroup`).
 *
 * Usually made for you by `runWorkers`; to wire it yourself, call `createShared(size)` on the main
 * thread, send the handle to each worker and build `new WorkerProcessGroup(handle, rank)` there.
 */
export class WorkerProcessGroup implements ProcessGroup {
  readonly size: number;
  private readonly control: Int32Array;
  private readonly values: Float64Array;
  private readonly capacity: number;
  private readonly timeoutMs: number;
  private round = 0;

  constructor(
    readonly handle: SharedGroupHandle,
    readonly rank: number,
  ) {
    this.size = handle.size;
    checkRoot('WorkerProcessGroup', rank, this.size);
    this.control = new Int32Array(handle.control);
    this.values = new Float64Array(handle.data);
    this.capacity = handle.capacity;
    this.timeoutMs = handle.timeoutMs;
  }

  /** Allocates the shared state of a group of `size` ranks. */
  static createShared(size: number, options: SharedGroupOptions = {}): SharedGroupHandle {
    checkGroupSize('WorkerProcessGroup.createShared', size);
    const capacity = options.capacity ?? 65_536;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new ContextError({ op: 'WorkerProcessGroup.createShared', expected: 'a positive integer capacity', given: `${capacity}` });
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_COLLECTIVE_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      throw new ContextError({ op: 'WorkerProcessGroup.createShared', expected: 'timeoutMs > 0 (Infinity: no limit)', given: `timeoutMs = ${String(timeoutMs)}` });
    }
    return {
      size,
      capacity,
      timeoutMs,
      control: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (HEADER_BASE + 2 * size * HEADER_WORDS)),
      data: new SharedArrayBuffer(Float64Array.BYTES_PER_ELEMENT * 2 * size * capacity),
    };
  }

  /**
   * Marks the group aborted and wakes every waiting rank, which then throws a
   * `CollectiveAbortedError`, as does every later collective. Called when a replica fails, returns
   * or exits (by `runWorkers`, or by you), so the others do not wait forever. The first abort's
   * rank and reason are kept.
   */
  static abort(handle: SharedGroupHandle, rank = -1, reason: GroupAbortReason = 'failed'): void {
    const control = new Int32Array(handle.control);
    const record = (ABORT_REASONS.indexOf(reason) + 1) * 65_536 + ((rank + 1) & 0xffff);
    Atomics.compareExchange(control, ABORT, 0, record);
    Atomics.or(control, GENERATION, 1);
    Atomics.notify(control, GENERATION);
  }

  /** Who aborted the group and why, or null while it runs. */
  static abortState(handle: SharedGroupHandle): GroupAbortState | null {
    const record = Atomics.load(new Int32Array(handle.control), ABORT);
    if (record === 0) return null;
    return { rank: (record & 0xffff) - 1, reason: ABORT_REASONS[Math.floor(record / 65_536) - 1] ?? 'aborted' };
  }

  /** Aborts the group as this rank (see the static `abort`). */
  abort(reason: GroupAbortReason = 'failed'): void {
    WorkerProcessGroup.abort(this.handle, this.rank, reason);
  }

  allReduce(buffer: Float64Array): void {
    const length = buffer.length;
    let offset = 0;
    do {
      const count = Math.min(this.capacity, length - offset);
      const parity = this.beginRound('allReduce', length, 0);
      this.slot(parity, this.rank).set(buffer.subarray(offset, offset + count));
      this.meet('allReduce', parity);
      for (let i = 0; i < count; i++) buffer[offset + i] = 0;
      for (let r = 0; r < this.size; r++) {
        const slot = this.slot(parity, r);
        for (let i = 0; i < count; i++) buffer[offset + i]! += slot[i]!;
      }
      offset += count;
    } while (offset < length);
  }

  broadcast(buffer: Float64Array, root: number): void {
    checkRoot('WorkerProcessGroup.broadcast', root, this.size);
    const length = buffer.length;
    let offset = 0;
    do {
      const count = Math.min(this.capacity, length - offset);
      const parity = this.beginRound('broadcast', length, root);
      if (this.rank === root) this.slot(parity, root).set(buffer.subarray(offset, offset + count));
      this.meet('broadcast', parity);
      if (this.rank !== root) buffer.set(this.slot(parity, root).subarray(0, count), offset);
      offset += count;
    } while (offset < length);
  }

  barrier(): void {
    const parity = this.beginRound('barrier', 0, 0);
    this.meet('barrier', parity);
  }

  private slot(parity: number, rank: number): Float64Array {
    const start = (parity * this.size + rank) * this.capacity;
    return this.values.subarray(start, start + this.capacity);
  }

  private beginRound(kind: CollectiveKind, length: number, root: number): number {
    const parity = this.round & 1;
    this.round++;
    const header = HEADER_BASE + (parity * this.size + this.rank) * HEADER_WORDS;
    this.control[header] = KIND_CODES[kind];
    this.control[header + 1] = length;
    this.control[header + 2] = root;
    return parity;
  }

  /** The barrier of a round, then the header check (every rank reads the same headers). */
  private meet(kind: CollectiveKind, parity: number): void {
    this.arriveAndWait(kind);
    const calls: CollectiveCall[] = [];
    for (let r = 0; r < this.size; r++) {
      const header = HEADER_BASE + (parity * this.size + r) * HEADER_WORDS;
      calls.push({ kind: KIND_NAMES[this.control[header]!]!, length: this.control[header + 1]!, root: this.control[header + 2]! });
    }
    checkCollectivesAgree('WorkerProcessGroup', calls);
  }

  /**
   * A central-counter barrier: the last rank to arrive resets the count and adds 2 to the
   * generation. An abort sets the generation's low bit, so a waiter wakes on either (no lost
   * wake-up between checking the flag and waiting), and tells them apart by the round bits.
   */
  private arriveAndWait(kind: CollectiveKind): void {
    const control = this.control;
    const generation = Atomics.load(control, GENERATION);
    if ((generation & 1) !== 0) this.throwAborted(kind);
    if (Atomics.add(control, ARRIVED, 1) === this.size - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 2);
      Atomics.notify(control, GENERATION);
      return;
    }
    const deadline = Number.isFinite(this.timeoutMs) ? Date.now() + this.timeoutMs : Infinity;
    for (;;) {
      const current = Atomics.load(control, GENERATION);
      // The round completed (every rank arrived), even if an abort came in after.
      if (((current ^ generation) & ~1) !== 0) return;
      if ((current & 1) !== 0) this.throwAborted(kind);
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        WorkerProcessGroup.abort(this.handle, this.rank, 'timedOut');
        throw new ContextError({
          op: `WorkerProcessGroup.${kind}`,
          expected: `every rank at the collective within ${this.timeoutMs} ms`,
          given: `rank ${this.rank} waited longer (another rank is stuck or calls a different number of collectives)`,
        }, 'Raise timeoutMs if a rank legitimately works that long between collectives.');
      }
      Atomics.wait(control, GENERATION, generation, Number.isFinite(remaining) ? remaining : undefined);
    }
  }

  private throwAborted(kind: CollectiveKind): never {
    const state = WorkerProcessGroup.abortState(this.handle) ?? { rank: -1, reason: 'aborted' };
    throw new CollectiveAbortedError(
      { op: `WorkerProcessGroup.${kind}`, expected: 'every replica to keep taking part in the collectives', given: describeAbort(state) },
      state.rank,
      state.reason,
    );
  }
}

/** The function a worker module exports for `runWorkers`. */
export type ReplicaFunction<T = unknown, D = unknown> = (group: WorkerProcessGroup, data: D) => T | Promise<T>;

export interface RunWorkersOptions<D = unknown> extends SharedGroupOptions {
  /** Number of worker threads (ranks). */
  size: number;
  /** The module exporting the replica function: a file URL or an absolute path (.js, .mjs, or .ts). */
  module: string | URL;
  /** Name of the export to call with `(group, data)`; default 'default'. */
  exportName?: string;
  /** Sent to every replica (structured clone); the replica reads its shard with `group.rank`. */
  data?: D;
  /**
   * Register tsx in the workers so they can load TypeScript: 'auto' (default) does when the module
   * or @normkit/tensor itself is loaded from `.ts` sources (tests, tsx scripts). Needs `tsx` installed.
   */
  typescript?: boolean | 'auto';
  /**
   * Package export conditions for the workers (`--conditions`). Default: `['source']` when
   * @normkit/tensor runs from its TypeScript sources, so workers resolve packages as the caller does.
   */
  conditions?: readonly string[];
  /** Extra Node options for the workers. */
  execArgv?: readonly string[];
  /**
   * Intra-op threads for each replica (its `getNumThreads()` default; a replica may still call
   * `setNumThreads`). Default: `max(1, floor(cores / size))`, so replicas and their kernel threads do
   * not oversubscribe the machine; when this process's environment sets NORMKIT_THREADS, the replicas
   * inherit that instead.
   */
  threadsPerReplica?: number;
  /**
   * Milliseconds the other workers get, once a rank has failed, to notice it (at their next
   * collective, or by finishing) before they are terminated (default 10 000). A rank that spins
   * outside any collective never notices: this bounds how long `runWorkers` stays pending.
   */
  gracePeriodMs?: number;
}

/** Each replica's intra-op thread count, or null to let the replicas inherit NORMKIT_THREADS from this process. */
function replicaThreads(op: string, options: RunWorkersOptions): number | null {
  if (options.threadsPerReplica !== undefined) {
    const threads = parseThreadCount(options.threadsPerReplica);
    if (threads === null) {
      throw new OptionError({ op, expected: 'threadsPerReplica to be a whole number of threads from 1 to 1024', given: `threadsPerReplica = ${String(options.threadsPerReplica)}` });
    }
    return threads;
  }
  const inherited = process.env.NORMKIT_THREADS;
  if (inherited !== undefined && inherited !== '') return null;
  return Math.max(1, Math.floor(machineParallelism() / options.size));
}

/** Default `gracePeriodMs` of `runWorkers`. */
export const DEFAULT_GRACE_PERIOD_MS = 10_000;

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  kind?: string;
  op?: string;
  expected?: string;
  given?: string;
  problems?: string[];
  peerFailure?: boolean;
  abortedBy?: number;
  reason?: GroupAbortReason;
}

type WorkerReply = { ok: true; result: unknown } | { ok: false; error: SerializedError };

// Runs in each worker (an ES module from a data: URL, so no file ships with the package). It can
// only import absolute URLs: the launcher resolves tsx and this module for it.
const WORKER_ENTRY = `
import { parentPort, workerData } from 'node:worker_threads';
const { tsxApi, groupModule, module, exportName, handle, rank, data } = workerData;
function serialize(error) {
  if (error === null || typeof error !== 'object') return { name: 'Error', message: String(error) };
  return {
    name: String(error.name ?? 'Error'), message: String(error.message ?? ''), stack: typeof error.stack === 'string' ? error.stack : undefined,
    kind: error.kind, op: error.op, expected: error.expected, given: error.given,
    problems: Array.isArray(error.problems) ? error.problems.map(String) : undefined, peerFailure: error.peerFailure === true,
    abortedBy: typeof error.abortedBy === 'number' ? error.abortedBy : undefined, reason: typeof error.reason === 'string' ? error.reason : undefined,
  };
}
let group = null;
try {
  if (tsxApi) (await import(tsxApi)).register();
  const groupExports = await import(groupModule);
  if (typeof groupExports.WorkerProcessGroup !== 'function') throw new Error('runWorkers: ' + groupModule + ' exports no WorkerProcessGroup');
  group = new groupExports.WorkerProcessGroup(handle, rank);
  const replicaExports = await import(module);
  const replica = replicaExports[exportName];
  if (typeof replica !== 'function') throw new TypeError('runWorkers: ' + module + ' has no function export "' + exportName + '"');
  const result = await replica(group, data);
  // This rank joins no more collectives: any other rank waiting in one (or entering one) must not wait for it.
  group.abort('returned');
  parentPort.postMessage({ ok: true, result });
} catch (error) {
  if (group) group.abort('failed');
  parentPort.postMessage({ ok: false, error: serialize(error) });
}
`;

function toFileUrl(op: string, module: string | URL): URL {
  if (module instanceof URL) return module;
  if (module.startsWith('file:')) return new URL(module);
  if (path.isAbsolute(module)) return pathToFileURL(module);
  throw new ContextError({ op, expected: 'a file URL or an absolute path for the worker module', given: JSON.stringify(module) });
}

/** The ESM entry of `tsx/esm/api`, found from the given locations (read from tsx's own exports map). */
function resolveTsxApi(fromUrls: readonly URL[]): string {
  for (const from of fromUrls) {
    try {
      const manifestPath = createRequire(from).resolve('tsx/package.json');
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports?: Record<string, unknown> };
      const api = manifest.exports?.['./esm/api'] as { import?: string | { default?: string } } | undefined;
      const target = typeof api?.import === 'string' ? api.import : api?.import?.default;
      if (target) return pathToFileURL(path.join(path.dirname(manifestPath), target)).href;
    } catch {
      // Not installed where this location resolves; try the next one.
    }
  }
  throw new ContextError({
    op: 'runWorkers',
    expected: 'tsx installed, to run TypeScript worker modules',
    given: 'no resolvable tsx/package.json',
  }, 'Install tsx, pass a compiled .js module, or set typescript: false.');
}

function reviveError(error: SerializedError, rank: number): Error {
  const details: ErrorDetails = { op: error.op ?? 'worker', expected: error.expected ?? '', given: error.given ?? '' };
  const classes: Record<string, new (d: ErrorDetails) => NormkitError> = {
    shape: ShapeError, dtype: DTypeError, option: OptionError, value: ValueError, context: ContextError, registry: RegistryError,
  };
  let revived: Error;
  if (error.name === 'CollectiveAbortedError') revived = new CollectiveAbortedError(details, error.abortedBy ?? -1, error.reason ?? 'aborted');
  else if (error.kind === 'state-dict') revived = new StateDictError(details.op, error.problems ?? []);
  else if (error.kind && classes[error.kind]) revived = new classes[error.kind]!(details);
  else {
    revived = new Error(error.message);
    revived.name = error.name;
  }
  revived.message = error.message;
  revived.stack = `${error.name}: ${error.message}\n    in worker rank ${rank}:\n${error.stack ?? ''}`;
  return revived;
}

/**
 * Runs a replica function on `size` worker threads joined by a `WorkerProcessGroup` and resolves
 * with each rank's result, in rank order. The module's export (default `default`) is called as
 * `replica(group, data)` in every worker.
 *
 * All or nothing, and never pending for ever:
 * - A rank that throws, or whose worker exits, aborts the group at once: ranks waiting in a
 *   collective (and any that enter one later) throw a `CollectiveAbortedError`, and the promise
 *   rejects with the original error (same class, message and op).
 * - A rank that returns takes part in no more collectives, so it aborts them too: ranks that
 *   finish without another collective still resolve, one left waiting rejects the run.
 * - A rank waiting longer than `timeoutMs` (default 30 minutes, as PyTorch) at a collective fails.
 * - Once a rank has failed, the others get `gracePeriodMs` (default 10 s) to finish, then their
 *   workers are terminated (a rank spinning outside any collective would never notice).
 * - A worker that exits with code 13 was still awaiting a promise that can never settle once its
 *   event loop ran empty (Node's "unsettled top-level await"): the error says so.
 *
 * Works from built JavaScript and from TypeScript sources (vitest, tsx): TypeScript modules are
 * loaded by registering tsx inside the workers.
 *
 * @example
 * // train.worker.ts
 * export default function (group: ProcessGroup, data: { xs: number[][] }) {
 *   const model = buildModel();
 *   const parallel = new DataParallel(model, group);
 *   // ... forward on data.xs[group.rank], backward, parallel.synchronizeGradients(), optimizer.step()
 *   return model.stateDict()['0.weight']!.toArray();
 * }
 * // main.ts
 * const results = await runWorkers({ size: 2, module: new URL('./train.worker.ts', import.meta.url), data });
 */
export async function runWorkers<T = unknown, D = unknown>(options: RunWorkersOptions<D>): Promise<T[]> {
  const op = 'runWorkers';
  checkGroupSize(op, options.size);
  const moduleUrl = toFileUrl(op, options.module);
  const selfUrl = new URL(import.meta.url);
  const fromSources = selfUrl.pathname.endsWith('.ts');
  const typescript = options.typescript ?? 'auto';
  const needsTsx = typescript === 'auto' ? fromSources || /\.[cm]?ts$/.test(moduleUrl.pathname) : typescript;
  const tsxApi = needsTsx ? resolveTsxApi([moduleUrl, selfUrl, pathToFileURL(path.join(process.cwd(), 'package.json'))]) : null;
  const conditions = options.conditions ?? (fromSources ? ['source'] : []);
  const execArgv = [...conditions.map((c) => `--conditions=${c}`), ...(options.execArgv ?? [])];
  const threads = replicaThreads(op, options);
  const handle = WorkerProcessGroup.createShared(options.size, options);
  const entry = new URL(`data:text/javascript,${encodeURIComponent(WORKER_ENTRY)}`);

  const gracePeriodMs = options.gracePeriodMs ?? DEFAULT_GRACE_PERIOD_MS;
  if (typeof gracePeriodMs !== 'number' || !(gracePeriodMs >= 0)) {
    throw new ContextError({ op, expected: 'gracePeriodMs >= 0', given: `gracePeriodMs = ${String(gracePeriodMs)}` });
  }

  const workers: Worker[] = [];
  const settles: Array<(reply: WorkerReply) => void> = [];
  const settled: boolean[] = new Array<boolean>(options.size).fill(false);
  // Failures in the order they happened: the first that is not a consequence of another is reported.
  const failures: Array<{ rank: number; error: SerializedError }> = [];
  let graceTimer: ReturnType<typeof setTimeout> | undefined;
  const settle = (rank: number, reply: WorkerReply): void => {
    if (settled[rank]) return;
    settled[rank] = true;
    if (!reply.ok) {
      failures.push({ rank, error: reply.error });
      graceTimer ??= setTimeout(terminateRemaining, gracePeriodMs);
    }
    settles[rank]!(reply);
  };
  function terminateRemaining(): void {
    const state = WorkerProcessGroup.abortState(handle);
    const cause = state ? describeAbort(state) : 'another rank failed';
    for (let rank = 0; rank < options.size; rank++) {
      if (settled[rank]) continue;
      settle(rank, {
        ok: false,
        error: {
          name: 'ContextError', kind: 'context', op, peerFailure: true,
          expected: `worker rank ${rank} to return or reach a collective within gracePeriodMs = ${gracePeriodMs} ms after the group was aborted`,
          given: `it did neither (${cause}); terminated`,
          message: `${op}: expected worker rank ${rank} to return or reach a collective within gracePeriodMs = ${gracePeriodMs} ms after the group was aborted, got it did neither (${cause}); terminated`,
        },
      });
      void workers[rank]!.terminate();
    }
  }

  const runs = Array.from({ length: options.size }, (_, rank) => {
    const worker = new Worker(entry, {
      workerData: {
        tsxApi, groupModule: selfUrl.href, module: moduleUrl.href, exportName: options.exportName ?? 'default', handle, rank, data: options.data,
      },
      execArgv,
      env: threads === null ? process.env : { ...process.env, NORMKIT_THREADS: String(threads) },
    });
    workers.push(worker);
    const reply = new Promise<WorkerReply>((resolve) => {
      settles.push(resolve);
    });
    worker.once('message', (message: WorkerReply) => {
      // The worker aborted the group itself already; this covers a worker from another copy of the entry.
      WorkerProcessGroup.abort(handle, rank, message.ok ? 'returned' : 'failed');
      settle(rank, message);
      void worker.terminate();
    });
    worker.once('error', (error: Error) => {
      WorkerProcessGroup.abort(handle, rank, 'failed');
      settle(rank, { ok: false, error: { name: error.name, message: error.message, stack: error.stack } });
    });
    worker.once('exit', (code) => {
      if (settled[rank]) return;
      WorkerProcessGroup.abort(handle, rank, 'exited');
      const expected = `worker rank ${rank} to return or throw`;
      const given = code === 13
        ? 'it exited with code 13, Node\'s "unsettled top-level await": its event loop ran empty while the replica was still awaiting a promise that never settles (nothing left could resolve it)'
        : `it exited with code ${code} (process.exit in the replica, or the worker was terminated)`;
      settle(rank, {
        ok: false,
        error: {
          name: 'ContextError', kind: 'context', op, expected, given,
          message: `${op}: worker rank ${rank} exited with code ${code} before returning: expected ${expected}, got ${given}`,
        },
      });
    });
    return reply;
  });
  let replies: WorkerReply[];
  try {
    replies = await Promise.all(runs);
  } finally {
    if (graceTimer !== undefined) clearTimeout(graceTimer);
  }
  if (failures.length > 0) {
    const first = failures.find(({ error }) => !error.peerFailure) ?? failures[0]!;
    throw reviveError(first.error, first.rank);
  }
  return replies.map((reply) => (reply.ok ? (reply.result as T) : (undefined as T)));
}
