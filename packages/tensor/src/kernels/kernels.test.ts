import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TypedArray } from '../dtype';
import { Generator } from '../random';
import { activeKernels, getBackend, kernelsOf, setBackend } from './backend';
import { convolutionPaths } from './wasm/backend';
import { erf } from './js/math';
import type { ActivationOp, BinaryBroadcast, BinaryKernelOp, KernelTable } from './types';
import { sumRuns } from '../ops/reduce';
import { keptSize } from './js/reduce';

// Every kernel of the table on both backends, against the `js` reference: random shapes (sizes
// that are not multiples of the SIMD width included), zero-size, large, constant and extreme
// inputs, NaN and Inf. Float32 outputs agree to |a - b| <= 1e-6 * max|ref| + 4 ulp(ref); float64
// accumulators (statistics, parameter gradients) to 1e-12 * max|ref| (summation order differs: the
// variance of a row at a 1e6 offset differs by 5.7e-13 relative, so 1e-13 fails there). Float64
// tensors run the js loops on both backends, so they agree to the bit ('float64 data goes to the js loops').

const js = kernelsOf('js');
const wasm = kernelsOf('wasm');

type Fill = 'normal' | 'constant' | 'offset' | 'huge' | 'special';

function ulp32(value: number): number {
  const a = Math.abs(value);
  if (a === 0 || !Number.isFinite(a)) return 1.4e-45;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

function expectAgree(name: string, ref: TypedArray, got: TypedArray): void {
  expect(got.length, `${name}: length`).toBe(ref.length);
  let maxRef = 0;
  for (const v of ref) if (Number.isFinite(v)) maxRef = Math.max(maxRef, Math.abs(v));
  const float32 = ref instanceof Float32Array;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (Number.isNaN(r) || !Number.isFinite(r)) {
      expect(Object.is(g, r) || (Number.isNaN(r) && Number.isNaN(g)), `${name}[${i}]: ${g} where js gives ${r}`).toBe(true);
      continue;
    }
    const tolerance = float32 ? 1e-6 * maxRef + 4 * ulp32(r) : 1e-12 * maxRef;
    if (!(Math.abs(g - r) <= tolerance)) expect.fail(`${name}[${i}]: wasm ${g}, js ${r}, |diff| ${Math.abs(g - r)} > ${tolerance}`);
  }
}

function data(generator: Generator, size: number, fill: Fill): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    const z = generator.normal();
    switch (fill) {
      case 'normal': out[i] = z; break;
      case 'constant': out[i] = 2.5; break;
      // A large mean over a small spread: the case two-pass float64 statistics exist for.
      case 'offset': out[i] = 1e4 + 0.1 * z; break;
      // Squares overflow float32 but not the float64 accumulators.
      case 'huge': out[i] = 1e30 * z; break;
      case 'special': out[i] = i % 7 === 3 ? NaN : i % 11 === 5 ? Infinity : i % 13 === 2 ? -Infinity : z; break;
    }
  }
  return out;
}

function optional<T>(generator: Generator, value: () => T): T | null {
  return generator.nextUint32() % 3 === 0 ? null : value();
}

const INNER_SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 768];
const FILLS: Fill[] = ['normal', 'normal', 'constant', 'offset', 'huge', 'special'];

function pick<T>(generator: Generator, values: readonly T[]): T {
  return values[generator.nextUint32() % values.length]!;
}

function both<A extends object>(args: () => A, run: (table: KernelTable, a: A) => void): [A, A] {
  const a = args();
  const b = args();
  run(js, a);
  run(wasm, b);
  return [a, b];
}

function compareAll(label: string, ref: object, got: object): void {
  for (const [key, value] of Object.entries(ref)) {
    if (value instanceof Float32Array || value instanceof Float64Array) {
      expectAgree(`${label} ${key}`, value, (got as Record<string, TypedArray>)[key]!);
    }
  }
}

