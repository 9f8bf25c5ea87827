import { ContextError, ShapeError, ValueError } from '../errors';

/**
 * A set of replicas (ranks `0 .. size - 1`) that take part in collective operations, like a
 * `torch.distributed` process group. Every rank must call the same collectives in the same order
 * with buffers of the same length; a mismatch is reported as an error on every rank.
 *
 * The operations are synchronous on purpose: SyncBatchNorm reduces statistics inside its forward
 * and inside its backward, and backward is a synchronous sweep, so a collective cannot wait for a
 * message event. Implementations: `InProcessGroup` (K simulated replicas in one thread, for tests)
 * and, from `@normkit/tensor/node`, `WorkerProcessGroup` (worker threads over a SharedArrayBuffer).
 *
 * @example
 * const partial = Float64Array.from([localCount, localSum]);
 * group.allReduce(partial); // now [total count, total sum] on every rank
 */
export interface ProcessGroup {
  /** This replica's index, in [0, size). */
  readonly rank: number;
  /** Number of replicas. */
  readonly size: number;
  /**
   * Replaces `buffer` on every rank by the elementwise sum over ranks. The sum runs in rank order,
   * so every rank gets bitwise the same result.
   */
  allReduce(buffer: Float64Array): void;
  /** Copies `root`'s buffer into every other rank's buffer. */
  broadcast(buffer: Float64Array, root: number): void;
  /** Returns once every rank has called it. */
  barrier(): void;
}

/** The collectives, as named in errors. */
export type CollectiveKind = 'allReduce' | 'broadcast' | 'barrier';

/** What one rank passed to a collective: compared across ranks before the collective runs. */
export interface CollectiveCall {
  kind: CollectiveKind;
  length: number;
  root: number;
}

/** Checks the root argument of a broadcast. */
export function checkRoot(op: string, root: number, size: number): void {
  if (!Number.isInteger(root) || root < 0 || root >= size) {
    throw new ValueError({ op, expected: `a root rank in [0, ${size - 1}]`, given: `root = ${root}` });
  }
}

/** Checks a group size given by a user. */
export function checkGroupSize(op: string, size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new ValueError({ op, expected: 'a group size that is a positive integer', given: `size = ${size}` });
  }
}

/**
 * Throws the same error on every rank when the ranks disagree on a collective: a different op,
 * buffer length or root. `calls[r]` is what rank r passed.
 */
export function checkCollectivesAgree(op: string, calls: readonly CollectiveCall[]): void {
  const first = calls[0]!;
  const describe = (pick: (c: CollectiveCall) => string | number): string => calls.map((c, r) => `rank ${r}: ${pick(c)}`).join(', ');
  if (calls.some((c) => c.kind !== first.kind)) {
    throw new ContextError(
      { op, expected: 'every rank to call the same collective', given: describe((c) => c.kind) },
      'Replicas must run the same program: the same modules, in the same order.',
    );
  }
  if (calls.some((c) => c.length !== first.length)) {
    throw new ShapeError(
      { op: `${op} (${first.kind})`, expected: 'buffers of one length on every rank', given: describe((c) => c.length) },
      'Replicas disagree on a model or layer size (for example SyncBatchNorm numFeatures).',
    );
  }
  if (first.kind === 'broadcast' && calls.some((c) => c.root !== first.root)) {
    throw new ContextError({ op: `${op} (broadcast)`, expected: 'one root on every rank', given: describe((c) => c.root) });
  }
}
