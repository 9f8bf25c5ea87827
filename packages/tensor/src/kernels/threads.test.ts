import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ValueError } from '../errors';
import { Generator } from '../random';
import { getBackend, kernelsOf, setBackend } from './backend';
import { getNumThreads, setNumThreads, threadSupport } from './threads';
import { requestedThreads } from './thread-state';
import type { KernelTable } from './types';
import { leaveTasksToWorkers, parallelThresholds, threadedStream, unsharedWasmKernels, wasmHasThreadPool, wasmThreadPoolStatistics } from './wasm/backend';

// The wasm backend's thread pool: every threaded kernel gives the same bits at 1, 2 and 3 threads
// (fixed partitions, each output element summed in one fixed order), agrees with the js reference,
// and really runs tasks on worker threads. The bitwise checks set every thread threshold to 0, so
// each call splits whatever its size.

const js = kernelsOf('js');
const wasm = kernelsOf('wasm');
const initialThreads = requestedThreads();
afterAll(() => setNumThreads(initialThreads));

function data(generator: Generator, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => generator.normal());
}

/**
 * Runs `compute` on the wasm backend at 1, 2 and 3 threads, with every thread threshold at 0 so each
 * call really splits, and expects bitwise-identical outputs; returns the 1-thread outputs. The 2- and
 * 3-thread passes run twice: as in use (the calling thread claims tasks beside the workers, and runs
 * them all while workers are still starting), and with every task left to the workers (one, then two
 * of them at once), which must have run tasks (unless `hasWork` is false: zero-size operands), so
 * worker threads' results are compared too.
 */
function sameBitsAtEveryThreadCount(
  label: string, compute: (table: KernelTable) => Record<string, Float32Array | Float64Array | null>, { hasWork = true } = {},
) {
  const saved = { ...parallelThresholds };
  const savedChunk = threadedStream.chunkFloats;
  Object.assign(parallelThresholds, Object.fromEntries(Object.keys(parallelThresholds).map((key) => [key, 0])));
  // Small chunks, so every threaded stream runs a pipeline of many (two buffer sets in turn).
  threadedStream.chunkFloats = 256;
  const passes = [
    { threads: 1, workersOnly: false },
    { threads: 2, workersOnly: false },
    { threads: 3, workersOnly: false },
    { threads: 2, workersOnly: true },
    { threads: 3, workersOnly: true },
  ];
  let outputs: Array<Record<string, Float32Array | Float64Array | null>>;
  try {
    outputs = passes.map(({ threads, workersOnly }) => {
      setNumThreads(threads);
      leaveTasksToWorkers(workersOnly);
      const before = wasmThreadPoolStatistics()!.workerTasks;
      const result = compute(wasm);
      if (workersOnly && hasWork) expect(wasmThreadPoolStatistics()!.workerTasks - before, `${label}: tasks the workers ran at ${threads} threads`).toBeGreaterThan(0);
      return result;
    });
  } finally {
    leaveTasksToWorkers(false);
    Object.assign(parallelThresholds, saved);
    threadedStream.chunkFloats = savedChunk;
  }
  for (const [key, reference] of Object.entries(outputs[0]!)) {
    if (reference === null) continue;
    passes.forEach(({ threads, workersOnly }, index) => {
      if (index === 0) return;
      const other = outputs[index]![key]!;
      let differing = 0;
      for (let i = 0; i < reference.length; i++) if (!Object.is(reference[i], other[i])) differing++;
      expect(differing, `${label} ${key}: elements differing between 1 and ${threads} threads${workersOnly ? ' (workers only)' : ''}`).toBe(0);
    });
  }
  return outputs[0]!;
}

/** |wasm - js| <= 2 (terms + 2) 2^-24 * magnitude (the float32 summation bound of the gemm tests), per element. */
function expectWithinSummationBound(label: string, ref: Float32Array, got: Float32Array, magnitude: Float32Array, terms: number): void {
  for (let i = 0; i < ref.length; i++) {
    const bound = 2 * (terms + 2) * 2 ** -24 * magnitude[i]! + 1e-30;
    if (!(Math.abs(got[i]! - ref[i]!) <= bound)) expect.fail(`${label}[${i}]: wasm ${got[i]}, js ${ref[i]}, bound ${bound}`);
  }
}