describe('kernel table: wasm against js', () => {
  it('row-wise forward and backward (LayerNorm, RMSNorm)', () => {
    const generator = new Generator(11);
    for (let trial = 0; trial < 120; trial++) {
      const rows = pick(generator, [0, 1, 2, 3, 5, 9]);
      const inner = pick(generator, INNER_SIZES);
      const fill = pick(generator, FILLS);
      const center = generator.nextUint32() % 2 === 0;
      const x = data(generator, rows * inner, fill);
      const gy = data(generator, rows * inner, 'normal');
      const weight = optional(generator, () => data(generator, inner, 'normal'));
      const bias = optional(generator, () => data(generator, inner, 'normal'));
      const mask = generator.nextUint32() % 4 === 0 ? Float32Array.from({ length: rows }, (_, i) => (i % 2 === 0 ? 1 : 0)) : null;
      const label = `rows ${rows} inner ${inner} ${fill} center ${center}`;
      const [ref, got] = both(
        () => ({
          x, out: new Float32Array(rows * inner), weight, bias, rows, inner, center, eps: 1e-5, mask,
          count: new Float64Array(rows), mean: new Float64Array(rows), variance: new Float64Array(rows), rstd: new Float64Array(rows),
        }),
        (table, a) => table.rowwiseForward(a),
      );
      compareAll(`rowwiseForward ${label}`, ref, got);
      const wantGradX = generator.nextUint32() % 4 !== 0;
      const [bref, bgot] = both(
        () => ({
          gradOutput: gy, x, weight, rows, inner, center, mask, mean: ref.mean, rstd: ref.rstd,
          gradX: wantGradX ? new Float32Array(rows * inner) : null,
          gradWeight: weight ? new Float64Array(inner) : null, gradBias: bias ? new Float64Array(inner) : null,
        }),
        (table, a) => table.rowwiseBackward(a),
      );
      compareAll(`rowwiseBackward ${label}`, bref, bgot);
    }
  });

  it('slot-wise forward and backward (GroupNorm, InstanceNorm, FRN with TLU)', () => {
    const generator = new Generator(12);
    for (let trial = 0; trial < 120; trial++) {
      const outer = pick(generator, [0, 1, 2, 3]);
      const groups = pick(generator, [1, 2, 3, 4]);
      const block = pick(generator, [2, 3, 4, 5, 8, 9, 16, 17, 49]);
      const blocks = pick(generator, [1, 2, 3]);
      const inner = block * blocks;
      const slots = outer * groups;
      const params = groups * blocks;
      const fill = pick(generator, FILLS);
      const center = generator.nextUint32() % 2 === 0;
      const x = data(generator, slots * inner, fill);
      const gy = data(generator, slots * inner, 'normal');
      const weight = optional(generator, () => data(generator, params, 'normal'));
      const bias = optional(generator, () => data(generator, params, 'normal'));
      const threshold = optional(generator, () => data(generator, params, 'normal'));
      const label = `outer ${outer} groups ${groups} block ${block}x${blocks} ${fill} center ${center} tlu ${threshold !== null}`;
      const [ref, got] = both(
        () => ({
          x, out: new Float32Array(slots * inner), weight, bias, threshold, slots, groups, inner, block, center, eps: 1e-5,
          mean: new Float64Array(slots), variance: new Float64Array(slots), rstd: new Float64Array(slots),
        }),
        (table, a) => table.slotwiseForward(a),
      );
      compareAll(`slotwiseForward ${label}`, ref, got);
      const wantGradX = generator.nextUint32() % 4 !== 0;
      const [bref, bgot] = both(
        () => ({
          gradOutput: gy, x, weight, bias, threshold, slots, groups, inner, block, center, mean: ref.mean, rstd: ref.rstd,
          gradX: wantGradX ? new Float32Array(slots * inner) : null,
          gradWeight: weight ? new Float64Array(params) : null, gradBias: bias ? new Float64Array(params) : null,
          gradThreshold: threshold ? new Float64Array(params) : null, dxhatXhat: new Float64Array(slots),
        }),
        (table, a) => table.slotwiseBackward(a),
      );
      compareAll(`slotwiseBackward ${label}`, bref, bgot);
    }
  });

  it('batch forward and backward (BatchNorm, ghost chunks, fixed statistics, all-reduce hook)', () => {
    const generator = new Generator(13);
    for (let trial = 0; trial < 120; trial++) {
      const outer = pick(generator, [0, 1, 2, 3, 4, 6]);
      const groups = pick(generator, [1, 2, 3, 5]);
      const inner = pick(generator, INNER_SIZES);
      const chunk = Math.max(1, pick(generator, [outer, 1, 2, 3]));
      const slots = Math.ceil(outer / chunk) * groups || groups;
      const fill = pick(generator, FILLS);
      const center = generator.nextUint32() % 2 === 0;
      const useFixed = generator.nextUint32() % 4 === 0;
      const x = data(generator, outer * groups * inner, fill);
      const gy = data(generator, outer * groups * inner, 'normal');
      const weight = optional(generator, () => data(generator, groups, 'normal'));
      const bias = optional(generator, () => data(generator, groups, 'normal'));
      const fixed = useFixed
        ? { mean: Float64Array.from(data(generator, slots, 'normal')), variance: Float64Array.from(data(generator, slots, 'normal'), Math.abs) }
        : null;
      // A replica group of one that doubles every buffer: the kernels must call it at the same points.
      const calls: { js: number[]; wasm: number[] } = { js: [], wasm: [] };
      const reducer = (name: 'js' | 'wasm') => (buffer: Float64Array) => {
        calls[name].push(buffer.length);
        for (let i = 0; i < buffer.length; i++) buffer[i]! *= 2;
      };
      const label = `outer ${outer} groups ${groups} inner ${inner} chunk ${chunk} ${fill} center ${center} fixed ${useFixed}`;
      const args = (name: 'js' | 'wasm') => ({
        x, out: new Float32Array(x.length), weight, bias, outer, groups, inner, chunk, slots, center, eps: 1e-5, fixed, allReduce: reducer(name),
      });
      const refArgs = args('js');
      const gotArgs = args('wasm');
      const ref = js.batchForward(refArgs);
      const got = wasm.batchForward(gotArgs);
      expectAgree(`batchForward out ${label}`, refArgs.out, gotArgs.out);
      compareAll(`batchForward statistics ${label}`, ref.statistics, got.statistics);
      expectAgree(`batchForward rstd ${label}`, ref.rstd, got.rstd);
      const wantGradX = generator.nextUint32() % 4 !== 0;
      const backwardArgs = (name: 'js' | 'wasm') => ({
        gradOutput: gy, x, weight, outer, groups, inner, chunk, slots, center, fixed: fixed !== null, count: ref.statistics.count,
        mean: ref.statistics.mean, rstd: ref.rstd, gradX: wantGradX ? new Float32Array(x.length) : null,
        gradWeight: weight ? new Float64Array(groups) : null, gradBias: bias ? new Float64Array(groups) : null, allReduce: reducer(name),
      });
      const bref = backwardArgs('js');
      const bgot = backwardArgs('wasm');
      js.batchBackward(bref);
      wasm.batchBackward(bgot);
      compareAll(`batchBackward ${label}`, bref, bgot);
      expect(calls.wasm, `allReduce calls ${label}`).toEqual(calls.js);
    }
  });

  it('slot-mix forward and backward (SwitchableNorm): moments, the mix callback, affine; sums, mix, dx', () => {
    const generator = new Generator(16);
    for (let trial = 0; trial < 60; trial++) {
      const slots = pick(generator, [0, 1, 2, 5, 12]);
      const inner = pick(generator, INNER_SIZES);
      const fill = pick(generator, FILLS);
      const x = data(generator, slots * inner, fill);
      const gy = data(generator, slots * inner, 'normal');
      const wantGradX = generator.nextUint32() % 4 !== 0;
      const label = `slots ${slots} inner ${inner} ${fill}`;
      const seen: Record<string, Float64Array[]> = { js: [], wasm: [] };
      // A mix that depends on every slot's statistics, like SwitchableNorm's mixture.
      const run = (table: KernelTable) => {
        const out = new Float32Array(x.length);
        let mean: Float64Array = new Float64Array(0);
        table.slotMixForward({
          x, out, slots, inner,
          mix: (m, v) => {
            seen[table.name]!.push(m.slice(), v.slice());
            mean = m;
            const total = v.reduce((p, q) => p + q, 0);
            const scale = v.map((vs) => 1 / Math.sqrt(0.5 * vs + 0.5 * total / Math.max(slots, 1) + 1e-5));
            return { scale, shift: m.map((ms, i) => -ms * scale[i]!) };
          },
        });
        const gradX = wantGradX ? new Float32Array(x.length) : null;
        table.slotMixBackward({
          gradOutput: gy, x, gradX, slots, inner, mean,
          mix: (sumDy, sumDyCentred) => {
            seen[table.name]!.push(sumDy.slice(), sumDyCentred.slice());
            return { a: sumDy.map(() => 0.7), c: sumDyCentred.map((t) => t / inner), e: sumDy.map((t) => t / inner) };
          },
        });
        return { out, gradX: gradX ?? new Float32Array(0) };
      };
      const ref = run(js);
      const got = run(wasm);
      compareAll(`slotMix ${label}`, ref, got);
      expect(seen.wasm!.length, label).toBe(seen.js!.length);
      seen.js!.forEach((values, i) => expectAgree(`slotMix ${label} mix input ${i}`, values, seen.wasm![i]!));
    }
  });

  it('a large row (one million values) agrees', () => {
    const generator = new Generator(14);
    const inner = 1_000_003;
    const x = data(generator, inner, 'offset');
    const [ref, got] = both(
      () => ({
        x, out: new Float32Array(inner), weight: null, bias: null, rows: 1, inner, center: true, eps: 1e-5, mask: null,
        count: new Float64Array(1), mean: new Float64Array(1), variance: new Float64Array(1), rstd: new Float64Array(1),
      }),
      (table, a) => table.rowwiseForward(a),
    );
    compareAll('rowwiseForward 1e6', ref, got);
  });

  it('keeps float64 statistics accurate on 1e4 + 0.1 noise and 1e6 offsets', () => {
    // The exact variance of float32 data computed in float64 two-pass is accurate to ~1e-12 relative;
    // a naive float32 single pass (E[x^2] - E[x]^2) would lose every digit at these offsets.
    const generator = new Generator(15);
    for (const offset of [1e4, 1e6]) {
      const inner = 4099;
      const x = data(generator, inner, 'normal').map((z) => offset + 0.1 * z);
      let mean = 0;
      for (const v of x) mean += v;
      mean /= inner;
      let variance = 0;
      for (const v of x) variance += (v - mean) ** 2;
      variance /= inner;
      const args = {
        x, out: new Float32Array(inner), weight: null, bias: null, rows: 1, inner, center: true, eps: 0, mask: null,
        count: new Float64Array(1), mean: new Float64Array(1), variance: new Float64Array(1), rstd: new Float64Array(1),
      };
      wasm.rowwiseForward(args);
      expect(Math.abs(args.variance[0]! - variance) / variance).toBeLessThan(1e-10);
    }
  });

  it('the forward affine in float32 lanes: within 8 float32 roundings of |xhat * w| + |b| of float64 arithmetic, on offsets up to 1e6; float64 where an intermediate could overflow', () => {
    // Row-wise (LayerNorm) and slot-wise (GroupNorm, one parameter per block) forwards run
    // ((x - mHigh) - mLow) * r * w + b in f32x4 lanes where every intermediate stays a normal float32.
    const generator = new Generator(31);
    const bound = (xhat: number, w: number, b: number, m: number, r: number) => 8 * 2 ** -24 * (Math.abs(xhat * w) + Math.abs(b)) + 2 ** -46 * Math.abs(m * r * w);
    const differFromFloat64 = { rowwise: 0, slotwise: 0 };
    for (const offset of [0, 3, -250, 1e4, -3e5, 1e6]) {
      for (const spread of [1, 0.1]) {
        const [rows, inner] = [5, 203];
        const x = data(generator, rows * inner, 'normal').map((z) => offset + spread * z);
        const weight = data(generator, inner, 'normal').map((z) => 2 * z);
        const bias = data(generator, inner, 'normal');
        const args = {
          x, out: new Float32Array(x.length), weight, bias, rows, inner, center: true, eps: 1e-5, mask: null,
          count: new Float64Array(rows), mean: new Float64Array(rows), variance: new Float64Array(rows), rstd: new Float64Array(rows),
        };
        wasm.rowwiseForward(args);
        for (let row = 0; row < rows; row++) {
          const [m, r] = [args.mean[row]!, args.rstd[row]!];
          for (let j = 0; j < inner; j++) {
            const xhat = (x[row * inner + j]! - m) * r;
            const exact = xhat * weight[j]! + bias[j]!;
            const got = args.out[row * inner + j]!;
            if (got !== Math.fround(exact)) differFromFloat64.rowwise++;
            const limit = bound(xhat, weight[j]!, bias[j]!, m, r);
            if (!(Math.abs(got - exact) <= limit)) expect.fail(`row-wise offset ${offset} [${row}, ${j}]: ${got} against ${exact}, beyond ${limit}`);
          }
        }
        // GroupNorm over [2, 6, 7, 9] in 3 groups: slots of 2 channels x 63 values, one weight per channel.
        const [samples, channels, groups, plane] = [2, 6, 3, 63];
        const gx = data(generator, samples * channels * plane, 'normal').map((z) => offset + spread * z);
        const gw = data(generator, channels, 'normal');
        const gb = data(generator, channels, 'normal');
        const slots = samples * groups;
        const slotInner = (channels / groups) * plane;
        const g = {
          x: gx, out: new Float32Array(gx.length), weight: gw, bias: gb, threshold: null, slots, groups, inner: slotInner, block: plane, center: true,
          eps: 1e-5, mean: new Float64Array(slots), variance: new Float64Array(slots), rstd: new Float64Array(slots),
        };
        wasm.slotwiseForward(g);
        for (let i = 0; i < gx.length; i++) {
          const slot = Math.floor(i / slotInner);
          const channel = Math.floor(i / plane) % channels;
          const [m, r] = [g.mean[slot]!, g.rstd[slot]!];
          const xhat = (gx[i]! - m) * r;
          const exact = xhat * gw[channel]! + gb[channel]!;
          if (g.out[i] !== Math.fround(exact)) differFromFloat64.slotwise++;
          const limit = bound(xhat, gw[channel]!, gb[channel]!, m, r);
          if (!(Math.abs(g.out[i]! - exact) <= limit)) expect.fail(`slot-wise offset ${offset} [${i}]: ${g.out[i]} against ${exact}, beyond ${limit}`);
        }
      }
    }
    // Both float32 paths ran: some results differ from the float64 arithmetic rounded once.
    expect(differFromFloat64.rowwise, 'row-wise float32 lanes').toBeGreaterThan(100);
    expect(differFromFloat64.slotwise, 'slot-wise float32 lanes').toBeGreaterThan(100);
    // Where a float32 intermediate would overflow, or a parameter is NaN, the float64 loop runs: the js results.
    const rowwise = (x: Float32Array, weight: Float32Array, bias: Float32Array, eps: number) => both(
      () => ({
        x, out: new Float32Array(x.length), weight, bias, rows: 1, inner: x.length, center: true, eps, mask: null,
        count: new Float64Array(1), mean: new Float64Array(1), variance: new Float64Array(1), rstd: new Float64Array(1),
      }),
      (table, a) => table.rowwiseForward(a),
    );
    const slotwise = (x: Float32Array, weight: Float32Array, bias: Float32Array, eps: number) => both(
      () => ({
        x, out: new Float32Array(x.length), weight, bias, threshold: null, slots: 1, groups: 1, inner: x.length, block: x.length / weight.length,
        center: true, eps, mean: new Float64Array(1), variance: new Float64Array(1), rstd: new Float64Array(1),
      }),
      (table, a) => table.slotwiseForward(a),
    );
    const ones = (n: number) => new Float32Array(n).fill(1);
    const cases: Array<[string, [{ out: Float32Array }, { out: Float32Array }]]> = [
      // Deviations near float32 overflow (mean about -1.33e38, rstd about 4e-39): 3e38 - mean is no float32.
      ['deviations near float32 overflow', rowwise(Float32Array.from([3e38, -3e38, -3e38, -3e38, -2e38, 5]), Float32Array.from([1e-2, 2e-2, 1, 0.5, 3, 1]), new Float32Array(6), 1e-5)],
      // A constant row with eps 1e-80: rstd 1e40 is no float32 (0 * Inf would be NaN where float64 gives the bias).
      ['rstd beyond float32', rowwise(new Float32Array(8).fill(2.5), ones(8), Float32Array.from([1, 2, 3, 4, 5, 6, 7, -8]), 1e-80)],
      // xhat * 3e38 overflows a float32, and the bias of -3e38 brings the float64 sum back into range.
      ['weight near float32 overflow', rowwise(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), new Float32Array(8).fill(3e38), new Float32Array(8).fill(-3e38), 1e-5)],
      // Slot-wise, one weight per block of 4: r * w = 1e39 is no float32, (x - m) * r * w = +-1e29 is.
      ['slot-wise rstd times weight', slotwise(Float32Array.from([0, 2e-10, 0, 2e-10, 0, 2e-10, 0, 2e-10]), Float32Array.from([1e29, 1e29]), new Float32Array(2), 1e-30)],
      // Infinite and NaN weights: float64 gives x * Inf + (b - m * Inf), NaN where float32 lanes would give +-Inf.
      ['infinite and NaN weights', slotwise(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), Float32Array.from([Infinity, NaN, 1]), new Float32Array(3), 1e-5)],
    ];
    for (const [label, [ref, got]] of cases) compareAll(`rowwise/slotwise forward, ${label}`, ref, got);
    expect(Array.from(cases[0]![1][1].out).every(Number.isFinite), 'finite, as in float64').toBe(true);
  });

  it('float64 data goes to the js loops and gives identical results', () => {
    const x = Float64Array.from({ length: 3 * 37 }, (_, i) => Math.sin(i) * 1e3);
    const run = (table: KernelTable) => {
      const args = {
        x, out: new Float64Array(x.length), weight: null, bias: null, rows: 3, inner: 37, center: true, eps: 1e-5, mask: null,
        count: new Float64Array(3), mean: new Float64Array(3), variance: new Float64Array(3), rstd: new Float64Array(3),
      };
      table.rowwiseForward(args);
      return args.out;
    };
    expect(Array.from(run(wasm))).toEqual(Array.from(run(js)));
  });
});

