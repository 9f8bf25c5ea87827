import { describe, expect, it } from 'vitest';
import { ThreadPool } from './pool';
import { ACTIVE, CLAIM, CONTROL_SLOTS, DONE, ERROR, GEN, POOL_KERNELS, PROGRAM, PROGRESS, RELEASED, runClaims, TASKS, WORKER_TASKS } from './pool-protocol';

// The claim loop on one thread, with a recording kernel in place of the module's: which tasks a
// thread runs, with which arguments, and when it must run none. The pool's real threads are tested
// in ../threads.test.ts; these cases are the interleavings a test cannot time there.

const PROGRAM_OFFSET = 1024;
const SCRATCH_BASE = 4096;
const SCRATCH_STRIDE = 512;

interface Call {
  thread: number;
  args: number[];
}

/**
 * A job of `taskCount` tasks, task i one call of kernel 0 with (i, a scratch offset), published as generation
 * `generation` for `active` threads, its first `released` tasks claimable.
 */
function publish(taskCount: number, { generation = 1, active = 2, released = taskCount } = {}) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const program = new Float64Array(memory.buffer, PROGRAM_OFFSET);
  program[0] = SCRATCH_BASE;
  program[1] = SCRATCH_STRIDE;
  program[2] = taskCount;
  let at = 3 + taskCount;
  for (let i = 0; i < taskCount; i++) {
    program[3 + i] = at;
    // No counter; one call: kernel 0, two arguments, the second (mask bit 1) an offset into the thread's scratch.
    program.set([0, 1, 0, 2, 0b10, i, 16], at);
    at += 7;
  }
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  Atomics.store(control, PROGRAM, PROGRAM_OFFSET);
  Atomics.store(control, TASKS, taskCount);
  Atomics.store(control, ACTIVE, active);
  Atomics.store(control, RELEASED, released);
  Atomics.store(control, CLAIM, (generation & 0xffff) << 16);
  Atomics.store(control, GEN, generation);
  return { memory, control };
}

function recorder(thread: number, calls: Call[], during?: (task: number) => void) {
  return [(...args: number[]) => {
    calls.push({ thread, args });
    during?.(args[0]!);
  }];
}

describe('runClaims', () => {
  it('runs every task once, with the running thread\'s scratch, and counts them', () => {
    const { memory, control } = publish(3);
    const calls: Call[] = [];
    runClaims(control, memory, recorder(1, calls), 1);
    expect(calls).toEqual([0, 1, 2].map((i) => ({ thread: 1, args: [i, SCRATCH_BASE + SCRATCH_STRIDE + 16] })));
    expect(Atomics.load(control, DONE)).toBe(3);
    expect(Atomics.load(control, WORKER_TASKS), 'tasks run by a worker (thread 1)').toBe(3);
    runClaims(control, memory, recorder(0, calls), 0);
    expect(calls.length, 'nothing is left for a second thread').toBe(3);
  });

  it('a thread at or past the job\'s ACTIVE count claims nothing (the job has no scratch for it)', () => {
    const { memory, control } = publish(4, { active: 2 });
    const calls: Call[] = [];
    runClaims(control, memory, recorder(2, calls), 2);
    runClaims(control, memory, recorder(5, calls), 5);
    expect(calls).toEqual([]);
    expect(Atomics.load(control, CLAIM) & 0xffff, 'no claim taken').toBe(0);
    runClaims(control, memory, recorder(0, calls), 0);
    expect(calls.map((call) => call.args[0])).toEqual([0, 1, 2, 3]);
  });

  it('stops claiming once the job it started in is closed or another has begun, even with the same 16-bit claim generation', () => {
    // A thread that fell 65,536 jobs behind sees a claim word of the same low 16 bits: GEN tells them apart.
    const { memory, control } = publish(4, { generation: 7 });
    const calls: Call[] = [];
    runClaims(control, memory, recorder(1, calls, (task) => {
      if (task === 1) Atomics.store(control, GEN, 7 + 0x10000);
    }), 1);
    expect(calls.map((call) => call.args[0]), 'tasks run before the generation moved on').toEqual([0, 1]);
    // A closed job (the caller's claim word after its last task) gives nothing either.
    const closed = publish(4, { generation: 9 });
    Atomics.store(closed.control, CLAIM, (9 << 16) | 0xffff);
    runClaims(closed.control, closed.memory, recorder(1, calls), 1);
    expect(calls.length).toBe(2);
  });

  it('a closed job whose memory the caller already reused gives nothing (its program\'s count may be any bytes, NaN included)', () => {
    // The caller closed the job and wrote the next kernel's data over the program (here NaN bytes, as
    // NORMKIT_POISON_UNINITIALIZED leaves reserved memory) before a worker leaving the job read the claim word again.
    const { memory, control } = publish(3, { generation: 5 });
    Atomics.store(control, CLAIM, (5 << 16) | 0xffff);
    new Uint8Array(memory.buffer, PROGRAM_OFFSET, 8 * 64).fill(0xff);
    const calls: Call[] = [];
    const before = Atomics.load(control, CLAIM);
    runClaims(control, memory, recorder(1, calls), 1);
    expect(calls, 'no call of a reused program').toEqual([]);
    expect(Atomics.load(control, CLAIM), 'the closed claim word is left alone').toBe(before);
    expect(Atomics.load(control, DONE)).toBe(0);
  });

  it('claims only released tasks: the caller (with a bound) stops at the release, a worker goes on with tasks released while it runs', () => {
    const { memory, control } = publish(5, { released: 2 });
    const calls: Call[] = [];
    runClaims(control, memory, recorder(0, calls), 0, 5);
    expect(calls.map((call) => call.args[0]), 'the caller takes the released tasks and returns').toEqual([0, 1]);
    runClaims(control, memory, recorder(0, calls), 0, 1);
    expect(calls.length, 'nothing below a bound already reached').toBe(2);
    // A worker at an unreleased task sleeps on PROGRESS; here a task releases the rest as it runs, as the
    // caller would, so the worker finds them released (the sleep itself is what threads.test.ts exercises).
    Atomics.store(control, RELEASED, 3);
    runClaims(control, memory, recorder(1, calls, (task) => {
      if (task === 2) {
        Atomics.store(control, RELEASED, 5);
        Atomics.add(control, PROGRESS, 1);
      }
    }), 1);
    expect(calls.map((call) => call.args[0])).toEqual([0, 1, 2, 3, 4]);
    expect(Atomics.load(control, DONE)).toBe(5);
  });

  it('a task with a counter adds 1 to it once done, also when it fails', () => {
    const { memory, control } = publish(3);
    const program = new Float64Array(memory.buffer, PROGRAM_OFFSET);
    const counter = 8192;
    for (let i = 0; i < 3; i++) program[program[3 + i]!] = counter;
    const words = new Int32Array(memory.buffer);
    const seen: number[] = [];
    runClaims(control, memory, [(task: number) => {
      seen.push(Atomics.load(words, counter / 4));
      if (task === 1) throw new Error('trap');
    }], 1);
    expect(seen, 'each task counted after it ran, not before').toEqual([0, 1, 2]);
    expect(Atomics.load(words, counter / 4)).toBe(3);
    expect(Atomics.load(control, ERROR)).toBe(1);
  });

  it('a task that throws sets ERROR and still counts as done, so the caller never waits for it', () => {
    const { memory, control } = publish(2);
    runClaims(control, memory, [() => {
      throw new Error('trap');
    }], 1);
    expect(Atomics.load(control, ERROR)).toBe(1);
    expect(Atomics.load(control, DONE)).toBe(2);
  });
});

