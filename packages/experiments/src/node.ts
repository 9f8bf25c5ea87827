// Node-only parts of @normkit/experiments (worker threads, child processes); kept out of the browser entry point.
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContextError } from '@normkit/tensor';
import { runWorkers } from '@normkit/tensor/node';
import type { DataParallelRequest, DataParallelRunner, ReplicaRun } from './data-parallel';

export type { DataParallelRequest, DataParallelRunner, ReplicaRun } from './data-parallel';

/** From sources (tests, tsx) the sibling modules are .ts files; from the build, .js files beside this one. */
const extension = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const sibling = (name: string): URL => new URL(`./${name}${extension}`, import.meta.url);

/** Milliseconds a rank waits at a collective before the run fails (a rank that diverged alone stops taking part). */
const COLLECTIVE_TIMEOUT_MS = 120_000;

/**
 * Trains `request` data-parallel on `size` worker threads joined by a shared-memory process group
 * (`runWorkers` of @normkit/tensor/node) and resolves with every rank's runs, `[rank][variant]`.
 *
 * @example
 * const ranks = await runDataParallel({ config, variants: [{ id: 'sync', syncBatchNorm: true }] }, 2);
 * ranks[0][0].losses; // rank 0's shard losses, step by step
 */
export function runDataParallel(request: DataParallelRequest, size: number): Promise<ReplicaRun[][]> {
  return runWorkers<ReplicaRun[], DataParallelRequest>({
    size, module: sibling('data-parallel'), exportName: 'trainReplica', data: request, timeoutMs: COLLECTIVE_TIMEOUT_MS,
  });
}

/**
 * A synchronous `DataParallelRunner` (what a preset's analysis can call): each `train` runs
 * `runDataParallel` in a child Node process and blocks until it answers. Pass it to the lab as the
 * `dataParallel` resource.
 *
 * @example
 * runPreset(presetByName('sync-batch-norm-small-batch'), { resources: { dataParallel: dataParallelRunner() } });
 */
export function dataParallelRunner(size = 2): DataParallelRunner {
  return {
    size,
    train(request) {
      const child = fileURLToPath(sibling('data-parallel-child'));
      const args = extension === '.ts' ? ['--import', 'tsx', '--conditions=source', child] : [child];
      const result = spawnSync(process.execPath, args, {
        cwd: dirname(child),
        input: JSON.stringify({ request, size }),
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      });
      if (result.error || result.status !== 0) {
        throw new ContextError({
          op: 'dataParallelRunner',
          expected: `the data-parallel run on ${size} worker threads to finish`,
          given: result.error ? String(result.error) : `exit code ${result.status}: ${result.stderr.trim().split('\n').slice(-6).join(' | ')}`,
        });
      }
      return JSON.parse(result.stdout) as ReplicaRun[][];
    },
  };
}