describe('kernel table: elementwise binary ops', () => {
  const reference: Record<BinaryKernelOp, (x: number, y: number) => number> = {
    add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
    maximum: (x, y) => (x >= y ? x : y), minimum: (x, y) => (x <= y ? x : y),
  };

  it('every op and broadcast kind matches a one-line reference on both backends, NaN and Inf included', () => {
    const generator = new Generator(21);
    for (const table of [js, wasm]) {
      for (const op of Object.keys(reference) as BinaryKernelOp[]) {
        for (const kind of ['same', 'scalar-b', 'scalar-a', 'rows-b', 'runs-b', 'index'] as const) {
          const period = 5;
          const n = 35;
          // runs-b: runs of 7 cycling through 3 values (the fourth and fifth runs start over).
          const [inner, runPeriod] = [7, 3];
          const a = data(generator, kind === 'scalar-a' ? 1 : n, 'special');
          const b = data(generator, kind === 'scalar-b' ? 1 : kind === 'rows-b' ? period : kind === 'runs-b' ? runPeriod : n, 'special');
          // index: a transposed read of a and b, the general broadcasting path.
          const index = Int32Array.from({ length: n }, (_, i) => (i % 7) * 5 + Math.floor(i / 7));
          const broadcast: BinaryBroadcast = kind === 'rows-b' ? { kind, period } : kind === 'runs-b' ? { kind, inner, period: runPeriod }
            : kind === 'index' ? { kind, a: index, b: index } : { kind };
          const out = new Float32Array(n);
          table.binary({ op, a, b, out, broadcast });
          for (let i = 0; i < n; i++) {
            const x = kind === 'scalar-a' ? a[0]! : kind === 'index' ? a[index[i]!]! : a[i]!;
            const y = kind === 'scalar-b' ? b[0]! : kind === 'rows-b' ? b[i % period]! : kind === 'runs-b' ? b[Math.floor(i / inner) % runPeriod]!
              : kind === 'index' ? b[index[i]!]! : b[i]!;
            expect(Object.is(out[i], Math.fround(reference[op](x, y))), `${table.name} ${op} ${kind} [${i}]: ${out[i]} for (${x}, ${y})`).toBe(true);
          }
        }
      }
    }
  });
});

function expectGemmAgreement(label: string, ref: Float32Array, got: Float32Array, bound: Float64Array): void {
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    const g = got[i]!;
    if (!Number.isFinite(r)) {
      expect(Object.is(g, r) || (Number.isNaN(r) && Number.isNaN(g)), `${label}[${i}]: ${g} where js gives ${r}`).toBe(true);
      continue;
    }
    const tolerance = bound[i]! + 4 * ulp32(r);
    if (!(Math.abs(g - r) <= tolerance)) expect.fail(`${label}[${i}]: wasm ${g}, js ${r}, |diff| ${Math.abs(g - r)} > ${tolerance}`);
  }
}

describe('kernel table: gemm', () => {
  // wasm accumulates in float32 (an sgemm, like BLAS, oneDNN and tfjs); js in float64. Per element they
  // agree within the dot-product error bound of float32 summation: k * 2^-24 * (|c0| + sum_p |a_ip| |b_pj|),
  // doubled for the js side's own roundings, plus 4 ulp of the result.
  it('all four transpose cases, awkward sizes, offsets into a batch, accumulation into C', () => {
    const generator = new Generator(31);
    const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 65, 129, 300];
    for (let trial = 0; trial < 60; trial++) {
      const m = pick(generator, sizes);
      const k = pick(generator, sizes);
      const n = pick(generator, sizes);
      const transA = generator.nextUint32() % 2 === 0;
      const transB = generator.nextUint32() % 2 === 0;
      const fill = pick(generator, ['normal', 'normal', 'offset', 'special'] as Fill[]);
      const aOffset = generator.nextUint32() % 3;
      const bOffset = generator.nextUint32() % 3;
      const cOffset = generator.nextUint32() % 3;
      const a = data(generator, aOffset + m * k, fill);
      const b = data(generator, bOffset + k * n, 'normal');
      const c0 = data(generator, cOffset + m * n, 'normal');
      const run = (table: KernelTable) => {
        const c = c0.slice();
        table.gemm({ a, aOffset, transA, b, bOffset, transB, c, cOffset, m, k, n });
        return c;
      };
      const bound = new Float64Array(c0.length);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let total = Math.abs(c0[cOffset + i * n + j]!);
          for (let p = 0; p < k; p++) {
            const av = a[aOffset + (transA ? p * m + i : i * k + p)]!;
            const bv = b[bOffset + (transB ? j * k + p : p * n + j)]!;
            total += Math.abs(av * bv);
          }
          bound[cOffset + i * n + j] = 2 * (k + 1) * 2 ** -24 * total;
        }
      }
      const label = `gemm ${m}x${k}x${n} transA ${transA} transB ${transB} ${fill}`;
      const ref = run(js);
      const got = run(wasm);
      expectGemmAgreement(label, ref, got, bound);
      // Elements before the offsets are never written.
      for (let i = 0; i < cOffset; i++) expect(got[i], `${label}: C before its offset`).toBe(c0[i]);
    }
  });

  it('is exact where float32 accumulation is (small integers), on both backends', () => {
    const m = 37;
    const k = 300;
    const n = 29;
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 7) - 3);
    const b = Float32Array.from({ length: k * n }, (_, i) => (i % 5) - 2);
    const expected = new Float32Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) expected[i * n + j]! += a[i * k + p]! * b[p * n + j]!;
    for (const table of [js, wasm]) {
      const c = new Float32Array(m * n);
      table.gemm({ a, aOffset: 0, transA: false, b, bOffset: 0, transB: false, c, cOffset: 0, m, k, n });
      expect(Array.from(c), table.name).toEqual(Array.from(expected));
    }
  });
});

