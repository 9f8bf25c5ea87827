/**
 * The thread pool's protocol, shared word for word by the calling thread (src/kernels/wasm/pool.ts)
 * and the pool's workers (pool-worker.ts, bundled into worker-source.ts by scripts/build-wasm.mjs).
 * A leaf file: no imports, so the worker bundle contains exactly this.
 *
 * A job is a list of tasks; a task is a short program of calls into the kernel module, written into
 * the module's shared memory by the caller. Every thread (the caller included) claims tasks one at a
 * time until none are left; each task writes its own part of the outputs, so the result does not
 * depend on which thread ran which task, nor on how many threads there are.
 *
 * Program layout (float64 slots at `control[PROGRAM] / 8`): [scratchBase, scratchStride, taskCount,
 * taskStart_0 .. taskStart_{n-1}, tasks...]; a task is [counter, callCount, (kernel, argc, scratchMask,
 * args...) x callCount]. Bit i of scratchMask marks argument i as an offset into the running thread's
 * scratch region (scratchBase + thread * scratchStride), which is how each thread gets its own
 * im2col buffer and packed GEMM panels. `counter`, when not 0, is the byte offset of an int32 in the
 * shared memory that the thread adds 1 to (and notifies) once the task is done: a pipelined job counts
 * each chunk's tasks there, so the caller knows when a chunk is finished while later chunks still run.
 *
 * A job may release its tasks in stages (RELEASED): the caller publishes it with the first chunk's
 * tasks claimable, copies the next chunk's operands in while the workers run, then releases its tasks.
 * A worker that reaches an unreleased task sleeps on PROGRESS, which the caller bumps at every release
 * and every new job, so it never misses one (no ABA: the word only grows).
 */

/** The module exports a task may call, by index. */
export const POOL_KERNELS = [
  'gemm', 'im2col', 'col2im', 'zero', 'rowwiseForward', 'rowwiseBackward', 'slotwiseForward', 'slotwiseBackward',
  'batchSums', 'batchSquares', 'batchForward', 'batchBackwardReductions', 'batchBackwardInput', 'slotMoments', 'slotAffine',
  'slotGradientSums', 'slotGradX', 'depthwiseForward', 'depthwiseBackward', 'activationForward', 'geluBackward', 'siluBackward',
  'padPlanes', 'convIndirect', 'gemmImageB',
] as const;
export type PoolKernel = (typeof POOL_KERNELS)[number];

/** Int32 slots of the control block (a SharedArrayBuffer of CONTROL_SLOTS * 4 bytes). */
export const GEN = 0;
/** (generation & 0xffff) << 16 | next unclaimed task. */
export const CLAIM = 1;
export const DONE = 2;
export const ERROR = 3;
/** Threads allowed to claim tasks, the caller included (workers with id >= ACTIVE sit out). */
export const ACTIVE = 4;
export const READY = 5;
export const PROGRAM = 6;
/** Tasks run by pool workers (not the caller) since the pool started: for tests and diagnostics. */
export const WORKER_TASKS = 7;
/**
 * The open job's task count. Claims compare with this, never with the program's own count: once a job is
 * done the caller reuses its memory, and a thread still leaving the claim loop must not read it.
 */
export const TASKS = 8;
/** Tasks of the open job that may be claimed now (index < RELEASED): a pipelined job releases them chunk by chunk. */
export const RELEASED = 9;
/** Bumped (and notified) at every release and every new job: what a worker waiting for a release sleeps on. */
export const PROGRESS = 10;
export const CONTROL_SLOTS = 11;
/** At most this many tasks per job (the claim word keeps the index in 16 bits). */
export const MAX_TASKS = 0xfffe;

type KernelFunction = (...args: number[]) => void;

/**
 * Claims and runs tasks of the current job until none are left, if `thread` takes part in it. A worker
 * (`until` undefined) that reaches a task not released yet sleeps until the caller releases more; the
 * caller passes `until` and claims only released tasks below it, returning instead of sleeping (it is the
 * one that releases).
 *
 * Everything a claim relies on is read after the job's generation, in this order: GEN, then ACTIVE,
 * PROGRAM and TASKS, then CLAIM (the caller writes them in the reverse order, PROGRAM, TASKS and ACTIVE
 * before CLAIM before GEN, all sequentially consistent). A claim only succeeds while the job read from GEN
 * is still open, and the caller writes the next job's ACTIVE and PROGRAM only after closing it, so a
 * thread that claims a task saw that job's ACTIVE and PROGRAM, never an earlier or a later job's.
 * (Reading ACTIVE before GEN, as the worker loop once did, let a worker decide to take part from a
 * 3-thread job's ACTIVE and then claim tasks of the next, 2-thread job, whose scratch has no region
 * for thread 2: its im2col and GEMM panels overwrote the job's program, which failed or hung.)
 * A thread late for an earlier job stops at its first claim, because the claim word carries the
 * generation (low 16 bits) it belongs to and GEN must still hold the whole generation it read.
 * The task count comes from TASKS, not from the program: a thread that finished the last task of a job
 * may look at the claim word once more after the caller has closed the job (index 0xffff, never below a
 * count) and reused the job's memory for the next kernel's data, where the program's count used to be
 * (a NaN there let that thread claim the closed word's "task" 0xffff and run garbage calls).
 * A task's counter is read from the program before the task is counted done, while the job is still open.
 */
export function runClaims(control: Int32Array, memory: WebAssembly.Memory, kernels: readonly KernelFunction[], thread: number, until?: number): void {
  const fullGeneration = Atomics.load(control, GEN);
  if (thread >= Atomics.load(control, ACTIVE)) return;
  const generation = fullGeneration & 0xffff;
  const program = new Float64Array(memory.buffer);
  const words = new Int32Array(program.buffer);
  const base = Atomics.load(control, PROGRAM) / 8;
  const taskCount = Math.min(Atomics.load(control, TASKS), until ?? Infinity);
  for (;;) {
    const progress = Atomics.load(control, PROGRESS);
    const word = Atomics.load(control, CLAIM);
    if (word >>> 16 !== generation || Atomics.load(control, GEN) !== fullGeneration) return;
    const index = word & 0xffff;
    if (index >= taskCount) return;
    if (index >= Atomics.load(control, RELEASED)) {
      if (until !== undefined) return;
      // Woken by the next release, or by the next job (which this loop then leaves at its generation check).
      Atomics.wait(control, PROGRESS, progress);
      continue;
    }
    if (Atomics.compareExchange(control, CLAIM, word, word + 1) !== word) continue;
    const at = base + program[base + 3 + index]!;
    const counter = program[at]!;
    try {
      runTask(program, base, at, kernels, thread);
    } catch {
      Atomics.store(control, ERROR, 1);
    }
    if (counter !== 0) {
      Atomics.add(words, counter / 4, 1);
      Atomics.notify(words, counter / 4);
    }
    if (thread !== 0) Atomics.add(control, WORKER_TASKS, 1);
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}

/** Runs the task at float64 slot `at` of the program at slot `base` (its counter is the caller's business). */
function runTask(program: Float64Array, base: number, at: number, kernels: readonly KernelFunction[], thread: number): void {
  const scratch = program[base]! + thread * program[base + 1]!;
  at++;
  const calls = program[at++]!;
  for (let call = 0; call < calls; call++) {
    const kernel = kernels[program[at++]!]!;
    const argc = program[at++]!;
    const mask = program[at++]!;
    const args = new Array<number>(argc);
    for (let i = 0; i < argc; i++) args[i] = (mask & (1 << i)) !== 0 ? scratch + program[at + i]! : program[at + i]!;
    at += argc;
    kernel(...args);
  }
}
