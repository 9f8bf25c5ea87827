import { ContextError } from '../errors';
import {
  checkCollectivesAgree, checkGroupSize, checkRoot, type CollectiveCall, type CollectiveKind, type ProcessGroup,
} from './process-group';

export interface InProcessRunOptions {
  /** Stop with an error after this many collectives (a runaway replica); default 100000. */
  maxCollectives?: number;
}

/** Thrown through a replica when it reaches a collective the other replicas have not reached yet. */
class ReplicaSuspension extends Error {
  constructor() {
    super('InProcessGroup: replica suspended at a collective (internal; do not catch)');
  }
}

interface ResolvedCollective {
  call: CollectiveCall;
  /** What each rank contributed (allReduce: its buffer; broadcast: the root's buffer only). */
  inputs: Array<Float64Array | null>;
  result: Float64Array;
}

interface PendingCollective {
  call: CollectiveCall;
  data: Float64Array;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * The bookkeeping of one `InProcessGroup.run`: the collectives resolved so far, and, during a
 * pass, how far each replica got.
 */
class ReplaySession {
  readonly resolved: ResolvedCollective[] = [];
  pending: Array<PendingCollective | null> = [];
  cursors: number[] = [];

  constructor(readonly size: number) {}

  beginPass(): void {
    this.pending = new Array<PendingCollective | null>(this.size).fill(null);
    this.cursors = new Array<number>(this.size).fill(0);
  }

  collective(rank: number, kind: CollectiveKind, buffer: Float64Array, root: number): void {
    if (this.size === 1) return; // A group of one: every collective is the identity.
    const call: CollectiveCall = { kind, length: buffer.length, root };
    const index = this.cursors[rank]!++;
    const known = this.resolved[index];
    if (!known) {
      // First time any replica gets here in this pass: remember what this one brings, then unwind
      // it; the collective resolves once every replica has brought its part.
      this.pending[rank] = { call, data: buffer.slice() };
      throw new ReplicaSuspension();
    }
    const input = kind === 'allReduce' || (kind === 'broadcast' && rank === root) ? buffer : null;
    const recorded = known.inputs[rank] ?? null;
    const sameCall = known.call.kind === kind && known.call.length === buffer.length && known.call.root === root;
    if (!sameCall || (input && recorded && !sameValues(input, recorded))) {
      throw new ContextError(
        {
          op: `InProcessGroup.${kind}`,
          expected: `rank ${rank} to repeat, on replay, what it passed to collective #${index} (${known.call.kind} of ${known.call.length} values)`,
          given: sameCall ? 'different values' : `${kind} of ${buffer.length} values`,
        },
        'InProcessGroup replays each replica function from the start: it must be deterministic (seed its generators, build its modules inside the function).',
      );
    }
    if (kind === 'allReduce' || (kind === 'broadcast' && rank !== root)) buffer.set(known.result);
  }

  resolve(): void {
    const pending = this.pending.map((p) => p!);
    checkCollectivesAgree('InProcessGroup', pending.map((p) => p.call));
    const call = pending[0]!.call;
    let result: Float64Array = new Float64Array(0);
    const inputs: Array<Float64Array | null> = new Array<Float64Array | null>(this.size).fill(null);
    if (call.kind === 'allReduce') {
      // Summed in rank order, as WorkerProcessGroup does, so both groups give the same bits.
      result = new Float64Array(call.length);
      for (let rank = 0; rank < this.size; rank++) {
        const data = pending[rank]!.data;
        inputs[rank] = data;
        for (let i = 0; i < result.length; i++) result[i]! += data[i]!;
      }
    } else if (call.kind === 'broadcast') {
      result = pending[call.root]!.data;
      inputs[call.root] = result;
    }
    this.resolved.push({ call, inputs, result });
  }
}

/**
 * K replicas simulated deterministically in one thread: `InProcessGroup.run(K, replica)` calls
 * `replica(group)` once per rank and returns the K results. Collectives inside the replicas
 * (SyncBatchNorm statistics in forward and backward, DataParallel's gradient averaging) really
 * are resolved across the replicas, so K simulated replicas compute exactly what K workers would.
 *
 * How, with synchronous collectives and one thread: the group runs the replicas by replay. Each
 * pass runs every replica from the start; a replica that reaches the first unresolved collective
 * records its contribution and is unwound (an internal exception); when all have, the collective
 * is resolved (summed in rank order) and the next pass replays them, answering the resolved
 * collectives from the record, up to the next one. A run with M collectives thus takes M + 1
 * passes: meant for tests and examples, not for speed (use `WorkerProcessGroup` for that).
 *
 * The replica function must therefore be deterministic and self-contained: build modules and
 * seeded generators inside it, and do not catch exceptions thrown by collectives. A replica that
 * passes different values on replay, or ranks that call different collectives, get a clear error.
 *
 * @example
 * const outputs = InProcessGroup.run(2, (group) => {
 *   const bn = new SyncBatchNorm({ numFeatures: 3, group });
 *   return bn.forward(shards[group.rank]).toArray();
 * });
 */
export class InProcessGroup implements ProcessGroup {
  private constructor(
    readonly rank: number,
    readonly size: number,
    private readonly session: ReplaySession,
  ) {}

  static run<T>(size: number, replica: (group: InProcessGroup) => T, options: InProcessRunOptions = {}): T[] {
    checkGroupSize('InProcessGroup.run', size);
    const maxCollectives = options.maxCollectives ?? 100_000;
    const session = new ReplaySession(size);
    for (;;) {
      session.beginPass();
      const results = new Array<T>(size);
      const finished: number[] = [];
      for (let rank = 0; rank < size; rank++) {
        try {
          results[rank] = replica(new InProcessGroup(rank, size, session));
        } catch (error) {
          if (error instanceof ReplicaSuspension && session.pending[rank]) continue;
          throw error;
        }
        if (session.pending[rank]) {
          throw new ContextError({
            op: 'InProcessGroup.run',
            expected: 'replica functions that let collective exceptions propagate',
            given: `rank ${rank} returned after catching its suspension at a collective`,
          });
        }
        finished.push(rank);
      }
      const known = session.resolved.length;
      if (finished.length === size) {
        const short = session.cursors.findIndex((c) => size > 1 && c !== known);
        if (short >= 0) {
          throw new ContextError({
            op: 'InProcessGroup.run',
            expected: `every rank to make the same ${known} collective calls`,
            given: `rank ${short} made ${session.cursors[short]}`,
          });
        }
        return results;
      }
      if (finished.length > 0) {
        throw new ContextError({
          op: 'InProcessGroup.run',
          expected: `every rank to reach collective #${known}`,
          given: `rank(s) ${finished.join(', ')} returned after ${known} collectives while the others wait in it`,
        });
      }
      session.resolve();
      if (session.resolved.length > maxCollectives) {
        throw new ContextError({ op: 'InProcessGroup.run', expected: `at most ${maxCollectives} collectives (maxCollectives)`, given: 'more' });
      }
    }
  }

  allReduce(buffer: Float64Array): void {
    this.session.collective(this.rank, 'allReduce', buffer, 0);
  }

  broadcast(buffer: Float64Array, root: number): void {
    checkRoot('InProcessGroup.broadcast', root, this.size);
    this.session.collective(this.rank, 'broadcast', buffer, root);
  }

  barrier(): void {
    this.session.collective(this.rank, 'barrier', new Float64Array(0), 0);
  }
}
