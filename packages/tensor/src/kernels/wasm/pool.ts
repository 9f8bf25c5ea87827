import { ACTIVE, CLAIM, CONTROL_SLOTS, DONE, ERROR, GEN, MAX_TASKS, POOL_KERNELS, PROGRAM, PROGRESS, READY, RELEASED, runClaims, TASKS, WORKER_TASKS } from './pool-protocol';
import { poolWorkerSource } from './worker-source';

/** Whether kernels can run on more than one thread here, and if not, why. */
export interface ThreadSupport {
  available: boolean;
  reason?: string;
}

interface StartMessage {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  thread: number;
}

export type Spawn = (message: StartMessage) => void;

interface NodeWorker {
  unref(): void;
}
interface NodeWorkerThreads {
  Worker: new (source: string, options: { eval: true; workerData: StartMessage; name?: string }) => NodeWorker;
}

/** How this runtime starts a pool worker, or why it cannot. */
function workerSpawner(): Spawn | string {
  const process = (globalThis as { process?: { versions?: { node?: string }; getBuiltinModule?: (name: string) => unknown } }).process;
  if (process?.versions?.node !== undefined) {
    const threads = process.getBuiltinModule?.('node:worker_threads') as NodeWorkerThreads | undefined;
    if (threads === undefined) return `Node ${process.versions.node} has no process.getBuiltinModule (Node 20.16 or later has)`;
    return (workerData) => {
      const worker = new threads.Worker(poolWorkerSource, { eval: true, workerData, name: `normkit kernel thread ${workerData.thread}` });
      // Blocked in Atomics.wait between jobs; unref'd so it never keeps the process alive.
      worker.unref();
    };
  }
  const scope = globalThis as {
    Worker?: new (url: string, options?: { name?: string }) => { postMessage(message: unknown): void };
    document?: unknown;
    Blob?: typeof Blob;
    URL?: typeof URL;
  };
  if (scope.document !== undefined) {
    return "this is a browser page's main thread, which may not block (Atomics.wait), so its kernels run on one thread; train in a Web Worker for threads";
  }
  if (scope.Worker === undefined || scope.Blob === undefined || scope.URL === undefined) return 'this worker cannot start nested Web Workers';
  const url = scope.URL.createObjectURL(new scope.Blob([poolWorkerSource], { type: 'text/javascript' }));
  const WorkerClass = scope.Worker;
  return (message) => {
    const worker = new WorkerClass(url, { name: `normkit kernel thread ${message.thread}` });
    worker.postMessage(message);
  };
}

let support: { spawn: Spawn | null; status: ThreadSupport } | undefined;

