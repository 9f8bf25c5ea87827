import { describe, expect, it } from 'vitest';
import { ContextError, ShapeError, ValueError } from '../errors';
import { InProcessGroup } from './in-process-group';

describe('InProcessGroup: K replicas simulated in one thread', () => {
  it('allReduce sums over the replicas, in place, identically on every rank', () => {
    const results = InProcessGroup.run(3, (group) => {
      const buffer = Float64Array.from([group.rank, 10 * (group.rank + 1), 0.1]);
      group.allReduce(buffer);
      return Array.from(buffer);
    });
    expect(results).toEqual([
      [3, 60, 0.1 + 0.1 + 0.1],
      [3, 60, 0.1 + 0.1 + 0.1],
      [3, 60, 0.1 + 0.1 + 0.1],
    ]);
  });

  it('chains collectives whose inputs depend on earlier results (the replay answers resolved ones)', () => {
    let calls = 0;
    const results = InProcessGroup.run(2, (group) => {
      calls++;
      const first = Float64Array.from([group.rank + 1]); // 1 and 2: sum 3
      group.allReduce(first);
      const second = Float64Array.from([first[0]! * (group.rank + 1)]); // 3 and 6: sum 9
      group.allReduce(second);
      const fromRoot = Float64Array.from([group.rank === 1 ? second[0]! + 1 : -1]);
      group.broadcast(fromRoot, 1);
      group.barrier();
      return [first[0], second[0], fromRoot[0]];
    });
    expect(results).toEqual([[3, 9, 10], [3, 9, 10]]);
    // 4 collectives: 5 passes over 2 replicas.
    expect(calls).toBe(10);
  });

  it('broadcast copies the root buffer to the other ranks', () => {
    const results = InProcessGroup.run(3, (group) => {
      const buffer = Float64Array.from([group.rank, group.rank * 2]);
      group.broadcast(buffer, 2);
      return Array.from(buffer);
    });
    expect(results).toEqual([[2, 4], [2, 4], [2, 4]]);
  });

  it('a group of one runs once, with identity collectives', () => {
    let calls = 0;
    const [result] = InProcessGroup.run(1, (group) => {
      calls++;
      const buffer = Float64Array.from([5]);
      group.allReduce(buffer);
      group.barrier();
      return buffer[0];
    });
    expect(result).toBe(5);
    expect(calls).toBe(1);
  });

  it('refuses ranks that disagree on the buffer length, on the collective, or on the root', () => {
    expect(() => InProcessGroup.run(2, (group) => group.allReduce(new Float64Array(3 + group.rank)))).toThrow(ShapeError);
    expect(() => InProcessGroup.run(2, (group) => group.allReduce(new Float64Array(3 + group.rank)))).toThrow(
      /buffers of one length on every rank, got rank 0: 3, rank 1: 4/,
    );
    expect(() =>
      InProcessGroup.run(2, (group) => (group.rank === 0 ? group.barrier() : group.allReduce(new Float64Array(0)))),
    ).toThrow(ContextError);
    expect(() => InProcessGroup.run(2, (group) => group.broadcast(new Float64Array(1), group.rank))).toThrow(/one root on every rank/);
  });

  it('refuses a replica that skips a collective the others make', () => {
    expect(() =>
      InProcessGroup.run(2, (group) => {
        if (group.rank === 0) group.allReduce(new Float64Array(1));
        return group.rank;
      }),
    ).toThrow(/every rank to reach collective #0, got rank\(s\) 1 returned/);
  });

  it('refuses a non-deterministic replica and one that swallows its suspension', () => {
    let counter = 0;
    expect(() =>
      InProcessGroup.run(2, (group) => {
        group.allReduce(Float64Array.from([counter++]));
        group.barrier();
      }),
    ).toThrow(/must be deterministic/);
    expect(() =>
      InProcessGroup.run(2, (group) => {
        try {
          group.allReduce(new Float64Array(1));
        } catch {
          // Swallowing the suspension breaks the replay.
        }
        return 1;
      }),
    ).toThrow(/returned after catching its suspension/);
  });

  it("propagates a replica's own error unchanged", () => {
    expect(() =>
      InProcessGroup.run(2, (group) => {
        group.barrier();
        if (group.rank === 1) throw new ValueError({ op: 'replica', expected: 'x', given: 'y' });
      }),
    ).toThrow(ValueError);
  });

  it('validates size and root', () => {
    expect(() => InProcessGroup.run(0, () => 1)).toThrow(ValueError);
    expect(() => InProcessGroup.run(2, (group) => group.broadcast(new Float64Array(1), 2))).toThrow(/root rank in \[0, 1\]/);
  });
});
