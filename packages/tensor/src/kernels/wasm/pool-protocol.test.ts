import { describe, expect, it } from 'vitest';
import { ACTIVE, CLAIM, CONTROL_SLOTS, DONE, ERROR, GEN, PROGRAM, runClaims, TASKS, WORKER_TASKS } from './pool-protocol';

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

/** A job of `taskCount` tasks, task i one call of kernel 0 with (i, a scratch offset), published as generation `generation` for `active` threads. */
function publish(taskCount: number, { generation = 1, active = 2 } = {}) {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const program = new Float64Array(memory.buffer, PROGRAM_OFFSET);
  program[0] = SCRATCH_BASE;
  program[1] = SCRATCH_STRIDE;
  program[2] = taskCount;
  let at = 3 + taskCount;
  for (let i = 0; i < taskCount; i++) {
    program[3 + i] = at;
    // One call: kernel 0, two arguments, the second (mask bit 1) an offset into the thread's scratch.
    program.set([1, 0, 2, 0b10, i, 16], at);
    at += 6;
  }
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  Atomics.store(control, PROGRAM, PROGRAM_OFFSET);
  Atomics.store(control, TASKS, taskCount);
  Atomics.store(control, ACTIVE, active);
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

  it('a task that throws sets ERROR and still counts as done, so the caller never waits for it', () => {
    const { memory, control } = publish(2);
    runClaims(control, memory, [() => {
      throw new Error('trap');
    }], 1);
    expect(Atomics.load(control, ERROR)).toBe(1);
    expect(Atomics.load(control, DONE)).toBe(2);
  });
});