describe('kernel table: gemm with overwrite', () => {
  it('gives the bits of accumulating into +0 on both backends, never reading C (garbage, NaN and -0 before it), -0 sums included, and leaves C outside its block alone', () => {
    const generator = new Generator(47);
    const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 65, 129, 300];
    for (let trial = 0; trial < 60; trial++) {
      const [m, k, n] = [pick(generator, sizes), pick(generator, sizes), pick(generator, sizes)];
      const transA = generator.nextUint32() % 2 === 0;
      const transB = generator.nextUint32() % 2 === 0;
      const cOffset = generator.nextUint32() % 3;
      // Every third row of op(A) is -0 and B is positive, so those sums are -0: +0 + -0 is +0.
      const a = data(generator, m * k, pick(generator, ['normal', 'special'] as Fill[]));
      for (let i = 1; i < m; i += 3) for (let p = 0; p < k; p++) a[transA ? p * m + i : i * k + p] = -0;
      const b = data(generator, k * n, 'normal').map(Math.abs);
      const label = `gemm overwrite ${m}x${k}x${n} transA ${transA} transB ${transB}`;
      for (const table of [js, wasm]) {
        const zeroed = new Float32Array(cOffset + m * n + 2);
        table.gemm({ a, aOffset: 0, transA, b, bOffset: 0, transB, c: zeroed, cOffset, m, k, n });
        const garbage = Float32Array.from({ length: zeroed.length }, (_, i) => [Number.NaN, -0, 2 ** 100, -7][i % 4]!);
        table.gemm({ a, aOffset: 0, transA, b, bOffset: 0, transB, c: garbage, cOffset, m, k, n, overwrite: true });
        for (let i = 0; i < m * n; i++) {
          if (!Object.is(garbage[cOffset + i], zeroed[cOffset + i])) expect.fail(`${table.name} ${label}[${i}]: ${garbage[cOffset + i]} where +0 + the product is ${zeroed[cOffset + i]}`);
        }
        const outside = [...Array.from({ length: cOffset }, (_, i) => i), cOffset + m * n, cOffset + m * n + 1];
        for (const i of outside) expect(Object.is(garbage[i], [Number.NaN, -0, 2 ** 100, -7][i % 4]), `${table.name} ${label}: C[${i}] outside the block`).toBe(true);
      }
    }
  });

  it('with a bias: the bits of the product followed by adding the bias to each row, rounded once, on both backends (odd widths, offsets, NaN and -0 in the bias)', () => {
    const generator = new Generator(53);
    const sizes = [1, 3, 4, 5, 8, 13, 17, 33, 64, 129];
    for (let trial = 0; trial < 40; trial++) {
      const [m, k, n] = [pick(generator, sizes), pick(generator, [1, 7, 64, 300]), pick(generator, sizes)];
      const transB = generator.nextUint32() % 2 === 0;
      const cOffset = generator.nextUint32() % 3;
      const a = data(generator, m * k, 'normal');
      const b = data(generator, k * n, 'normal');
      const bias = data(generator, n, pick(generator, ['normal', 'special', 'huge'] as Fill[]));
      for (const table of [js, wasm]) {
        const expected = new Float32Array(cOffset + m * n);
        table.gemm({ a, aOffset: 0, transA: false, b, bOffset: 0, transB, c: expected, cOffset, m, k, n });
        for (let r = 0; r < m; r++) for (let j = 0; j < n; j++) expected[cOffset + r * n + j]! += bias[j]!;
        const got = new Float32Array(cOffset + m * n).fill(Number.NaN);
        for (let i = 0; i < cOffset; i++) got[i] = i;
        table.gemm({ a, aOffset: 0, transA: false, b, bOffset: 0, transB, c: got, cOffset, m, k, n, overwrite: true, bias });
        for (let i = 0; i < cOffset; i++) expect(got[i], `${table.name}: C before its offset`).toBe(i);
        for (let i = cOffset; i < got.length; i++) {
          if (!Object.is(got[i], expected[i])) expect.fail(`${table.name} gemm + bias ${m}x${k}x${n} transB ${transB} [${i}]: ${got[i]}, product then bias ${expected[i]}`);
        }
      }
    }
  });

  it('with k = 0 sets the block to +0 on both backends', () => {
    for (const table of [js, wasm]) {
      const c = Float32Array.of(Number.NaN, -0, 5, 6);
      table.gemm({ a: new Float32Array(0), aOffset: 0, transA: false, b: new Float32Array(0), bOffset: 0, transB: false, c, cOffset: 0, m: 2, k: 0, n: 2, overwrite: true });
      expect(Array.from(c).map((v) => Object.is(v, 0)), table.name).toEqual([true, true, true, true]);
    }
  });
});

describe('kernel table: gemmBatch', () => {
  it('every entry within the float32 summation bound of a float64 reference on both backends; on wasm the bits of gemm where gemm runs the entry in the module, and the same bits whatever the batch around an entry', () => {
    const generator = new Generator(37);
    const sizes = [1, 3, 4, 7, 8, 13, 16, 17, 33];
    for (let trial = 0; trial < 40; trial++) {
      const m = pick(generator, sizes);
      const k = pick(generator, sizes);
      const n = pick(generator, sizes);
      const transA = generator.nextUint32() % 2 === 0;
      const transB = generator.nextUint32() % 2 === 0;
      const count = 1 + (generator.nextUint32() % 6);
      // A few matrices per operand, picked per entry (repeats: a broadcast operand); C blocks either
      // one per entry or shared by several entries (a broadcast operand's gradient).
      const matrices = 1 + (generator.nextUint32() % 3);
      const offsets = (size: number) => Int32Array.from({ length: count }, () => (generator.nextUint32() % matrices) * size);
      const aOffsets = offsets(m * k);
      const bOffsets = offsets(k * n);
      const shared = generator.nextUint32() % 2 === 0;
      const cOffsets = shared ? offsets(m * n) : Int32Array.from({ length: count }, (_, i) => i * m * n);
      const a = data(generator, matrices * m * k, 'normal');
      const b = data(generator, matrices * k * n, 'normal');
      const c0 = data(generator, Math.max(count, matrices) * m * n, 'normal');
      const label = `gemmBatch ${count} x ${m}x${k}x${n} transA ${transA} transB ${transB} shared C ${shared}`;
      // The one-line reference: every C element plus its entries' products, summed in float64.
      const reference = Float64Array.from(c0);
      const bound = Float64Array.from(c0, Math.abs);
      const terms = new Float64Array(c0.length);
      for (let e = 0; e < count; e++) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const at = cOffsets[e]! + i * n + j;
            for (let p = 0; p < k; p++) {
              const product = a[aOffsets[e]! + (transA ? p * m + i : i * k + p)]! * b[bOffsets[e]! + (transB ? j * k + p : p * n + j)]!;
              reference[at]! += product;
              bound[at]! += Math.abs(product);
            }
            terms[at]! += k + 1;
          }
        }
      }
      for (let i = 0; i < bound.length; i++) bound[i] = 2 * (terms[i]! + 1) * 2 ** -24 * bound[i]!;
      const roundedReference = Float32Array.from(reference);
      for (const table of [js, wasm]) {
        const batched = c0.slice();
        table.gemmBatch({ a, transA, b, transB, c: batched, m, k, n, aOffsets, bOffsets, cOffsets });
        expectGemmAgreement(`${table.name} ${label}`, roundedReference, batched, bound);
        if (table !== wasm) continue;
        if (m * k * n >= 4096) {
          const perEntry = c0.slice();
          for (let i = 0; i < count; i++) {
            wasm.gemm({ a, aOffset: aOffsets[i]!, transA, b, bOffset: bOffsets[i]!, transB, c: perEntry, cOffset: cOffsets[i]!, m, k, n });
          }
          for (let i = 0; i < perEntry.length; i++) expect(Object.is(batched[i], perEntry[i]), `wasm ${label} against gemm [${i}]`).toBe(true);
        }
        if (!shared) {
          // Each entry alone (a batch of one) gives the bits it got in the batch.
          for (let e = 0; e < count; e++) {
            const alone = c0.slice();
            wasm.gemmBatch({ a, transA, b, transB, c: alone, m, k, n, aOffsets: aOffsets.subarray(e, e + 1), bOffsets: bOffsets.subarray(e, e + 1), cOffsets: cOffsets.subarray(e, e + 1) });
            for (let i = cOffsets[e]!; i < cOffsets[e]! + m * n; i++) expect(Object.is(alone[i], batched[i]), `wasm ${label}: entry ${e} alone [${i}]`).toBe(true);
          }
        }
      }
    }
  });
});

describe('kernel table: gemmBatch over several groups', () => {
  it('a batch larger than one group of operands in the module (16 MiB) gives per-entry gemm bits, with distinct and with shared C blocks', () => {
    const generator = new Generator(38);
    const [m, k, n, count] = [65, 65, 65, 400]; // 400 entries x 50.7 KB of blocks: two groups
    const a = data(generator, count * m * k, 'normal');
    const b = data(generator, count * k * n, 'normal');
    const aOffsets = Int32Array.from({ length: count }, (_, i) => i * m * k);
    const bOffsets = Int32Array.from({ length: count }, (_, i) => ((i * 7) % count) * k * n);
    for (const shared of [false, true]) {
      const cOffsets = Int32Array.from({ length: count }, (_, i) => (shared ? i % 5 : i) * m * n);
      const c0 = data(generator, count * m * n, 'normal');
      const batched = c0.slice();
      wasm.gemmBatch({ a, transA: false, b, transB: true, c: batched, m, k, n, aOffsets, bOffsets, cOffsets });
      const perEntry = c0.slice();
      for (let i = 0; i < count; i++) wasm.gemm({ a, aOffset: aOffsets[i]!, transA: false, b, bOffset: bOffsets[i]!, transB: true, c: perEntry, cOffset: cOffsets[i]!, m, k, n });
      let differing = 0;
      for (let i = 0; i < perEntry.length; i++) if (!Object.is(batched[i], perEntry[i])) differing++;
      expect(differing, `shared C ${shared}: elements differing from per-entry gemm`).toBe(0);
    }
  });
});