function detect(): { spawn: Spawn | null; status: ThreadSupport } {
  if (support !== undefined) return support;
  const unavailable = (reason: string) => ({ spawn: null, status: { available: false, reason } });
  if (typeof SharedArrayBuffer !== 'function' || typeof Atomics !== 'object') {
    support = unavailable('SharedArrayBuffer is unavailable: a browser page must be cross-origin isolated (Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)');
  } else if ((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === false) {
    support = unavailable('the page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)');
  } else {
    const spawn = workerSpawner();
    support = typeof spawn === 'string' ? unavailable(spawn) : { spawn, status: { available: true } };
  }
  return support;
}

/** How this runtime starts pool workers, or null where it cannot (see `poolSupport` for why). */
export function poolSpawner(): Spawn | null {
  return detect().spawn;
}

/** Whether this runtime can run kernels on a thread pool (cross-origin isolation, Atomics.wait, workers). */
export function poolSupport(): ThreadSupport {
  return detect().status;
}

type KernelFunction = (...args: number[]) => void;

/**
 * The calling thread's side of the pool: starts workers lazily (they join as soon as they are ready;
 * until then the caller runs every task itself, so a job never waits for a worker that is still
 * starting), publishes a job, runs tasks too, and blocks until every task is done.
 */
export class ThreadPool {
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  private readonly kernels: KernelFunction[];
  private workers = 0;
  private generation = 0;
  /** Whether a job was started and not finished yet. */
  private open = false;
  /**
   * Whether the calling thread claims tasks too (always, but in tests: with false it leaves every task
   * of a job to the workers and only waits, so a test can show that the workers' results are the caller's).
   */
  callerRunsTasks = true;

  constructor(
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    exports: Record<string, unknown>,
    private readonly spawn: Spawn,
  ) {
    this.kernels = POOL_KERNELS.map((name) => exports[name] as KernelFunction);
    // Generation 0, nothing to claim: a worker that starts before the first job finds no task.
    Atomics.store(this.control, CLAIM, 0xffff);
  }

  /** Workers started, workers ready (module instantiated), jobs run, and tasks that workers (not the caller) ran. */
  statistics(): { started: number; ready: number; jobs: number; workerTasks: number } {
    return { started: this.workers, ready: Atomics.load(this.control, READY), jobs: this.generation, workerTasks: Atomics.load(this.control, WORKER_TASKS) };
  }

  /**
   * Runs the job whose program the caller wrote at byte `programOffset` of the shared memory, on up
   * to `threads` threads (the caller included). Throws if a task failed.
   */
  run(programOffset: number, taskCount: number, threads: number): void {
    this.start(programOffset, taskCount, threads);
    this.finish();
  }

  /**
   * Publishes a job and returns at once: the workers start on its first `released` tasks (all by
   * default) while the caller does other work that touches none of their memory (a streamed kernel
   * copies the next chunk in meanwhile, then `release`s its tasks). `finish` completes the job; until
   * then no other job can start.
   */
  start(programOffset: number, taskCount: number, threads: number, released = taskCount): void {
    if (this.open) throw new Error('normkit thread pool: a job was started while another is still open');
    if (taskCount > MAX_TASKS) throw new RangeError(`normkit thread pool: ${taskCount} tasks in one job, over ${MAX_TASKS}`);
    while (this.workers < threads - 1) {
      this.workers++;
      this.spawn({ module: this.module, memory: this.memory, control: this.control.buffer, thread: this.workers });
    }
    const control = this.control;
    this.generation = (this.generation + 1) | 0;
    Atomics.store(control, PROGRAM, programOffset);
    Atomics.store(control, TASKS, taskCount);
    Atomics.store(control, DONE, 0);
    Atomics.store(control, ERROR, 0);
    Atomics.store(control, ACTIVE, threads);
    Atomics.store(control, RELEASED, Math.min(released, taskCount));
    Atomics.store(control, CLAIM, (this.generation & 0xffff) << 16);
    Atomics.store(control, GEN, this.generation);
    Atomics.notify(control, GEN);
    // A worker still asleep waiting for a release of an earlier job wakes and leaves it.
    this.bumpProgress();
    this.open = true;
  }

  /** Wakes every worker waiting for a release (PROGRESS only grows, so none can miss it). */
  private bumpProgress(): void {
    Atomics.add(this.control, PROGRESS, 1);
    Atomics.notify(this.control, PROGRESS);
  }

  /** Blocks until the int32 `words[index]` reaches `target`. */
  private static waitUntil(words: Int32Array, index: number, target: number): void {
    for (;;) {
      const value = Atomics.load(words, index);
      if (value >= target) return;
      Atomics.wait(words, index, value);
    }
  }

  /** Lets threads claim the open job's tasks below `count` (a later chunk of a pipeline, its operands now in place). */
  release(count: number): void {
    const control = this.control;
    Atomics.store(control, RELEASED, Math.min(count, Atomics.load(control, TASKS)));
    this.bumpProgress();
  }

  /**
   * Waits until the int32 at byte `counterOffset` of the shared memory reaches `target` (the tasks of a
   * pipeline's chunk, each counted there when done), first claiming on this thread whatever released
   * tasks below `until` no worker has taken.
   */
  awaitCounter(counterOffset: number, target: number, until: number): void {
    if (this.callerRunsTasks) runClaims(this.control, this.memory, this.kernels, 0, until);
    ThreadPool.waitUntil(new Int32Array(this.memory.buffer), counterOffset / 4, target);
  }

  /**
   * Completes the open job: the caller claims the tasks no worker has taken yet (all of them where no
   * worker is ready), waits for the rest, and closes the job. Throws if a task failed.
   */
  finish(): void {
    if (!this.open) throw new Error('normkit thread pool: finish() without an open job');
    this.open = false;
    const control = this.control;
    const taskCount = Atomics.load(control, TASKS);
    if (Atomics.load(control, RELEASED) < taskCount) this.release(taskCount);
    if (this.callerRunsTasks) runClaims(control, this.memory, this.kernels, 0);
    ThreadPool.waitUntil(control, DONE, taskCount);
    // Closed before the caller touches memory again: a worker late for this job finds the claim word
    // exhausted, so it can never read the next job's operands as this job's program.
    Atomics.store(control, CLAIM, ((this.generation & 0xffff) << 16) | 0xffff);
    if (Atomics.load(control, ERROR) !== 0) throw new Error('normkit thread pool: a kernel task failed in a worker thread');
  }
}
