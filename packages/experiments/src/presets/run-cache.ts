// Trains each distinct run once for the presets of one job: runs with the same resolved configuration
// (model, data, seed, optimizer, schedule, steps, evaluation; every run is seeded) give the same bits, so
// the placement presets' shared Pre-LN and Post-LN runs are trained once per seed instead of once per preset.
import { ValueError, getBackend, getNumThreads } from '@normkit/tensor';
import { resolveConfig } from '../config';
import type { Trainer } from '../train';
import type { PresetRun } from './preset';
import type { RunSource, TrainedRun } from './run-preset';

/**
 * What decides a run's bits, as text: its fully resolved configuration (every default filled in, so
 * equal experiments give equal keys), the kernel backend and its thread count. Runs that trace or
 * start from another run's weights depend on more than this and are never shared (`runPresetSeed`).
 */
export function runKey(run: Pick<PresetRun, 'config'>): string {
  return `${JSON.stringify(resolveConfig(run.config))}|backend=${getBackend()}|threads=${getNumThreads()}`;
}

/** Whether a run may be shared: its config alone decides it. */
export function shareableRun(run: PresetRun): boolean {
  return !run.trace && !run.initFrom;
}

/** Two 32-bit FNV-1a hashes over bytes (one forward, one seeded differently): enough to notice a changed value. */
function hashBytes(bytes: Uint8Array, state: [number, number]): void {
  let [a, b] = state;
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 0x01000193);
    b = Math.imul(b ^ bytes[i]!, 0x01000193) ^ (b >>> 15);
  }
  state[0] = a;
  state[1] = b;
}

/**
 * A fingerprint of everything an analysis could read from a trained run: every parameter and buffer,
 * the history (steps, evaluations and how it ended), its status and configuration.
 */
export function trainerFingerprint(trainer: Trainer): string {
  const state: [number, number] = [0x811c9dc5, 0x6a09e667];
  const encoder = new TextEncoder();
  for (const [name, tensor] of Object.entries(trainer.model.stateDict())) {
    hashBytes(encoder.encode(`${name}:${tensor.shape.join('x')}`), state);
    const data = tensor.data;
    hashBytes(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), state);
  }
  const { steps, evals, end } = trainer.history;
  hashBytes(encoder.encode(JSON.stringify({ steps, evals, end, status: trainer.status, completed: trainer.completedSteps, config: trainer.config })), state);
  return `${(state[0] >>> 0).toString(16)}${(state[1] >>> 0).toString(16)}`;
}

/**
 * The trained runs of one job (one worker running several presets' seeds), each trained once and
 * handed to every run of the job with the same `runKey`. Bounded: built with every run the job will
 * ask for, it keeps a trained run only while a later request needs it, and never keeps a run only
 * one request needs. A shared run is checked unchanged each time it is handed out again (an
 * analysis that changed it would change the next preset's numbers): a changed run throws a
 * ValueError, which `runPresetSeed` reports as that preset's error.
 *
 * @example
 * const cache = RunCache.forRuns(units.flatMap((u) => u.runs));
 * runPresetSeed(preset, prepared, 0, { mode: 'full', runSource: cache });
 */
export class RunCache implements RunSource {
  private readonly remaining = new Map<string, number>();
  private readonly kept = new Map<string, { trained: TrainedRun; fingerprint: string }>();
  /** Runs trained, runs handed out from the cache. */
  readonly stats = { trained: 0, shared: 0 };

  /** A cache for a job that will ask for `runs` (every run of every preset seed it runs, in any order). */
  static forRuns(runs: readonly PresetRun[]): RunCache {
    const cache = new RunCache();
    for (const run of runs) {
      if (!shareableRun(run)) continue;
      const key = runKey(run);
      cache.remaining.set(key, (cache.remaining.get(key) ?? 0) + 1);
    }
    return cache;
  }

  /** Distinct runs still kept (for tests: 0 once the job is done). */
  get size(): number {
    return this.kept.size;
  }

  obtain(run: PresetRun, train: () => TrainedRun): TrainedRun {
    const key = runKey(run);
    const left = (this.remaining.get(key) ?? 1) - 1;
    if (left > 0) this.remaining.set(key, left);
    else this.remaining.delete(key);
    const hit = this.kept.get(key);
    if (hit) {
      if (left === 0) this.kept.delete(key);
      if (trainerFingerprint(hit.trained.trainer) !== hit.fingerprint) {
        throw new ValueError({
          op: 'RunCache',
          expected: `shared run "${run.id}" (seed ${hit.trained.trainer.config.seed}) unchanged since it was trained`,
          given: 'a run whose weights, buffers or history changed after training (an analysis modified it)',
        });
      }
      this.stats.shared++;
      return hit.trained;
    }
    const trained = train();
    this.stats.trained++;
    if (left > 0) this.kept.set(key, { trained, fingerprint: trainerFingerprint(trained.trainer) });
    return trained;
  }
}