describe('kernel table: conv2d', () => {
  // Bounds per element from the same convolution of absolute values (sum |w| |x| + |bias|), times the
  // float32 summation bound for the number of terms each output accumulates (see the gemm tests).
  const abs = (values: Float32Array) => values.map(Math.abs);

  it('forward and backward on both backends: strides, padding, dilation, groups, odd sizes', () => {
    const generator = new Generator(41);
    let largeEnough = 0;
    for (let trial = 0; trial < 60; trial++) {
      const groups = pick(generator, [1, 1, 2, 3]);
      const inChannels = groups * pick(generator, [1, 2, 3, 5, 8]);
      const outChannels = groups * pick(generator, [1, 2, 4, 7, 16]);
      const kernelH = pick(generator, [1, 2, 3, 5]);
      const kernelW = pick(generator, [1, 3]);
      const window = {
        kernelH, kernelW, strideH: pick(generator, [1, 2]), strideW: pick(generator, [1, 2, 3]), padH: pick(generator, [0, 1, 2]),
        padW: pick(generator, [0, 1]), dilationH: pick(generator, [1, 2]), dilationW: pick(generator, [1, 2]),
      };
      const batch = pick(generator, [1, 2, 3]);
      const height = pick(generator, [5, 7, 9, 12, 20]);
      const width = pick(generator, [5, 6, 11, 17]);
      const outH = Math.floor((height + 2 * window.padH - window.dilationH * (kernelH - 1) - 1) / window.strideH) + 1;
      const outW = Math.floor((width + 2 * window.padW - window.dilationW * (kernelW - 1) - 1) / window.strideW) + 1;
      if (outH < 1 || outW < 1) continue;
      // Convolutions below the wasm backend's size threshold run the js loops there too; count the others.
      if ((outChannels / groups) * (inChannels / groups) * kernelH * kernelW * outH * outW >= 4096) largeEnough++;
      const geometry = { batch, inChannels, height, width, outChannels, groups, window, outH, outW };
      const x = data(generator, batch * inChannels * height * width, 'normal');
      const weight = data(generator, outChannels * (inChannels / groups) * kernelH * kernelW, 'normal');
      const bias = generator.nextUint32() % 2 === 0 ? data(generator, outChannels, 'normal') : null;
      const gy = data(generator, batch * outChannels * outH * outW, 'normal');
      const label = `conv ${JSON.stringify(geometry)}`;
      const forward = (table: KernelTable, xs: Float32Array, ws: Float32Array, bs: Float32Array | null) => {
        const out = new Float32Array(gy.length);
        table.conv2dForward({ ...geometry, x: xs, weight: ws, bias: bs, out });
        return out;
      };
      const patch = (inChannels / groups) * kernelH * kernelW;
      const forwardBound = forward(js, abs(x), abs(weight), bias && abs(bias)).map((v) => 2 * (patch + 2) * 2 ** -24 * v);
      expectGemmAgreement(`${label} forward`, forward(js, x, weight, bias), forward(wasm, x, weight, bias), Float64Array.from(forwardBound));
      const backward = (table: KernelTable, gys: Float32Array, xs: Float32Array, ws: Float32Array) => {
        const gradX = new Float32Array(x.length);
        const gradWeight = new Float32Array(weight.length);
        table.conv2dBackward({ ...geometry, gradOutput: gys, x: xs, weight: ws, gradX, gradWeight });
        return { gradX, gradWeight };
      };
      const ref = backward(js, gy, x, weight);
      const got = backward(wasm, gy, x, weight);
      const magnitude = backward(js, abs(gy), abs(x), abs(weight));
      const termsX = (outChannels / groups) * kernelH * kernelW + kernelH * kernelW;
      const termsW = batch * outH * outW + batch;
      expectGemmAgreement(`${label} gradX`, ref.gradX, got.gradX, Float64Array.from(magnitude.gradX, (v) => 2 * (termsX + 2) * 2 ** -24 * v));
      expectGemmAgreement(`${label} gradWeight`, ref.gradWeight, got.gradWeight, Float64Array.from(magnitude.gradWeight, (v) => 2 * (termsW + 2) * 2 ** -24 * v));
    }
    expect(largeEnough, 'convolutions large enough to run in WebAssembly').toBeGreaterThanOrEqual(10);
  });
});

describe('kernel table: conv2d on the indirect path', () => {
  // Stride 1 along rows: the forward reads the unfolded input from a padded copy of the image (no im2col
  // matrix, no packed B), in the same k blocks and order as the GEMM, so it must give the im2col path's
  // bits; dx of a stride-1 convolution is the convolution of dy with the flipped, transposed weight (another
  // summation order than col2im: checked against js within the bound); dW packs its panels from a padded
  // copy of the image instead of an im2col matrix (the same panels: the same bits).
  const abs = (values: Float32Array) => values.map(Math.abs);
  const sameBits = (label: string, a: Float32Array, b: Float32Array) => {
    const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < a.length; i++) {
      if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) expect.fail(`${label}[${i}]: ${a[i]} against ${b[i]}`);
    }
  };

  it('forward and dW: the bits of the im2col path; dx: js within the summation bound (partial strips, groups, dilation, two k blocks, NaN and ±Inf)', () => {
    const generator = new Generator(47);
    const callsBefore = { ...convolutionPaths.calls };
    let trials = 0;
    for (let trial = 0; trial < 48; trial++) {
      const groups = pick(generator, [1, 1, 2, 4]);
      const inChannels = groups * pick(generator, [1, 3, 8, 32]); // 32 channels x 9 taps: k = 288, two blocks of 256
      const outChannels = groups * pick(generator, [1, 5, 8, 13]);
      const kernelH = pick(generator, [1, 2, 3, 5]);
      const kernelW = pick(generator, [1, 3, 5]);
      const window = {
        kernelH, kernelW, strideH: pick(generator, [1, 1, 2]), strideW: 1, padH: pick(generator, [0, 1, 2, 3]), padW: pick(generator, [0, 1, 2, 3]),
        dilationH: pick(generator, [1, 2]), dilationW: pick(generator, [1, 2]),
      };
      const batch = pick(generator, [1, 2]);
      const height = pick(generator, [6, 9, 16]);
      const width = pick(generator, [8, 9, 13, 14, 16, 24, 29]);
      const outH = Math.floor((height + 2 * window.padH - window.dilationH * (kernelH - 1) - 1) / window.strideH) + 1;
      const outW = width + 2 * window.padW - window.dilationW * (kernelW - 1);
      if (outH < 1 || outW < 1) continue;
      trials++;
      const geometry = { batch, inChannels, height, width, outChannels, groups, window, outH, outW };
      const fill = pick<Fill>(generator, ['normal', 'normal', 'special']);
      const x = data(generator, batch * inChannels * height * width, fill);
      const weight = data(generator, outChannels * (inChannels / groups) * kernelH * kernelW, 'normal');
      const bias = generator.nextUint32() % 2 === 0 ? data(generator, outChannels, 'normal') : null;
      const gy = data(generator, batch * outChannels * outH * outW, fill);
      const label = `conv ${JSON.stringify(geometry)} ${fill}`;
      const both = (table: KernelTable, xs: Float32Array, ws: Float32Array, gys: Float32Array) => {
        const out = new Float32Array(gy.length);
        table.conv2dForward({ ...geometry, x: xs, weight: ws, bias, out });
        const gradX = new Float32Array(x.length);
        const gradWeight = new Float32Array(weight.length);
        table.conv2dBackward({ ...geometry, gradOutput: gys, x: xs, weight: ws, gradX, gradWeight });
        return { out, gradX, gradWeight };
      };
      const indirect = both(wasm, x, weight, gy);
      convolutionPaths.indirect = false;
      let unfolded: ReturnType<typeof both>;
      try {
        unfolded = both(wasm, x, weight, gy);
      } finally {
        convolutionPaths.indirect = true;
      }
      sameBits(`${label} forward`, indirect.out, unfolded.out);
      sameBits(`${label} gradWeight`, indirect.gradWeight, unfolded.gradWeight);
      const ref = both(js, x, weight, gy);
      const magnitude = both(js, abs(x), abs(weight), abs(gy));
      const termsX = (outChannels / groups) * kernelH * kernelW;
      expectGemmAgreement(`${label} gradX`, ref.gradX, indirect.gradX, Float64Array.from(magnitude.gradX, (v) => 2 * (termsX + 2) * 2 ** -24 * v));
    }
    expect(trials).toBeGreaterThanOrEqual(30);
    expect(convolutionPaths.calls.forward - callsBefore.forward, 'forward calls on the indirect path').toBeGreaterThanOrEqual(15);
    expect(convolutionPaths.calls.gradX - callsBefore.gradX, 'dx calls as a convolution of dy').toBeGreaterThanOrEqual(10);
    expect(convolutionPaths.calls.gradWeight - callsBefore.gradWeight, 'dW calls reading the padded image').toBeGreaterThanOrEqual(15);
  });
});