describe('thread pool', () => {
  it('is available in Node and sized by setNumThreads', () => {
    expect(threadSupport()).toEqual({ available: true });
    setNumThreads(3);
    const previous = getBackend();
    setBackend('wasm');
    expect(getNumThreads()).toBe(3);
    setBackend('js');
    expect(getNumThreads(), 'the js backend is single threaded').toBe(1);
    setBackend(previous);
  });

  it('refuses a thread count that is not a whole number from 1 to 1024, changing nothing', () => {
    setNumThreads(2);
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 2000]) {
      expect(() => setNumThreads(bad), String(bad)).toThrow(ValueError);
      expect(() => setNumThreads(bad)).toThrow(/setNumThreads.*whole number of threads/);
    }
    expect(requestedThreads()).toBe(2);
  });

  it('gemm: same bits at 1, 2 and 3 threads in all four transpose cases, and the js result within the summation bound', () => {
    const generator = new Generator(5);
    // C split by columns (A the smaller operand) and by rows (B the smaller), each with the split operand
    // streamed in block by block (untransposed A, transposed B) or copied whole.
    for (const [m, k, n, transA, transB] of [[131, 97, 263], [263, 97, 131]].flatMap(([m, k, n]) =>
      ([[false, false], [true, false], [false, true], [true, true]] as const).map(([transA, transB]) => [m!, k!, n!, transA, transB] as const))) {
      const a = data(generator, m * k);
      const b = data(generator, k * n);
      const c0 = data(generator, m * n);
      const run = (table: KernelTable, left: Float32Array, right: Float32Array, start: Float32Array) => {
        const c = start.slice();
        table.gemm({ a: left, aOffset: 0, transA, b: right, bOffset: 0, transB, c, cOffset: 0, m, k, n });
        return c;
      };
      const label = `gemm ${m}x${k}x${n} transA ${transA} transB ${transB}`;
      const { c } = sameBitsAtEveryThreadCount(label, (table) => ({ c: run(table, a, b, c0) }));
      // Overwriting C: the same bits at every thread count, and those of accumulating into +0.
      const overwritten = sameBitsAtEveryThreadCount(`${label} overwrite`, (table) => {
        const garbage = c0.map((v) => v * Number.NaN);
        table.gemm({ a, aOffset: 0, transA, b, bOffset: 0, transB, c: garbage, cOffset: 0, m, k, n, overwrite: true });
        return { c: garbage };
      });
      const intoZero = run(wasm, a, b, new Float32Array(m * n));
      expect((overwritten.c as Float32Array).every((v, i) => Object.is(v, intoZero[i])), `${label}: overwrite against accumulating into +0`).toBe(true);
      const abs = (v: Float32Array) => v.map(Math.abs);
      expectWithinSummationBound(label, run(js, a, b, c0), c as Float32Array, run(js, abs(a), abs(b), abs(c0)), k);
    }
  });

  it('gemm with operand offsets and a bias (Linear\'s forward): same bits at 1, 2 and 3 threads, row and column splits', () => {
    const generator = new Generator(23);
    for (const [m, k, n] of [[37, 61, 203], [203, 61, 37]] as const) {
      const [aOffset, bOffset, cOffset] = [5, 11, 3];
      const a = data(generator, aOffset + m * k + 7);
      const b = data(generator, bOffset + k * n + 2);
      const bias = data(generator, n);
      const c = data(generator, cOffset + m * n + 4);
      const { out } = sameBitsAtEveryThreadCount(`gemm ${m}x${k}x${n} bias, offsets`, (table) => {
        const result = c.slice();
        table.gemm({ a, aOffset, transA: false, b, bOffset, transB: true, c: result, cOffset, m, k, n, overwrite: true, bias });
        return { out: result };
      });
      const result = out as Float32Array;
      expect(Array.from(result.subarray(0, cOffset)), 'nothing written before cOffset').toEqual(Array.from(c.subarray(0, cOffset)));
      expect(Array.from(result.subarray(cOffset + m * n)), 'nothing written after C').toEqual(Array.from(c.subarray(cOffset + m * n)));
      const onJs = (left: Float32Array, right: Float32Array, shift: Float32Array) => {
        const into = new Float32Array(c.length);
        js.gemm({ a: left, aOffset, transA: false, b: right, bOffset, transB: true, c: into, cOffset, m, k, n, overwrite: true, bias: shift });
        return into.subarray(cOffset, cOffset + m * n);
      };
      const abs = (v: Float32Array) => v.map(Math.abs);
      expectWithinSummationBound(`gemm ${m}x${k}x${n} bias`, onJs(a, b, bias), result.subarray(cOffset, cOffset + m * n), onJs(abs(a), abs(b), abs(bias)), k + 1);
    }
  });

  it('gemmBatch: same bits at 1, 2 and 3 threads (entries spread over threads; shared C blocks stay in entry order)', () => {
    const generator = new Generator(15);
    const [m, k, n, count] = [17, 16, 19, 13];
    const a = data(generator, count * m * k);
    const b = data(generator, count * k * n);
    for (const shared of [false, true]) {
      const aOffsets = Int32Array.from({ length: count }, (_, i) => i * m * k);
      const bOffsets = Int32Array.from({ length: count }, (_, i) => i * k * n);
      const cOffsets = Int32Array.from({ length: count }, (_, i) => (shared ? i % 3 : i) * m * n);
      const c0 = data(generator, count * m * n);
      sameBitsAtEveryThreadCount(`gemmBatch shared C ${shared}`, (table) => {
        const c = c0.slice();
        table.gemmBatch({ a, transA: false, b, transB: true, c, m, k, n, aOffsets, bOffsets, cOffsets });
        return { c };
      });
    }
  });

  it('conv2d forward and backward: same bits at 1, 2 and 3 threads (groups, stride, dilation), and the js result within the summation bound', () => {
    const generator = new Generator(6);
    const cases = [
      { batch: 3, inChannels: 12, height: 19, width: 17, outChannels: 24, groups: 1, kernel: 3, stride: 1, pad: 1, dilation: 1 },
      { batch: 2, inChannels: 16, height: 23, width: 21, outChannels: 32, groups: 2, kernel: 3, stride: 2, pad: 2, dilation: 2 },
      { batch: 5, inChannels: 3, height: 32, width: 32, outChannels: 64, groups: 1, kernel: 5, stride: 1, pad: 2, dilation: 1 },
      // Stride 1 along rows with 12 outputs per row: the indirect path with partial strips (8 + 4 lanes), groups
      // and dilation, dx as a convolution of dy; the case above (32 wide, 5x5) takes it with full strips.
      { batch: 3, inChannels: 12, height: 15, width: 14, outChannels: 20, groups: 2, kernel: 3, stride: 1, pad: 1, dilation: 2 },
      // 1x1, stride 1, no padding: multiplied without im2col.
      { batch: 4, inChannels: 32, height: 16, width: 18, outChannels: 48, groups: 2, kernel: 1, stride: 1, pad: 0, dilation: 1 },
      // Depthwise: the direct loop, vectorised along rows (stride 1) or scalar (stride 2, dilation 2).
      { batch: 3, inChannels: 24, height: 20, width: 19, outChannels: 24, groups: 24, kernel: 3, stride: 1, pad: 1, dilation: 1 },
      { batch: 2, inChannels: 16, height: 17, width: 23, outChannels: 16, groups: 16, kernel: 5, stride: 2, pad: 2, dilation: 2 },
    ];
    for (const c of cases) {
      const window = { kernelH: c.kernel, kernelW: c.kernel, strideH: c.stride, strideW: c.stride, padH: c.pad, padW: c.pad, dilationH: c.dilation, dilationW: c.dilation };
      const outH = Math.floor((c.height + 2 * c.pad - c.dilation * (c.kernel - 1) - 1) / c.stride) + 1;
      const outW = Math.floor((c.width + 2 * c.pad - c.dilation * (c.kernel - 1) - 1) / c.stride) + 1;
      const geometry = { batch: c.batch, inChannels: c.inChannels, height: c.height, width: c.width, outChannels: c.outChannels, groups: c.groups, window, outH, outW };
      const patch = (c.inChannels / c.groups) * c.kernel * c.kernel;
      const x = data(generator, c.batch * c.inChannels * c.height * c.width);
      const weight = data(generator, c.outChannels * patch);
      const bias = data(generator, c.outChannels);
      const gy = data(generator, c.batch * c.outChannels * outH * outW);
      const forward = (table: KernelTable, xs: Float32Array, ws: Float32Array, bs: Float32Array) => {
        const out = new Float32Array(gy.length);
        table.conv2dForward({ ...geometry, x: xs, weight: ws, bias: bs, out });
        return out;
      };
      const backward = (table: KernelTable, gys: Float32Array, xs: Float32Array, ws: Float32Array) => {
        const gradX = new Float32Array(x.length);
        const gradWeight = new Float32Array(weight.length);
        table.conv2dBackward({ ...geometry, gradOutput: gys, x: xs, weight: ws, gradX, gradWeight });
        return { gradX, gradWeight };
      };
      const label = `conv ${JSON.stringify(c)}`;
      const got = sameBitsAtEveryThreadCount(label, (table) => ({ out: forward(table, x, weight, bias), ...backward(table, gy, x, weight) }));
      const abs = (v: Float32Array) => v.map(Math.abs);
      expectWithinSummationBound(`${label} forward`, forward(js, x, weight, bias), got.out as Float32Array, forward(js, abs(x), abs(weight), abs(bias)), patch);
      const ref = backward(js, gy, x, weight);
      const magnitude = backward(js, abs(gy), abs(x), abs(weight));
      expectWithinSummationBound(`${label} gradX`, ref.gradX, got.gradX as Float32Array, magnitude.gradX, (c.outChannels / c.groups) * c.kernel * c.kernel);
      expectWithinSummationBound(`${label} gradWeight`, ref.gradWeight, got.gradWeight as Float32Array, magnitude.gradWeight, c.batch * outH * outW);
      // Only one of the two gradients (a first layer needs no gradX): same bits as with both.
      setNumThreads(2);
      const onlyWeight = new Float32Array(weight.length);
      wasm.conv2dBackward({ ...geometry, gradOutput: gy, x, weight, gradX: null, gradWeight: onlyWeight });
      expect(onlyWeight).toEqual(got.gradWeight);
    }
  });

  it('row-wise and slot-wise normalization: same bits at 1, 2 and 3 threads, masks and TLU included', () => {
    const generator = new Generator(7);
    const rows = 301;
    const inner = 771;
    const x = data(generator, rows * inner);
    const gy = data(generator, rows * inner);
    const weight = data(generator, inner);
    const bias = data(generator, inner);
    const mask = Float32Array.from({ length: rows }, (_, i) => (i % 5 === 2 ? 0 : 1));
    for (const [center, rowMask] of [[true, null], [false, mask]] as const) {
      sameBitsAtEveryThreadCount(`rowwise center ${center} mask ${rowMask !== null}`, (table) => {
        const f = {
          x, out: new Float32Array(x.length), weight, bias, rows, inner, center, eps: 1e-5, mask: rowMask,
          count: new Float64Array(rows), mean: new Float64Array(rows), variance: new Float64Array(rows), rstd: new Float64Array(rows),
        };
        table.rowwiseForward(f);
        const b = {
          gradOutput: gy, x, weight, rows, inner, center, mask: rowMask, mean: f.mean, rstd: f.rstd,
          gradX: new Float32Array(x.length), gradWeight: new Float64Array(inner), gradBias: new Float64Array(inner),
        };
        table.rowwiseBackward(b);
        return { out: f.out, mean: f.mean, rstd: f.rstd, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias };
      });
    }
    // Rows longer than the one-thread path's stream buffer (16K floats): one row per chunk.
    const longRows = 5;
    const longInner = 20_011;
    const lx = data(generator, longRows * longInner);
    const lgy = data(generator, lx.length);
    sameBitsAtEveryThreadCount('rowwise rows longer than a stream chunk', (table) => {
      const f = {
        x: lx, out: new Float32Array(lx.length), weight: null, bias: null, rows: longRows, inner: longInner, center: true, eps: 1e-5, mask: null,
        count: new Float64Array(longRows), mean: new Float64Array(longRows), variance: new Float64Array(longRows), rstd: new Float64Array(longRows),
      };
      table.rowwiseForward(f);
      const b = {
        gradOutput: lgy, x: lx, weight: null, rows: longRows, inner: longInner, center: true, mask: null, mean: f.mean, rstd: f.rstd,
        gradX: new Float32Array(lx.length), gradWeight: new Float64Array(longInner), gradBias: new Float64Array(longInner),
      };
      table.rowwiseBackward(b);
      return { out: f.out, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias };
    });
    // Many chunks of the threaded stream, chunks and tasks ending mid-block.
    const bigRows = 1001;
    const bx = data(generator, bigRows * inner);
    const bgy = data(generator, bx.length);
    const bigMask = Float32Array.from({ length: bigRows }, (_, i) => (i % 9 === 4 ? 0 : 1));
    sameBitsAtEveryThreadCount('rowwise over several threaded chunks', (table) => {
      const f = {
        x: bx, out: new Float32Array(bx.length), weight, bias, rows: bigRows, inner, center: true, eps: 1e-5, mask: bigMask,
        count: new Float64Array(bigRows), mean: new Float64Array(bigRows), variance: new Float64Array(bigRows), rstd: new Float64Array(bigRows),
      };
      table.rowwiseForward(f);
      const b = {
        gradOutput: bgy, x: bx, weight, rows: bigRows, inner, center: true, mask: bigMask, mean: f.mean, rstd: f.rstd,
        gradX: new Float32Array(bx.length), gradWeight: new Float64Array(inner), gradBias: new Float64Array(inner),
      };
      table.rowwiseBackward(b);
      return { out: f.out, mean: f.mean, rstd: f.rstd, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias };
    });
    const [outer, groups, block, blocks] = [9, 4, 37, 3];
    const slotInner = block * blocks;
    const slots = outer * groups;
    const sx = data(generator, slots * slotInner * 20 * 4);
    const params = groups * blocks;
    sameBitsAtEveryThreadCount('slotwise forward', (table) => {
      const f = {
        x: sx.subarray(0, slots * slotInner), out: new Float32Array(slots * slotInner), weight: data(new Generator(1), params), bias: data(new Generator(2), params),
        threshold: data(new Generator(3), params), slots, groups, inner: slotInner, block, center: true, eps: 1e-5,
        mean: new Float64Array(slots), variance: new Float64Array(slots), rstd: new Float64Array(slots),
      };
      table.slotwiseForward(f);
      return { out: f.out, mean: f.mean, variance: f.variance };
    });
    // Many samples (streamed in several chunks on one thread and in the threaded stream),
    // with and without the TLU threshold.
    const manySlots = 20 * 4 * outer * groups;
    const mgy = data(generator, sx.length);
    for (const threshold of [null, data(new Generator(3), params)]) {
      sameBitsAtEveryThreadCount(`slotwise forward and backward over many samples, tlu ${threshold !== null}`, (table) => {
        const f = {
          x: sx, out: new Float32Array(sx.length), weight: data(new Generator(1), params), bias: data(new Generator(2), params),
          threshold, slots: manySlots, groups, inner: slotInner, block, center: true, eps: 1e-5,
          mean: new Float64Array(manySlots), variance: new Float64Array(manySlots), rstd: new Float64Array(manySlots),
        };
        table.slotwiseForward(f);
        const b = {
          gradOutput: mgy, x: sx, weight: f.weight, bias: f.bias, threshold, slots: manySlots, groups, inner: slotInner, block, center: true,
          mean: f.mean, rstd: f.rstd, gradX: new Float32Array(sx.length), gradWeight: new Float64Array(params), gradBias: new Float64Array(params),
          gradThreshold: threshold && new Float64Array(params), dxhatXhat: new Float64Array(manySlots),
        };
        table.slotwiseBackward(b);
        return { out: f.out, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias, gradThreshold: b.gradThreshold, dxhatXhat: b.dxhatXhat };
      });
    }
  });

  it('tanh, sigmoid, SiLU and GELU forward and backward: same bits at 1, 2 and 3 threads, NaN and ±Inf included', () => {
    const generator = new Generator(17);
    for (const size of [0, 1, 5, 67, 4099, 40_001]) {
      const x = data(generator, size);
      for (let i = 0; i < size; i += 7) x[i] = [Number.NaN, Infinity, -Infinity, -0, 750, -750][i % 6]!;
      const gradOutput = data(generator, size);
      for (const op of ['tanh', 'sigmoid', 'silu', 'gelu'] as const) {
        sameBitsAtEveryThreadCount(`${op} ${size}`, (table) => {
          const out = new Float32Array(size);
          table.activation({ op, x, out });
          const gradX = new Float32Array(size);
          table.activationBackward({ op, x, out, gradOutput, gradX });
          return { out, gradX };
        }, { hasWork: size > 0 });
      }
    }
  });

  it('every threaded kernel on small, awkward sizes: same bits at 1, 2 and 3 threads', () => {
    {
      const generator = new Generator(9);
      const pick = <T>(values: readonly T[]): T => values[generator.nextUint32() % values.length]!;
      const maybe = <T>(value: () => T): T | null => (generator.nextUint32() % 3 === 0 ? null : value());
      for (let trial = 0; trial < 40; trial++) {
        // Batch-wise: ghost chunks, fixed statistics, no centring, an all-reduce hook.
        const outer = pick([0, 1, 2, 3, 5, 7, 61]);
        // groups 5 and 8 with inner 1: the column loops (two groups per f64x2) against the per-run loops the threaded path keeps.
        const groups = pick([1, 2, 3, 5, 8]);
        const inner = pick([1, 1, 3, 4, 9, 17, 33]);
        const chunk = Math.max(1, pick([outer, 1, 2, 3, 13]));
        const slots = Math.ceil(outer / chunk) * groups || groups;
        const center = generator.nextUint32() % 2 === 0;
        const x = data(generator, outer * groups * inner);
        const gy = data(generator, x.length);
        const weight = maybe(() => data(generator, groups));
        const bias = maybe(() => data(generator, groups));
        const fixed = generator.nextUint32() % 4 === 0
          ? { mean: Float64Array.from(data(generator, slots)), variance: Float64Array.from(data(generator, slots), Math.abs) }
          : null;
        const double = (buffer: Float64Array) => buffer.forEach((v, i) => (buffer[i] = 2 * v));
        sameBitsAtEveryThreadCount(`batch outer ${outer} groups ${groups} inner ${inner} chunk ${chunk} center ${center} fixed ${fixed !== null}`, (table) => {
          const f = { x, out: new Float32Array(x.length), weight, bias, outer, groups, inner, chunk, slots, center, eps: 1e-5, fixed, allReduce: double };
          const result = table.batchForward(f);
          const b = {
            gradOutput: gy, x, weight, outer, groups, inner, chunk, slots, center, fixed: fixed !== null, count: result.statistics.count,
            mean: result.statistics.mean, rstd: result.rstd, gradX: new Float32Array(x.length), gradWeight: weight && new Float64Array(groups),
            gradBias: bias && new Float64Array(groups), allReduce: double,
          };
          table.batchBackward(b);
          return { out: f.out, mean: result.statistics.mean, variance: result.statistics.variance, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias };
        }, { hasWork: x.length > 0 });
        // Slot-wise with TLU, and the slot-mix kernels.
        // block 1 with 9 blocks: the per-value loops (lanes along the slot) against the per-block loops the threaded backward keeps.
        const block = pick([1, 1, 2, 5, 8]);
        const blocks = pick([1, 2, 3, 9]);
        const slotInner = block * blocks;
        const slotCount = outer * groups;
        const params = groups * blocks;
        const sx = data(generator, slotCount * slotInner);
        const sgy = data(generator, sx.length);
        const sw = data(generator, params);
        const sb = data(generator, params);
        const threshold = maybe(() => data(generator, params));
        sameBitsAtEveryThreadCount(`slotwise outer ${outer} groups ${groups} block ${block}x${blocks} tlu ${threshold !== null}`, (table) => {
          const f = {
            x: sx, out: new Float32Array(sx.length), weight: sw, bias: sb, threshold, slots: slotCount, groups, inner: slotInner, block, center, eps: 1e-5,
            mean: new Float64Array(slotCount), variance: new Float64Array(slotCount), rstd: new Float64Array(slotCount),
          };
          table.slotwiseForward(f);
          const b = {
            gradOutput: sgy, x: sx, weight: sw, bias: sb, threshold, slots: slotCount, groups, inner: slotInner, block, center, mean: f.mean, rstd: f.rstd,
            gradX: new Float32Array(sx.length), gradWeight: new Float64Array(params), gradBias: new Float64Array(params),
            gradThreshold: threshold && new Float64Array(params), dxhatXhat: new Float64Array(slotCount),
          };
          table.slotwiseBackward(b);
          const mixed = new Float32Array(sx.length);
          let mean = new Float64Array(0);
          table.slotMixForward({
            x: sx, out: mixed, slots: slotCount, inner: slotInner,
            mix: (m, v) => {
              mean = m.slice();
              const scale = v.map((vs) => 1 / Math.sqrt(vs + 1e-5));
              return { scale, shift: m.map((ms, i) => -ms * scale[i]!) };
            },
          });
          const mixedGradX = new Float32Array(sx.length);
          table.slotMixBackward({
            gradOutput: sgy, x: sx, gradX: mixedGradX, slots: slotCount, inner: slotInner, mean,
            mix: (sumDy, sumDyCentred) => ({ a: sumDy.map(() => 0.5), c: sumDyCentred.map((t) => t / slotInner), e: sumDy.map((t) => t / slotInner) }),
          });
          return { out: f.out, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias, gradThreshold: b.gradThreshold, dxhatXhat: b.dxhatXhat, mixed, mixedGradX };
        }, { hasWork: sx.length > 0 });
        // Row-wise with masks (GEMMs and convolutions this small stay on the js loops; the cases above cover them).
        const rows = pick([0, 1, 2, 5, 9]);
        const rowInner = pick([1, 3, 4, 5, 17]);
        const rx = data(generator, rows * rowInner);
        const rgy = data(generator, rx.length);
        const mask = generator.nextUint32() % 2 === 0 ? Float32Array.from({ length: rows }, (_, i) => (i % 3 === 1 ? 0 : 1)) : null;
        sameBitsAtEveryThreadCount(`rowwise rows ${rows} inner ${rowInner} mask ${mask !== null}`, (table) => {
          const f = {
            x: rx, out: new Float32Array(rx.length), weight: sw.length >= rowInner ? sw.subarray(0, rowInner) : null, bias: null, rows, inner: rowInner,
            center, eps: 1e-5, mask, count: new Float64Array(rows), mean: new Float64Array(rows), variance: new Float64Array(rows), rstd: new Float64Array(rows),
          };
          table.rowwiseForward(f);
          const b = {
            gradOutput: rgy, x: rx, weight: f.weight, rows, inner: rowInner, center, mask, mean: f.mean, rstd: f.rstd,
            gradX: new Float32Array(rx.length), gradWeight: new Float64Array(rowInner), gradBias: new Float64Array(rowInner),
          };
          table.rowwiseBackward(b);
          return { out: f.out, gradX: b.gradX, gradWeight: b.gradWeight, gradBias: b.gradBias };
        }, { hasWork: rx.length > 0 });
      }
    }
  });

  it('runs tasks on worker threads once they are ready', async () => {
    setNumThreads(2);
    const generator = new Generator(8);
    const a = data(generator, 256 * 256);
    const c = new Float32Array(256 * 256);
    const multiply = () => wasm.gemm({ a, aOffset: 0, transA: false, b: a, bOffset: 0, transB: false, c, cOffset: 0, m: 256, k: 256, n: 256 });
    multiply();
    await vi.waitFor(() => expect(wasmThreadPoolStatistics()!.ready).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    const before = wasmThreadPoolStatistics()!;
    for (let i = 0; i < 20; i++) multiply();
    const after = wasmThreadPoolStatistics()!;
    expect(after.jobs - before.jobs, 'jobs published').toBe(20);
    expect(after.workerTasks - before.workerTasks, 'tasks a worker ran').toBeGreaterThan(0);
    // Below the threshold a call stays on the calling thread: no job.
    const small = new Float32Array(32 * 32);
    wasm.gemm({ a: small, aOffset: 0, transA: false, b: small, bOffset: 0, transB: false, c: small.slice(), cOffset: 0, m: 32, k: 32, n: 32 });
    expect(wasmThreadPoolStatistics()!.jobs).toBe(after.jobs);
  });

  it('a thread count that changes between consecutive jobs (3, then 2, workers only or not) keeps the 1-thread bits and never hangs', () => {
    // A worker of a 3-thread job that wakes late must not take part in the next, 2-thread job, whose
    // scratch has no region for it (see runClaims). The race is a matter of timing, so this runs many
    // consecutive jobs; pool-protocol.test.ts pins the rule itself.
    const saved = { ...parallelThresholds };
    Object.assign(parallelThresholds, Object.fromEntries(Object.keys(parallelThresholds).map((key) => [key, 0])));
    try {
      const generator = new Generator(21);
      const [m, k, n] = [40, 24, 56];
      const a = data(generator, m * k);
      const b = data(generator, k * n);
      const window = { kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1 };
      const geometry = { batch: 2, inChannels: 4, height: 7, width: 6, outChannels: 6, groups: 1, window, outH: 7, outW: 6 };
      const image = data(generator, 2 * 4 * 7 * 6);
      const filters = data(generator, 6 * 4 * 9);
      const compute = () => {
        const c = new Float32Array(m * n);
        wasm.gemm({ a, aOffset: 0, transA: false, b, bOffset: 0, transB: false, c, cOffset: 0, m, k, n });
        const conv = new Float32Array(2 * 6 * 7 * 6);
        wasm.conv2dForward({ ...geometry, x: image, weight: filters, bias: null, out: conv });
        return [c, conv];
      };
      setNumThreads(1);
      const reference = compute();
      let differing = 0;
      for (let i = 0; i < 1500; i++) {
        setNumThreads(i % 2 === 0 ? 3 : 2);
        leaveTasksToWorkers(i % 4 === 1);
        const outputs = compute();
        outputs.forEach((output, which) => {
          if (output.some((value, index) => !Object.is(value, reference[which]![index]))) differing++;
        });
      }
      expect(differing, 'outputs differing from 1 thread').toBe(0);
    } finally {
      leaveTasksToWorkers(false);
      Object.assign(parallelThresholds, saved);
    }
  });

  it('each kernel goes to the pool only from its measured size threshold; slot-wise, batch-wise and ReLU never', () => {
    setNumThreads(2);
    const generator = new Generator(12);
    const jobsOf = (call: () => void) => {
      const before = wasmThreadPoolStatistics()!.jobs;
      call();
      return wasmThreadPoolStatistics()!.jobs - before;
    };
    // Row-wise forward and backward: 2^20 elements (rows of 256).
    const rowwise = (rows: number) => {
      const inner = 256;
      const x = data(generator, rows * inner);
      const f = {
        x, out: new Float32Array(x.length), weight: null, bias: null, rows, inner, center: true, eps: 1e-5, mask: null,
        count: new Float64Array(rows), mean: new Float64Array(rows), variance: new Float64Array(rows), rstd: new Float64Array(rows),
      };
      const forwardJobs = jobsOf(() => wasm.rowwiseForward(f));
      const backwardJobs = jobsOf(() => wasm.rowwiseBackward({
        gradOutput: x, x, weight: null, rows, inner, center: true, mask: null, mean: f.mean, rstd: f.rstd,
        gradX: new Float32Array(x.length), gradWeight: new Float64Array(inner), gradBias: new Float64Array(inner),
      }));
      return [forwardJobs, backwardJobs];
    };
    expect(parallelThresholds.rowwiseElements).toBe(1 << 20);
    expect(parallelThresholds.rowwiseBackwardElements).toBe(1 << 20);
    expect(rowwise((1 << 12) - 1), 'row-wise just below 2^20 elements: no job').toEqual([0, 0]);
    const [forwardJobs, backwardJobs] = rowwise(1 << 12);
    expect(forwardJobs, 'row-wise forward at 2^20 elements').toBeGreaterThan(0);
    expect(backwardJobs, 'row-wise backward at 2^20 elements').toBeGreaterThan(0);
    // Slot-wise (GroupNorm, InstanceNorm, FRN): from 2^20 elements too.
    const slotwise = (samples: number) => {
      const [groups, inner] = [32, 1024];
      const slots = samples * groups;
      const x = data(generator, slots * inner);
      const f = {
        x, out: new Float32Array(x.length), weight: null, bias: null, threshold: null, slots, groups, inner, block: inner, center: true, eps: 1e-5,
        mean: new Float64Array(slots), variance: new Float64Array(slots), rstd: new Float64Array(slots),
      };
      const forwardJobs = jobsOf(() => wasm.slotwiseForward(f));
      const backwardJobs = jobsOf(() => wasm.slotwiseBackward({
        gradOutput: x, x, weight: null, bias: null, threshold: null, slots, groups, inner, block: inner, center: true, mean: f.mean, rstd: f.rstd,
        gradX: new Float32Array(x.length), gradWeight: null, gradBias: null, gradThreshold: null, dxhatXhat: new Float64Array(slots),
      }));
      return [forwardJobs, backwardJobs];
    };
    expect(parallelThresholds.slotwiseElements).toBe(1 << 20);
    expect(slotwise(31), 'slot-wise at 31/32 of 2^20 elements: no job').toEqual([0, 0]);
    const [slotForwardJobs, slotBackwardJobs] = slotwise(32);
    expect(slotForwardJobs, 'slot-wise forward at 2^20 elements').toBeGreaterThan(0);
    expect(slotBackwardJobs, 'slot-wise backward at 2^20 elements').toBeGreaterThan(0);
    // Convolution: on the pool from 2^24 multiply-adds (batch x outChannels x patch x plane), like the GEMM.
    const conv = (batch: number) => {
      const [inChannels, outChannels, size] = [16, 32, 16];
      const window = { kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1 };
      const geometry = { batch, inChannels, height: size, width: size, outChannels, groups: 1, window, outH: size, outW: size };
      const x = data(generator, batch * inChannels * size * size);
      const out = new Float32Array(batch * outChannels * size * size);
      return jobsOf(() => wasm.conv2dForward({ ...geometry, x, weight: data(generator, outChannels * inChannels * 9), bias: null, out }));
    };
    // 32 outputs x 144 patch x 256 positions = 1,179,648 multiply-adds per sample: 14 samples stay under 2^24, 15 do not.
    expect(parallelThresholds.gemmWork).toBe(1 << 24);
    expect(conv(14), 'conv2d just under the threshold: no job').toBe(0);
    expect(conv(15), 'conv2d over the threshold').toBeGreaterThan(0);
    // Activations with exp or erf (sigmoid, SiLU, GELU): from 2^15 elements; ReLU (a compare) never.
    expect(parallelThresholds.activationElements).toBe(1 << 15);
    const activationJobs = (size: number, op: 'gelu' | 'relu') => {
      const x = data(generator, size);
      return jobsOf(() => wasm.activation({ op, x, out: new Float32Array(size) }))
        + jobsOf(() => wasm.activationBackward({ op, x, out: x, gradOutput: x, gradX: new Float32Array(size) }));
    };
    expect(activationJobs((1 << 15) - 1, 'gelu'), 'GELU just below 2^15 elements: no job').toBe(0);
    expect(activationJobs(1 << 15, 'gelu'), 'GELU forward and backward at 2^15 elements').toBeGreaterThanOrEqual(2);
    expect(activationJobs(1 << 20, 'relu'), 'ReLU on 2^20 elements').toBe(0);
    // Batch-wise (BatchNorm) stays on one thread at any size (no gain measured).
    const [slots, inner] = [64, 1 << 15];
    const x = data(generator, slots * inner);
    expect(jobsOf(() => wasm.batchForward({
      x, out: new Float32Array(x.length), weight: null, bias: null, outer: slots, groups: 1, inner, chunk: slots, slots: 1, center: true, eps: 1e-5, fixed: null, allReduce: null,
    })), 'batch-wise on 2^21 elements').toBe(0);
  });

  it('the one-thread module (browser main threads, pages without cross-origin isolation) gives the shared module\'s bits', () => {
    setNumThreads(1);
    expect(wasmHasThreadPool(), 'Node runs the shared-memory module').toBe(true);
    const unshared = unsharedWasmKernels();
    expect(unshared, 'the one-thread module instantiates').not.toBeNull();
    expect(unshared, 'a table of its own').not.toBe(wasm);
    const generator = new Generator(13);
    const [m, k, n] = [67, 45, 131];
    const a = data(generator, m * k);
    const b = data(generator, k * n);
    const [rows, inner] = [37, 200];
    const x = data(generator, rows * inner);
    const weight = data(generator, inner);
    const bias = data(generator, inner);
    const gradOutput = data(generator, x.length);
    const window = { kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilationH: 1, dilationW: 1 };
    const geometry = { batch: 2, inChannels: 8, height: 11, width: 9, outChannels: 12, groups: 1, window, outH: 11, outW: 9 };
    const image = data(generator, 2 * 8 * 11 * 9);
    const filters = data(generator, 12 * 8 * 9);
    const filterBias = data(generator, 12);
    const compute = (table: KernelTable) => {
      const c = new Float32Array(m * n);
      table.gemm({ a, aOffset: 0, transA: false, b, bOffset: 0, transB: true, c, cOffset: 0, m, k, n });
      const f = {
        x, out: new Float32Array(x.length), weight, bias, rows, inner, center: true, eps: 1e-5, mask: null,
        count: new Float64Array(rows), mean: new Float64Array(rows), variance: new Float64Array(rows), rstd: new Float64Array(rows),
      };
      table.rowwiseForward(f);
      const gradX = new Float32Array(x.length);
      table.rowwiseBackward({
        gradOutput, x, weight, rows, inner, center: true, mask: null, mean: f.mean, rstd: f.rstd, gradX, gradWeight: new Float64Array(inner), gradBias: new Float64Array(inner),
      });
      const conv = new Float32Array(2 * 12 * 11 * 9);
      table.conv2dForward({ ...geometry, x: image, weight: filters, bias: filterBias, out: conv });
      const gelu = new Float32Array(x.length);
      table.activation({ op: 'gelu', x, out: gelu });
      return { c, out: f.out, gradX, conv, gelu };
    };
    const shared = compute(wasm);
    const one = compute(unshared!);
    for (const key of Object.keys(shared) as Array<keyof typeof shared>) {
      let differing = 0;
      for (let i = 0; i < shared[key].length; i++) if (!Object.is(shared[key][i], one[key][i])) differing++;
      expect(differing, `${key}: elements differing between the shared and the one-thread module`).toBe(0);
    }
  });

  it('never keeps a Node process alive after its work is done', () => {
    const script = fileURLToPath(new URL('./threads-exit.fixture.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../../../node_modules/tsx/dist/cli.mjs', import.meta.url));
    const started = Date.now();
    const result = spawnSync(process.execPath, [tsx, script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NORMKIT_THREADS: '2' } });
    expect(result.error, result.stderr).toBeUndefined();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/worker tasks: [1-9]/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