describe('ThreadPool.start / finish (the threaded stream\'s pipeline)', () => {
  /** A pool whose workers never start (spawn does nothing), so the caller runs every task, with kernel 0 recording. */
  function callerOnlyPool(calls: number[], fail = false) {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const exports = Object.fromEntries(POOL_KERNELS.map((name) => [name, (task: number) => {
      if (fail) throw new Error('trap');
      calls.push(task);
    }]));
    const pool = new ThreadPool({}, memory, exports, () => undefined);
    const program = new Float64Array(memory.buffer, PROGRAM_OFFSET);
    const tasks = 3;
    program.set([SCRATCH_BASE, SCRATCH_STRIDE, tasks]);
    for (let i = 0; i < tasks; i++) {
      program[3 + i] = 3 + tasks + i * 6;
      program.set([0, 1, 0, 1, 0, i], 3 + tasks + i * 6);
    }
    return { pool, tasks };
  }

  it('start publishes a job and returns before it runs; finish runs what no worker took and closes it', () => {
    const calls: number[] = [];
    const { pool, tasks } = callerOnlyPool(calls);
    pool.start(PROGRAM_OFFSET, tasks, 2);
    expect(calls, 'nothing has run on the calling thread yet').toEqual([]);
    expect(() => pool.start(PROGRAM_OFFSET, tasks, 2), 'a second job while one is open').toThrow(/another is still open/);
    pool.finish();
    expect(calls).toEqual([0, 1, 2]);
    expect(() => pool.finish(), 'finish without an open job').toThrow(/without an open job/);
    pool.run(PROGRAM_OFFSET, tasks, 2);
    expect(calls, 'the pool takes the next job after finish').toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('a failed task fails finish, and the pool still runs the next job', () => {
    const calls: number[] = [];
    const failing = callerOnlyPool(calls, true);
    failing.pool.start(PROGRAM_OFFSET, failing.tasks, 2);
    expect(() => failing.pool.finish()).toThrow(/a kernel task failed/);
    expect(() => failing.pool.start(PROGRAM_OFFSET, failing.tasks, 2), 'no job is left open').not.toThrow();
    expect(() => failing.pool.finish()).toThrow(/a kernel task failed/);
  });
});
