import { getNumThreads, setNumThreads, threadSupport } from '@normkit/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { applyThreads, isolationProblem, threadsPerRun } from './threads';

const initial = getNumThreads();
afterAll(() => setNumThreads(Math.max(1, initial)));

describe('threadsPerRun', () => {
  it('is max(1, floor(cores / active runs))', () => {
    expect([1, 2, 3, 4].map((runs) => threadsPerRun(8, runs))).toEqual([8, 4, 2, 2]);
    expect([1, 2, 3, 4].map((runs) => threadsPerRun(2, runs))).toEqual([2, 1, 1, 1]);
    expect(threadsPerRun(4, 0)).toBe(4);
    expect(threadsPerRun(Number.NaN, 2)).toBe(1);
  });
});

describe('isolationProblem', () => {
  it('names the missing headers when a page is not cross-origin isolated, and is null when it is', () => {
    expect(isolationProblem({ crossOriginIsolated: false, SharedArrayBuffer })).toMatch(/not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp/);
    expect(isolationProblem({ crossOriginIsolated: true })).toMatch(/no SharedArrayBuffer/);
    expect(isolationProblem({ crossOriginIsolated: true, SharedArrayBuffer })).toBeNull();
    expect(isolationProblem({ SharedArrayBuffer })).toBeNull(); // Node: no such flag, shared memory available
  });
});

describe('applyThreads', () => {
  it("sets @normkit/tensor's threads where it has them, and reports one thread with the reason where not", () => {
    const info = applyThreads(2);
    if (threadSupport().available) {
      expect(info).toEqual({ threads: getNumThreads(), available: true, reason: null });
    } else {
      expect(info).toEqual({ threads: 1, available: false, reason: threadSupport().reason });
    }
  });
});