describe('kernel table: conv2d backward where the input has rows the window never reached', () => {
  // convTranspose2d's forward is conv2dBackward's dx with the mirrored geometry; with stride 1 and an
  // outputPadding under the dilation, its output (this dx) has rows and columns past the last window. The
  // convolution of dy padded by d (k - 1) - p covers only outH + d (k - 1) - 2p rows, so these cases must stay
  // on the col2im path (a planted geometry check that admits them reads past the padded dy and fails here).
  it('stride 1, extra rows and columns: js within the summation bound, both with and without dW', () => {
    const generator = new Generator(53);
    const abs = (values: Float32Array) => values.map(Math.abs);
    for (const [extraH, extraW, dilation, pad] of [[1, 1, 2, 0], [1, 0, 2, 4], [0, 1, 3, 1], [1, 1, 2, 2]] as const) {
      const window = { kernelH: 3, kernelW: 3, strideH: 1, strideW: 1, padH: pad, padW: pad, dilationH: dilation, dilationW: dilation };
      const [batch, inChannels, outChannels, outH, outW] = [2, 16, 16, 16, 16];
      const height = outH + dilation * 2 - 2 * pad + extraH;
      const width = outW + dilation * 2 - 2 * pad + extraW;
      const geometry = { batch, inChannels, height, width, outChannels, groups: 1, window, outH, outW };
      const weight = data(generator, outChannels * inChannels * 9, 'normal');
      const gy = data(generator, batch * outChannels * outH * outW, 'normal');
      const x = data(generator, batch * inChannels * height * width, 'normal');
      const label = `conv ${JSON.stringify(geometry)}`;
      const dx = (table: KernelTable, gys: Float32Array, ws: Float32Array, withWeight: boolean) => {
        const gradX = new Float32Array(x.length).fill(Number.NaN);
        table.conv2dBackward({ ...geometry, gradOutput: gys, x: withWeight ? x : null, weight: ws, gradX, gradWeight: withWeight ? new Float32Array(weight.length) : null });
        return gradX;
      };
      const bound = Float64Array.from(dx(js, abs(gy), abs(weight), false), (v) => 2 * (outChannels * 9 + 11) * 2 ** -24 * v);
      for (const withWeight of [false, true]) {
        expectGemmAgreement(`${label} gradX${withWeight ? ' with dW' : ''}`, dx(js, gy, weight, withWeight), dx(wasm, gy, weight, withWeight), bound);
      }
    }
  });
});

describe('kernel table: activations', () => {
  const forward: Record<ActivationOp, (v: number) => number> = {
    relu: (v) => (v < 0 ? 0 : v), // PyTorch's clamp_min(x, 0): NaN and -0 pass through
    tanh: Math.tanh,
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
    silu: (v) => v / (1 + Math.exp(-v)),
    gelu: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)),
  };

  it('every activation and its derivative on both backends, against one-line references and central differences', () => {
    const generator = new Generator(22);
    const x = Float64Array.from(data(generator, 61, 'special'));
    x[0] = 0;
    x[1] = -0;
    x[2] = 40;
    x[3] = -40;
    for (const table of [js, wasm]) {
      for (const op of Object.keys(forward) as ActivationOp[]) {
        const out = new Float64Array(x.length);
        table.activation({ op, x, out });
        for (let i = 0; i < x.length; i++) {
          const expected = forward[op](x[i]!);
          const close = Object.is(out[i], expected) || Math.abs(out[i]! - expected) <= 1e-15 * Math.max(1, Math.abs(expected));
          expect(close || (Number.isNaN(expected) && Number.isNaN(out[i])), `${table.name} ${op}(${x[i]}) = ${out[i]}, expected ${expected}`).toBe(true);
        }
        const gradOutput = new Float64Array(x.length).fill(1);
        const gradX = new Float64Array(x.length);
        table.activationBackward({ op, x, out, gradOutput, gradX });
        for (let i = 0; i < x.length; i++) {
          const v = x[i]!;
          if (!Number.isFinite(v) || Math.abs(v) < 1e-3) continue;
          const h = 1e-6 * Math.max(1, Math.abs(v));
          const numeric = (forward[op](v + h) - forward[op](v - h)) / (2 * h);
          expect(Math.abs(gradX[i]! - numeric), `${table.name} ${op}'(${v})`).toBeLessThan(1e-6);
        }
      }
    }
  });
});

describe('kernel table: activations on float32 (wasm against js)', () => {
  // The wasm loops compute in float64 like js, with their own exp (range reduction and a Taylor
  // polynomial) and the same erf polynomials: results round to the same float32 or the next one.
  const edges = [0, -0, 1e-40, -1e-40, 0.999, 1.001, 1.414, 1.415, 3.535, 3.536, 8.48, 8.49, 37.6, 37.7, 87.3, 88.8, 103.9, 104, 708, 709.8, 710, 745.2, 3e38];
  const sizes = [0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 1021, 16 * 1024 + 5, 70_001];
  const fills = ['normal', 'wide', 'huge', 'special'] as const;

  function values(generator: Generator, size: number, fill: (typeof fills)[number]): Float32Array {
    if (fill === 'wide') return Float32Array.from({ length: size }, (_, i) => (i < edges.length * 2 ? (i % 2 === 0 ? 1 : -1) * edges[i >> 1]! : 60 * generator.normal()));
    return data(generator, size, fill);
  }

  function expectWithinUlp(label: string, ref: Float32Array, got: Float32Array, ulps: number): void {
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!;
      const g = got[i]!;
      if (Number.isNaN(r) || !Number.isFinite(r)) {
        if (!(Object.is(g, r) || (Number.isNaN(r) && Number.isNaN(g)))) expect.fail(`${label}[${i}]: wasm ${g}, js ${r}`);
        continue;
      }
      if (!(Math.abs(g - r) <= ulps * ulp32(r))) expect.fail(`${label}[${i}]: wasm ${g}, js ${r} (${Math.abs(g - r) / ulp32(r)} ulp)`);
    }
  }

  it('every activation and its derivative: within 1 ulp of the js loops, NaN and ±Inf where js has them, on every size and range', () => {
    const generator = new Generator(23);
    let compared = 0;
    for (const size of sizes) {
      for (const fill of fills) {
        const x = values(generator, size, fill);
        const gradOutput = values(generator, size, fill === 'special' ? 'special' : 'normal');
        for (const op of ['relu', 'tanh', 'sigmoid', 'silu', 'gelu'] as const) {
          const label = `${op} ${size} ${fill}`;
          const [ref, got] = [js, wasm].map((table) => {
            const out = new Float32Array(size);
            table.activation({ op, x, out });
            const gradX = new Float32Array(size);
            // Both backward loops read the same forward output (tanh and sigmoid use it).
            table.activationBackward({ op, x, out: referenceOut(op, x), gradOutput, gradX });
            return { out, gradX };
          });
          expectWithinUlp(`${label} forward`, ref!.out, got!.out, 1);
          expectWithinUlp(`${label} backward`, ref!.gradX, got!.gradX, 1);
          compared += size;
        }
      }
    }
    expect(compared).toBeGreaterThan(1_000_000);
  });

  it('relu and its gradient: the bits of the js loops (comparisons only), -0, NaN, ±Inf and subnormals included, sizes around the lane width and chunks', () => {
    const generator = new Generator(25);
    const edge = [Number.NaN, -0, 0, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, 1, -1];
    for (const size of [0, 1, 2, 3, 4, 5, 7, 8, 9, 33, 1_000_003]) {
      const x = data(generator, size, 'normal');
      const gradOutput = data(generator, size, 'special');
      for (let i = 0; i < size; i++) if (generator.nextUint32() % 3 === 0) x[i] = edge[generator.nextUint32() % edge.length]!;
      const [ref, got] = [js, wasm].map((table) => {
        const out = new Float32Array(size);
        table.activation({ op: 'relu', x, out });
        const gradX = new Float32Array(size);
        table.activationBackward({ op: 'relu', x, out, gradOutput, gradX });
        return { out, gradX };
      });
      const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
      for (let i = 0; i < size; i++) {
        if (!Object.is(ref!.out[i], got!.out[i])) expect.fail(`relu(${show(x[i]!)}) at ${i} of ${size}: wasm ${show(got!.out[i]!)}, js ${show(ref!.out[i]!)}`);
        if (!Object.is(ref!.gradX[i], got!.gradX[i])) {
          expect.fail(`relu'(${show(x[i]!)}) * ${show(gradOutput[i]!)} at ${i} of ${size}: wasm ${show(got!.gradX[i]!)}, js ${show(ref!.gradX[i]!)}`);
        }
      }
    }
  });

  function referenceOut(op: ActivationOp, x: Float32Array): Float32Array {
    const out = new Float32Array(x.length);
    js.activation({ op, x, out });
    return out;
  }

  it('the wasm forward and backward write their results in place of a streamed chunk without touching the inputs', () => {
    const generator = new Generator(24);
    const x = data(generator, 40_000, 'normal');
    const before = x.slice();
    const out = new Float32Array(x.length);
    for (const op of ['gelu', 'relu'] as const) {
      wasm.activation({ op, x, out });
      expect(Array.from(x)).toEqual(Array.from(before));
      const gradOutput = data(generator, x.length, 'normal');
      const gradBefore = gradOutput.slice();
      wasm.activationBackward({ op, x, out, gradOutput, gradX: new Float32Array(x.length) });
      expect(Array.from(gradOutput)).toEqual(Array.from(gradBefore));
      expect(Array.from(x)).toEqual(Array.from(before));
    }
  });
});

