import { afterEach, describe, expect, it } from 'vitest';
import { MAX_POOLED_BYTES, MIN_POOLED_LENGTH, clearPool, poolStatistics, recycle, takePooled } from './buffer-pool';
import { allocate, allocateForOverwrite, uninitializedArrays, type TypedArray } from './dtype';
import { Generator } from './random';
import { randn } from './creation';
import { getBackend, setBackend } from './kernels/backend';
import { normalize } from './norm/normalize';
import { add, avgPool2d, concat, conv2d, interpolate, matmul, maxPool2d, mul, relu, reshape, sum, tanh } from './ops/index';
import { Tensor } from './tensor';
import { customOp } from './autograd';

// The caching allocator: consumed backward gradients come back as zeroed arrays of the same dtype and
// length, and never while anything still references them.

afterEach(() => clearPool());

/** Every pooled array, taken out (so the test can inspect them), then given back. */
function drainPool(dtype: 'float32' | 'float64', length: number): TypedArray[] {
  const taken: TypedArray[] = [];
  for (let array = takePooled(dtype, length); array !== null; array = takePooled(dtype, length)) taken.push(array);
  for (const array of taken) recycle(array);
  return taken;
}

describe('caching allocator', () => {
  it('hands a recycled array back zeroed, by dtype and length, and keeps views and small arrays out', () => {
    const array = new Float32Array(MIN_POOLED_LENGTH);
    array.fill(7);
    recycle(array);
    expect(takePooled('float64', MIN_POOLED_LENGTH)).toBeNull();
    expect(takePooled('float32', MIN_POOLED_LENGTH + 1)).toBeNull();
    const again = allocate('float32', MIN_POOLED_LENGTH);
    expect(again).toBe(array);
    expect(again.every((v) => v === 0)).toBe(true);
    recycle(new Float32Array(2 * MIN_POOLED_LENGTH).subarray(0, MIN_POOLED_LENGTH));
    recycle(new Float32Array(MIN_POOLED_LENGTH - 1));
    expect(poolStatistics().pooledBytes).toBe(0);
  });

  it(`never holds more than ${MAX_POOLED_BYTES / 2 ** 20} MiB`, () => {
    const length = 4 * 1024 * 1024; // 16 MiB of float32
    for (let i = 0; i < 20; i++) recycle(new Float32Array(length));
    expect(poolStatistics().pooledBytes).toBeLessThanOrEqual(MAX_POOLED_BYTES);
  });

  it('recycles the gradients flowing between nodes in backward, and the next step reuses them', () => {
    const generator = new Generator(1);
    const width = 256;
    const x = randn([128, width], { generator });
    const w1 = randn([width, width], { generator, requiresGrad: true });
    const w2 = randn([width, width], { generator, requiresGrad: true });
    const step = () => {
      w1.grad = null;
      w2.grad = null;
      const loss = sum(tanh(matmul(relu(matmul(x, w1)), w2)));
      loss.backward();
    };
    step();
    const afterFirst = poolStatistics();
    expect(afterFirst.recycled, 'gradients given back in the first backward').toBeGreaterThan(0);
    step();
    expect(poolStatistics().reused, 'arrays reused by the second step').toBeGreaterThan(afterFirst.reused);
  });

  it('never recycles an array that backs a live tensor, a .grad, or a view a pending gradient shares', () => {
    const generator = new Generator(2);
    const n = MIN_POOLED_LENGTH;
    const a = randn([n], { generator, requiresGrad: true });
    const b = randn([n], { generator, requiresGrad: true });
    // concat's backward hands each input a view of its output gradient; reshape's hands back the same array.
    const joined = concat([mul(a, 2), mul(b, 3)]);
    const shaped = reshape(joined, [2, n]);
    const hidden = tanh(shaped);
    const kept = add(hidden, 1);
    sum(mul(kept, kept)).backward();
    const live = [a, b, joined, shaped, hidden, kept].flatMap((t: Tensor) => [t.data, t.grad?.data]).filter((d) => d !== undefined);
    for (const length of [n, 2 * n]) {
      for (const pooled of drainPool('float32', length)) {
        for (const data of live) expect(pooled.buffer === data.buffer, 'a pooled array shares a live buffer').toBe(false);
      }
    }
    // A rule that hands back a live tensor's own data (which the customOp contract forbids, but which
    // must still never corrupt that tensor): the engine must not recycle it once consumed.
    const constant = randn([n], { generator });
    const original = constant.data.slice();
    const x = randn([n], { generator, requiresGrad: true });
    x.grad = new Tensor(new Float32Array(n), [n]); // accumulated into, so the returned array is consumed
    const scaled = customOp({
      op: 'mulByConstant', inputs: [x, constant], saved: [], data: x.data.map((v, i) => v * constant.data[i]!), shape: [n],
      backward: (g) => [g.every((v) => v === 1) ? constant.data : g.map((v, i) => v * constant.data[i]!), null],
    });
    const middle = mul(scaled, 1);
    sum(middle).backward();
    for (const pooled of drainPool('float32', n)) expect(pooled.buffer === constant.data.buffer, 'the constant is in the pool').toBe(false);
    allocate('float32', n).fill(9);
    expect(constant.data).toEqual(original);
    expect(x.grad.data).toEqual(original);
    // And the gradients are right: d/da sum((tanh(2a) + 1)^2) = 2 (tanh(2a) + 1) (1 - tanh(2a)^2) 2.
    for (const [input, scale] of [[a, 2], [b, 3]] as const) {
      for (let i = 0; i < n; i += 997) {
        const t = Math.tanh(scale * input.data[i]!);
        const expected = 2 * (t + 1) * (1 - t * t) * scale;
        expect(input.grad!.data[i]).toBeCloseTo(expected, 4);
      }
    }
  });

  it('keeps a consumed gradient out of the pool while views of it are still pending', () => {
    const n = MIN_POOLED_LENGTH;
    const generator = new Generator(4);
    const a = randn([n], { generator, requiresGrad: true });
    const b = randn([n], { generator, requiresGrad: true });
    // Each scaling node allocates 2n floats in its backward before reading its gradient: were the
    // joined gradient recycled while the views below still point into it, that allocation would hand
    // it out and overwrite what the views read.
    const scaleWithScratch = (t: Tensor, factor: number) => customOp({
      op: 'scaleWithScratch', inputs: [t], saved: [], data: t.data.map((v) => v * factor), shape: t.shape,
      backward: (g) => {
        allocate('float32', 2 * n).fill(5);
        return [g.map((v) => v * factor)];
      },
    });
    const p = scaleWithScratch(a, 2);
    const q = scaleWithScratch(b, 3);
    // The join's backward hands p and q views of its one output gradient (2n floats, engine-owned).
    const joined = customOp({
      op: 'joinViews', inputs: [p, q], saved: [], data: Float32Array.from([...p.data, ...q.data]), shape: [2 * n],
      backward: (g) => [g.subarray(0, n), g.subarray(n)],
    });
    const upstream = Float32Array.from({ length: 2 * n }, (_, i) => (i % 7) - 3);
    mul(joined, 1).backward(new Tensor(upstream, [2 * n]));
    for (let i = 0; i < n; i += 331) {
      expect(a.grad!.data[i]).toBe(upstream[i]! * 2);
      expect(b.grad!.data[i]).toBe(upstream[n + i]! * 3);
    }
  });

  it('keeps a consumed gradient out of the pool while a leaf\'s pending .grad is a view of it', () => {
    const n = MIN_POOLED_LENGTH;
    const generator = new Generator(5);
    const source = randn([2 * n], { generator, requiresGrad: true });
    const leaf = randn([n], { generator, requiresGrad: true });
    const middle = customOp({
      op: 'scaleWithScratch', inputs: [source], saved: [], data: source.data.map((v) => 2 * v), shape: [2 * n],
      backward: (g) => {
        allocate('float32', 2 * n).fill(5);
        return [g.map((v) => 2 * v)];
      },
    });
    // The join's backward gives `middle` a fresh array W and the leaf a view of W. The sweep reaches
    // the leaf (its .grad write waits for the end) before `middle`, whose node consumes W: W must stay
    // out of the pool until the leaf's .grad has been written and for as long as it lives.
    const joined = customOp({
      op: 'joinSharing', inputs: [middle, leaf], saved: [], data: Float32Array.from([...middle.data, ...leaf.data]), shape: [3 * n],
      backward: (g) => {
        const whole = allocate('float32', 2 * n);
        whole.set(g.subarray(0, 2 * n));
        return [whole, whole.subarray(0, n)];
      },
    });
    const upstream = Float32Array.from({ length: 3 * n }, (_, i) => (i % 5) - 2);
    mul(joined, 1).backward(new Tensor(upstream, [3 * n]));
    allocate('float32', 2 * n).fill(7);
    for (let i = 0; i < n; i += 331) expect(leaf.grad!.data[i]).toBe(upstream[i]!);
  });

  it('gives the same gradients whether the pool starts empty or full of used arrays', () => {
    const run = () => {
      const generator = new Generator(3);
      const x = randn([64, 512], { generator, requiresGrad: true });
      const w = randn([512, 512], { generator, requiresGrad: true });
      sum(mul(tanh(matmul(x, w)), matmul(x, w))).backward();
      return [x.grad!.data.slice(), w.grad!.data.slice()];
    };
    clearPool();
    const fresh = run();
    for (let i = 0; i < 8; i++) recycle(new Float32Array(64 * 512).fill(Number.NaN));
    const reused = run();
    expect(poolStatistics().reused).toBeGreaterThan(0);
    expect(reused).toEqual(fresh);
  });
  it('kernel outputs allocated for overwrite never show a recycled array\'s old contents (NaN-filled pool, both backends)', () => {
    // Every op below takes its output (and most take their input gradient) without a zeroing pass:
    // masked rows, pooling, resize, conv, activations, broadcasting arithmetic, GroupNorm.
    const run = () => {
      const generator = new Generator(5);
      const x = randn([8, 8, 32, 32], { generator, requiresGrad: true });
      const w = randn([8, 8, 3, 3], { generator, requiresGrad: true });
      const h = relu(conv2d(x, w, null, { padding: 1 }));
      const pooled = add(maxPool2d(h, 2), avgPool2d(h, 2));
      const up = interpolate(pooled, { scaleFactor: 2 });
      const grouped = normalize(add(up, h), {
        op: 'groupNorm', layout: { outer: 8, groups: 4, inner: 2 * 32 * 32 }, acrossOuter: false, center: true, eps: 1e-5,
        weight: null, bias: null, affineBlock: 1,
      }).output;
      const rows = 8 * 8 * 32;
      const mask = Float32Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? 0 : 1));
      const rowNormed = normalize(reshape(grouped, [rows, 32]), {
        op: 'layerNorm', layout: { outer: rows, groups: 1, inner: 32 }, acrossOuter: false, center: true, eps: 1e-5,
        weight: null, bias: null, affineBlock: 1, mask, maskSpatial: 1,
      }).output;
      const loss = sum(mul(tanh(rowNormed), rowNormed));
      loss.backward();
      return [rowNormed.data.slice(), x.grad!.data.slice(), w.grad!.data.slice()];
    };
    const before = getBackend();
    try {
      for (const backend of ['js', 'wasm'] as const) {
        setBackend(backend);
        clearPool();
        const fresh = run();
        for (const length of [8 * 8 * 32 * 32, 8 * 8 * 16 * 16]) {
          for (let i = 0; i < 12; i++) recycle(new Float32Array(length).fill(Number.NaN));
        }
        const reused = run();
        expect(poolStatistics().reused, backend).toBeGreaterThan(0);
        expect(reused, backend).toEqual(fresh);
        // Fresh arrays for overwrite are not zeroed in Node (malloc'd): poisoned with NaN, same results.
        clearPool();
        uninitializedArrays.poison = true;
        try {
          expect(run(), `${backend}, fresh outputs NaN-filled`).toEqual(fresh);
        } finally {
          uninitializedArrays.poison = false;
        }
      }
    } finally {
      setBackend(before);
      clearPool();
    }
  });

  it('fresh arrays: zeroed from allocate at every size, uninitialized (NaN when poisoned) from allocateForOverwrite, whole buffers the pool takes back', () => {
    uninitializedArrays.poison = true;
    try {
      for (const size of [1, 1023, 1024, 5000, 32 * 1024, 100_000]) {
        for (const dtype of ['float32', 'float64'] as const) {
          const zeroed = allocate(dtype, size);
          expect(zeroed.every((v) => v === 0), `allocate ${dtype} ${size}`).toBe(true);
          const overwrite = allocateForOverwrite(dtype, size);
          expect(overwrite.length).toBe(size);
          expect(overwrite instanceof (dtype === 'float64' ? Float64Array : Float32Array)).toBe(true);
          // From 1024 elements, Node's malloc'd memory: NaN here. Below, V8's zeroed arrays.
          expect(overwrite.every((v) => (size >= 1024 ? Number.isNaN(v) : v === 0)), `allocateForOverwrite ${dtype} ${size}`).toBe(true);
          expect(overwrite.byteOffset === 0 && overwrite.byteLength === overwrite.buffer.byteLength, 'a whole buffer').toBe(true);
          recycle(overwrite);
          expect(takePooled(dtype, size, false), `pooled ${dtype} ${size}`).toBe(size >= MIN_POOLED_LENGTH ? overwrite : null);
        }
      }
    } finally {
      uninitializedArrays.poison = false;
    }
  });
});
