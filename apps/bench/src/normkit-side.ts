// The normkit side of one bench case: the floors, normkit on the js and wasm backends, and the thread-scaling
// counts. Timed in a process of its own by normkit-timer.ts (the default), or in the bench's own process
// with --in-process.
import { getNumThreads, setBackend, setNumThreads } from '@normkit/tensor';
import { copyFloor, floorInstances, formatTiming, measureFloor, measureOutcome, type Outcome } from './harness';
import type { SelectedCase } from './select';

/** What the normkit side measured for one case. */
export interface NormkitSide {
  floorPreallocated: Outcome;
  floor: Outcome;
  floorCopy: Outcome;
  normkitJs: Outcome;
  normkit: Outcome;
  threads?: Record<number, Outcome>;
}

/** Times `measureIt`, writing its label before and its result after to `write` (a slow case shows what runs). */
export function timed(write: (text: string) => void, label: string, measureIt: () => Outcome): Outcome {
  write(`    ${label.padEnd(10)} `);
  const outcome = measureIt();
  write(`${formatTiming(outcome)}\n`);
  return outcome;
}

/** The normkit side of `selectedCase` at 1 thread, and at each of `threadCounts` for a thread-scaling case. */
export function measureNormkitSide({ benchCase, timing }: SelectedCase, threadCounts: readonly number[], write: (text: string) => void): NormkitSide {
  setNumThreads(1);
  // The floors run right before normkit, each the fastest of a few instances with their own freshly compiled
  // loop, so they see the machine as normkit does. 'floor' allocates its output per run like a normkit op (the
  // table's column); 'floor-pre' reuses one output (a pure memory pass, results file only); 'floor-copy' is an
  // allocating copy, new Float32Array(n).set(x) (results file only).
  const floorPreallocated = timed(write, 'floor-pre', () => measureFloor(benchCase.elements, 'preallocated', timing));
  const floor = timed(write, 'floor', () => measureFloor(benchCase.elements, 'fresh', timing));
  const floorCopy = timed(write, 'floor-copy', () => measureOutcome(() => copyFloor(benchCase.elements), { ...timing, targetMs: timing.targetMs / floorInstances }));
  // Each backend builds the case afresh (setup runs on the backend being timed).
  setBackend('js');
  const normkitJs = timed(write, 'normkit js', () => measureOutcome(benchCase.normkit, timing));
  setBackend('wasm');
  const normkit = timed(write, 'normkit', () => measureOutcome(benchCase.normkit, timing));
  const side: NormkitSide = { floorPreallocated, floor, floorCopy, normkitJs, normkit };
  if (benchCase.threadScaling) {
    side.threads = { 1: normkit };
    for (const count of threadCounts.filter((n) => n > 1)) {
      setNumThreads(count);
      side.threads[count] = getNumThreads() === count
        ? timed(write, `${count} threads`, () => measureOutcome(benchCase.normkit, timing))
        : { status: 'skipped', reason: `getNumThreads() is ${getNumThreads()}` };
    }
    setNumThreads(1);
  }
  return side;
}