describe('kernel table: pooling', () => {
  it('max pooling: same values and argmax as js (exact compares), on border and inner windows, NaN, ±Inf and many planes', () => {
    const generator = new Generator(31);
    for (let trial = 0; trial < 150; trial++) {
      const kernelH = pick(generator, [1, 2, 3, 4]);
      const kernelW = pick(generator, [1, 2, 3, 5]);
      const window = {
        kernelH, kernelW, strideH: pick(generator, [1, 2, 3]), strideW: pick(generator, [1, 2, 2, 3]),
        padH: generator.nextUint32() % (Math.floor(kernelH / 2) + 1), padW: generator.nextUint32() % (Math.floor(kernelW / 2) + 1),
        dilationH: pick(generator, [1, 1, 2]), dilationW: pick(generator, [1, 1, 2]),
      };
      const height = pick(generator, [1, 2, 5, 8, 13, 32]) + (window.kernelH - 1) * window.dilationH;
      const width = pick(generator, [1, 3, 4, 9, 17, 33]) + (window.kernelW - 1) * window.dilationW;
      const outH = Math.floor((height + 2 * window.padH - window.dilationH * (window.kernelH - 1) - 1) / window.strideH) + 1;
      const outW = Math.floor((width + 2 * window.padW - window.dilationW * (window.kernelW - 1) - 1) / window.strideW) + 1;
      // Enough planes now and then for the one-thread path to stream several chunks.
      const planes = pick(generator, [0, 1, 3, 7, 40]);
      const fill = pick(generator, [...FILLS, 'special'] as const);
      const x = data(generator, planes * height * width, fill);
      // Ties: a quarter of the trials round to a few values.
      if (trial % 4 === 1) for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]!);
      if (trial % 9 === 4) x.fill(-Infinity);
      const label = `planes ${planes} ${height}x${width} ${JSON.stringify(window)} ${fill}`;
      const [ref, got] = both(
        () => ({ x, out: new Float32Array(planes * outH * outW), argmax: new Int32Array(planes * outH * outW), planes, height, width, outH, outW, window }),
        (table, a) => table.maxPool2dForward(a),
      );
      expect(Array.from(got.out), `${label}: values`).toEqual(Array.from(ref.out));
      expect(Array.from(got.argmax), `${label}: argmax`).toEqual(Array.from(ref.argmax));
    }
  });

  it('window averages (avgPool2d, adaptiveAvgPool2d, global average): wasm against js', () => {
    const generator = new Generator(32);
    for (let trial = 0; trial < 120; trial++) {
      const height = pick(generator, [1, 2, 3, 7, 16, 33]);
      const width = pick(generator, [1, 4, 5, 9, 32]);
      const outH = pick(generator, [1, 1, 2, 3]);
      const outW = pick(generator, [1, 1, 2, 5]);
      const bounds = (out: number, size: number) => ({
        start: Int32Array.from({ length: out }, (_, o) => Math.floor((o * size) / out)),
        end: Int32Array.from({ length: out }, (_, o) => Math.ceil(((o + 1) * size) / out)),
      });
      const rows = bounds(outH, height);
      const cols = bounds(outW, width);
      const divisor = Float64Array.from({ length: outH * outW }, (_, i) =>
        (rows.end[Math.floor(i / outW)]! - rows.start[Math.floor(i / outW)]!) * (cols.end[i % outW]! - cols.start[i % outW]!));
      const planes = pick(generator, [0, 1, 5, 70]);
      const fill = pick(generator, FILLS);
      const x = data(generator, planes * height * width, fill);
      const geometry = { planes, height, width, rowStart: rows.start, rowEnd: rows.end, colStart: cols.start, colEnd: cols.end, divisor };
      const [ref, got] = both(() => ({ ...geometry, x, out: new Float32Array(planes * outH * outW) }), (table, a) => table.windowAverageForward(a));
      compareAll(`windowAverage planes ${planes} ${height}x${width} -> ${outH}x${outW} ${fill}`, ref, got);
    }
  });
});

describe('kernel table: resize', () => {
  /** Every element the same float32 value (NaN for NaN), -0 apart from +0. */
  function expectSameBits(label: string, ref: Float32Array, got: Float32Array): void {
    expect(got.length, `${label}: length`).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) {
      if (!Object.is(got[i], ref[i])) expect.fail(`${label}[${i}]: wasm ${got[i]}, js ${ref[i]}`);
    }
  }

  it('nearest (2x doubling, repeated source rows, any ratio) and bilinear, forward and backward: wasm gives the js bits, NaN and ±Inf included', () => {
    const generator = new Generator(34);
    const unit = () => generator.nextUint32() / 2 ** 32;
    let reachedWasm = 0;
    for (let trial = 0; trial < 160; trial++) {
      const bilinear = trial % 3 === 2;
      const inH = pick(generator, [1, 2, 5, 16, 33]);
      const inW = pick(generator, [1, 3, 4, 8, 17]);
      const outH = pick(generator, [1, inH, 2 * inH, 2 * inH, 3 * inH + 1, Math.max(1, inH >> 1)]);
      const outW = pick(generator, [1, inW, 2 * inW, 2 * inW, 3 * inW + 2, Math.max(1, inW >> 1)]);
      // Source indices as interpolate builds them (2x: dst >> 1; else floor(dst * in / out)); bilinear: the next pixel and any weight.
      const axis = (inSize: number, outSize: number) => {
        const index0 = Int32Array.from({ length: outSize }, (_, d) => (outSize === 2 * inSize ? d >> 1 : Math.min(Math.floor((d * inSize) / outSize), inSize - 1)));
        if (!bilinear) return { index0, index1: index0, lambda: new Float64Array(0) };
        const index1 = index0.map((i) => Math.min(i + 1, inSize - 1));
        return { index0, index1, lambda: Float64Array.from({ length: outSize }, () => pick(generator, [0, 1, unit(), unit()])) };
      };
      const rows = axis(inH, outH);
      const cols = axis(inW, outW);
      // Enough planes now and then for the wasm path (4,096 outputs and more) and several streamed chunks.
      const planes = pick(generator, [0, 1, 3, 40, 130, 130, 300]);
      const fill = pick(generator, FILLS);
      const x = data(generator, planes * inH * inW, fill);
      const gradOutput = data(generator, planes * outH * outW, pick(generator, FILLS));
      const geometry = { planes, inH, inW, rows, cols, bilinear };
      const label = `${bilinear ? 'bilinear' : 'nearest'} planes ${planes} ${inH}x${inW} -> ${outH}x${outW} ${fill}`;
      const [ref, got] = both(() => ({ ...geometry, x, out: new Float32Array(gradOutput.length) }), (table, a) => table.resizeForward(a));
      expectSameBits(`${label} forward`, ref.out, got.out);
      const [refBack, gotBack] = both(() => ({ ...geometry, gradOutput, gradX: new Float32Array(x.length) }), (table, a) => table.resizeBackward(a));
      expectSameBits(`${label} backward`, refBack.gradX, gotBack.gradX);
      if (gradOutput.length >= 4096) reachedWasm++;
    }
    expect(reachedWasm, 'trials large enough to run in WebAssembly').toBeGreaterThanOrEqual(25);
  });

  it('the backward adds into gradX rather than overwriting it', () => {
    const generator = new Generator(35);
    const axis = { index0: Int32Array.from({ length: 32 }, (_, d) => d >> 1), index1: Int32Array.from({ length: 32 }, (_, d) => d >> 1), lambda: new Float64Array(0) };
    const gradOutput = data(generator, 8 * 32 * 32, 'normal');
    const start = data(generator, 8 * 16 * 16, 'normal');
    const [ref, got] = both(() => ({ planes: 8, inH: 16, inW: 16, rows: axis, cols: axis, bilinear: false, gradOutput, gradX: start.slice() }),
      (table, a) => table.resizeBackward(a));
    expectSameBits('nearest 2x backward into a non-zero gradX', ref.gradX, got.gradX);
    expect(ref.gradX[0]).not.toBe(Math.fround(gradOutput[0]! + gradOutput[1]! + gradOutput[32]! + gradOutput[33]!));
  });
});

describe('kernel table: sums', () => {
  it('sums over any axes: wasm against js (float64 accumulators), rows longer than a stream chunk, NaN and ±Inf', () => {
    const generator = new Generator(33);
    // Sums under 4,096 elements run the js loop on the wasm backend too; count the others.
    let reachedWasm = 0;
    for (let trial = 0; trial < 150; trial++) {
      const rank = 1 + (generator.nextUint32() % 5);
      const shape = Array.from({ length: rank }, () => pick(generator, [1, 2, 3, 5, 8, 17, 33]));
      while (shape.reduce((a, b) => a * b, 1) > 60_000) shape[shape.indexOf(Math.max(...shape))] = 3;
      if (trial % 25 === 7) shape.splice(0, rank, ...shape.map(() => 1).slice(1), 20_011);
      const summed = shape.map(() => generator.nextUint32() % 2 === 0);
      const runs = sumRuns(shape, summed);
      const kept = keptSize(runs);
      const fill = pick(generator, FILLS);
      const x = data(generator, shape.reduce((a, b) => a * b, 1), fill);
      if (x.length >= 4096) reachedWasm++;
      const [ref, got] = both(() => ({ x, out: new Float64Array(kept), ...runs }), (table, a) => table.sum(a));
      compareAll(`sum ${JSON.stringify(shape)} over ${JSON.stringify(summed)} ${fill}`, ref, got);
      // Against a one-line reference: each element added to the output its kept coordinates select.
      if (fill === 'normal') {
        const reference = new Float64Array(kept);
        const keptDims = shape.filter((_, i) => !summed[i]);
        for (let i = 0; i < x.length; i++) {
          let rest = i;
          let o = 0;
          let stride = 1;
          const coordinates = shape.map(() => 0);
          for (let d = rank - 1; d >= 0; d--) { coordinates[d] = rest % shape[d]!; rest = Math.floor(rest / shape[d]!); }
          for (let d = rank - 1, k = keptDims.length - 1; d >= 0; d--) {
            if (summed[d]) continue;
            o += coordinates[d]! * stride;
            stride *= keptDims[k--]!;
          }
          reference[o]! += x[i]!;
        }
        expectAgree('sum reference', reference, got.out);
      }
    }
    expect(reachedWasm, 'sums large enough to run in WebAssembly').toBeGreaterThanOrEqual(25);
  });
});

describe('kernel table: modulate', () => {
  it('x * (scale + offset) + shift broadcast along runs: wasm against js (same float64 arithmetic, same bits)', () => {
    const generator = new Generator(34);
    // Modulations under 4,096 elements run the js loop on the wasm backend too; count the others.
    let reachedWasm = 0;
    for (let trial = 0; trial < 100; trial++) {
      const rank = 1 + (generator.nextUint32() % 4);
      const shape = Array.from({ length: rank }, () => pick(generator, [1, 2, 3, 5, 8, 17, 33, 64]));
      while (shape.reduce((a, b) => a * b, 1) > 60_000) shape[shape.indexOf(Math.max(...shape))] = 3;
      const broadcast = shape.map(() => generator.nextUint32() % 2 === 0);
      const runs = sumRuns(shape, broadcast);
      const kept = keptSize(runs);
      const fill = pick(generator, FILLS);
      const x = data(generator, shape.reduce((a, b) => a * b, 1), fill);
      const scale = data(generator, kept, 'normal');
      const shift = optional(generator, () => data(generator, kept, 'normal'));
      const offset = generator.nextUint32() % 2;
      if (x.length >= 4096) reachedWasm++;
      const [ref, got] = both(() => ({ x, out: new Float32Array(x.length), scale, shift, offset, ...runs }), (table, a) => table.modulate(a));
      expect(Array.from(got.out), `modulate ${JSON.stringify(shape)} ${JSON.stringify(broadcast)} ${fill}`).toEqual(Array.from(ref.out));
    }
    expect(reachedWasm, 'modulations large enough to run in WebAssembly').toBeGreaterThanOrEqual(15);
  });
});

describe('kernel table: elementwise binary ops', () => {
  const OPS = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const;
  // -0, NaN, ±Inf, subnormals, overflow (3.4e38 * 2) and 0 / 0 among ordinary values.
  const EDGE = [Number.NaN, -0, 0, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, 1, -1];
  const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));

  function operand(generator: Generator, size: number): Float32Array {
    const values = data(generator, size, 'normal');
    for (let i = 0; i < size; i++) if (generator.nextUint32() % 4 === 0) values[i] = EDGE[generator.nextUint32() % EDGE.length]!;
    return values;
  }

  it('add, sub, mul, div, maximum, minimum on float32: wasm gives the js bits for same shapes, scalars either side, bias rows and per-channel runs, sizes around the lane width, the js threshold and stream chunks', () => {
    const generator = new Generator(41);
    // Binary ops under 4,096 elements run the js loop on the wasm backend too; count the others.
    let reachedWasm = 0;
    let cases = 0;
    for (const size of [1, 7, 4095, 4096, 4097, 4099, 16_384, 16_387, 40_001]) {
      for (const kind of ['same', 'scalar-b', 'scalar-a', 'rows-b', 'runs-b'] as const) {
        // Bias rows: a period that divides the size, from 1 (one value per row) to the whole array.
        // Runs: a run length that divides the size (runs straddle stream chunks), cycling through 1-64 values.
        const divisors = [1, 3, 7, 768, 20_000].filter((p) => size % p === 0);
        const period = kind === 'rows-b' ? (divisors[generator.nextUint32() % divisors.length] ?? size) : size;
        const inner = kind === 'runs-b' ? divisors[generator.nextUint32() % divisors.length]! : 1;
        const runPeriod = [1, 2, 3, 64][generator.nextUint32() % 4]!;
        const a = operand(generator, kind === 'scalar-a' ? 1 : size);
        const b = operand(generator, kind === 'scalar-b' ? 1 : kind === 'rows-b' ? period : kind === 'runs-b' ? runPeriod : size);
        const broadcast: BinaryBroadcast = kind === 'rows-b' ? { kind, period } : kind === 'runs-b' ? { kind, inner, period: runPeriod } : { kind };
        if (size >= 4096) reachedWasm++;
        cases++;
        for (const op of OPS) {
          const [ref, got] = [js, wasm].map((table) => {
            const out = new Float32Array(size);
            table.binary({ op, a, b, out, broadcast });
            return out;
          });
          for (let i = 0; i < size; i++) {
            if (Object.is(ref![i], got![i])) continue;
            const x = a[kind === 'scalar-a' ? 0 : i]!;
            const y = b[kind === 'scalar-b' ? 0 : kind === 'rows-b' ? i % period : kind === 'runs-b' ? Math.floor(i / inner) % runPeriod : i]!;
            expect.fail(`${op} ${kind} (size ${size}) at ${i}: ${show(x)}, ${show(y)}: wasm ${show(got![i]!)}, js ${show(ref![i]!)}`);
          }
        }
      }
    }
    expect(reachedWasm, 'cases large enough to run in WebAssembly').toBe(30);
    expect(cases).toBe(45);
  });

  it('per-channel runs whose stream chunks start part-way through b\'s cycle: wasm gives the js bits', () => {
    const generator = new Generator(43);
    // A chunk holds floor(16,384 / inner) runs (one run when longer): none of these counts is a
    // multiple of the periods, so every chunk after the first starts mid-cycle.
    for (const inner of [1, 3, 7, 100, 20_000]) {
      for (const period of [3, 5, 64]) {
        const rows = inner === 20_000 ? 7 : 10_001;
        const a = operand(generator, inner * rows);
        const b = operand(generator, period);
        for (const op of OPS) {
          const [ref, got] = [js, wasm].map((table) => {
            const out = new Float32Array(a.length);
            table.binary({ op, a, b, out, broadcast: { kind: 'runs-b', inner, period } });
            return out;
          });
          const first = ref!.findIndex((v, i) => !Object.is(v, got![i]));
          expect(first, `${op} runs of ${inner} over ${period} values: first element differing`).toBe(-1);
        }
      }
    }
  });

  it('writes in place of either operand (out = a or out = b) and leaves the other intact', () => {
    const generator = new Generator(42);
    for (const op of OPS) {
      const a = operand(generator, 40_001);
      const b = operand(generator, 40_001);
      const expected = new Float32Array(a.length);
      js.binary({ op, a, b, out: expected, broadcast: { kind: 'same' } });
      for (const into of ['a', 'b'] as const) {
        const [x, y] = [a.slice(), b.slice()];
        const out = into === 'a' ? x : y;
        wasm.binary({ op, a: x, b: y, out, broadcast: { kind: 'same' } });
        expect(out.every((v, i) => Object.is(v, expected[i])), `${op} into ${into}`).toBe(true);
        const other = into === 'a' ? y : x;
        const original = into === 'a' ? b : a;
        expect(other.every((v, i) => Object.is(v, original[i])), `${op}: the other operand untouched`).toBe(true);
      }
    }
  });
});

describe('backend choice', () => {
  it('defaults to wasm in Node (or to what NORMKIT_BACKEND names)', () => {
    expect(getBackend()).toBe(process.env.NORMKIT_BACKEND || 'wasm');
  });

  it('falls back to js quietly and correctly where WebAssembly or its SIMD128 is missing', () => {
    const script = fileURLToPath(new URL('./no-simd.fixture.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../../../node_modules/tsx/dist/cli.mjs', import.meta.url));
    for (const mode of ['missing', 'no-simd']) {
      const env: NodeJS.ProcessEnv = { ...process.env, MODE: mode };
      delete env.NORMKIT_BACKEND;
      const result = spawnSync(process.execPath, [tsx, script], { encoding: 'utf8', timeout: 60_000, env });
      expect(result.status, `${mode}: ${result.stderr}`).toBe(0);
      expect(result.stderr, `${mode}: nothing printed to stderr`).toBe('');
      expect(JSON.parse(result.stdout), mode).toEqual({
        backend: 'js',
        product: [19, 22, 43, 50],
        refusal: "ValueError: setBackend: expected a runtime with WebAssembly SIMD128 for the wasm backend, got none here",
        after: 'js',
      });
    }
  });

  it('setBackend switches the active table and refuses unknown names', () => {
    const before = getBackend();
    try {
      setBackend('js');
      expect(activeKernels().name).toBe('js');
      setBackend('wasm');
      expect(activeKernels().name).toBe('wasm');
      // @ts-expect-error: not a backend
      expect(() => setBackend('webgpu')).toThrow(/setBackend: expected a backend name \('js' or 'wasm'\), got 'webgpu'/);
    } finally {
      setBackend(before);
    }
  });
});
