import { uninitializedArrays, type TypedArray } from '../../dtype';
import { finishBatchStatistics } from '../js/norm';
import { keptStrides } from '../js/reduce';
import { ERF_TABLE } from '../js/math';
import { jsKernels } from '../js/table';
import type {
  ActivationArgs, ActivationBackwardArgs, BinaryArgs, BinaryKernelOp, BatchBackwardArgs, BatchForwardArgs, BatchForwardResult, Conv2dBackwardArgs, Conv2dForwardArgs, GemmArgs, GemmBatchArgs, KernelTable, MaxPool2dArgs, ModulateArgs, ResizeArgs, ResizeBackwardArgs, ResizeGeometry, SumArgs, SumRuns, WindowAverageArgs, SlotMixBackwardArgs, SlotMixForwardArgs, RowwiseBackwardArgs, RowwiseForwardArgs, SlotwiseBackwardArgs,
  SlotwiseForwardArgs,
} from '../types';
import { requestedThreads } from '../thread-state';
import { kernelModuleBase64, sharedKernelModuleBase64 } from './module-bytes';
import { poolSpawner, ThreadPool } from './pool';
import { MAX_TASKS, POOL_KERNELS, type PoolKernel } from './pool-protocol';

/** The exports of wasm/kernels.ts (offsets are byte offsets into the module's memory). */
interface KernelExports {
  heapBase(): number;
  activationForward(op: number, x: number, out: number, n: number, erfTable: number): void;
  geluBackward(x: number, gradOutput: number, gradX: number, n: number, erfTable: number): void;
  siluBackward(x: number, gradOutput: number, gradX: number, n: number): void;
  reluForward(x: number, out: number, n: number): void;
  reluBackward(x: number, gradOutput: number, gradX: number, n: number): void;
  binaryForward(op: number, a: number, b: number, out: number, rows: number, period: number, kind: number, firstRow: number, bCount: number): void;
  sumRuns(x: number, out: number, runs: number, runCount: number, row0: number, row1: number, counters: number): void;
  modulateRuns(x: number, out: number, scale: number, shift: number, offset: number, runs: number, runCount: number, row0: number, row1: number,
    counters: number): void;
  maxPool2dForward(x: number, out: number, argmax: number, planes: number, height: number, width: number, outH: number, outW: number, kernelH: number,
    kernelW: number, strideH: number, strideW: number, padH: number, padW: number, dilationH: number, dilationW: number, indexBase: number): void;
  windowAverageForward(x: number, out: number, planes: number, height: number, width: number, outH: number, outW: number, rowStart: number, rowEnd: number,
    colStart: number, colEnd: number, divisor: number): void;
  resizeForward(x: number, out: number, planes: number, inH: number, inW: number, outH: number, outW: number, rowIndex0: number, rowIndex1: number,
    rowLambda: number, colIndex0: number, colIndex1: number, colLambda: number, bilinear: number): void;
  resizeBackward(gradOutput: number, gradX: number, planes: number, inH: number, inW: number, outH: number, outW: number, rowIndex0: number,
    rowIndex1: number, rowLambda: number, colIndex0: number, colIndex1: number, colLambda: number, bilinear: number): void;
  rowwiseForward(x: number, out: number, w: number, b: number, rows: number, inner: number, center: number, eps: number, mask: number,
    count: number, mean: number, variance: number, rstd: number, weightBound: number): void;
  rowwiseBackward(gy: number, x: number, w: number, rows: number, inner: number, center: number, mask: number, mean: number, rstd: number,
    gradX: number, gradW: number, gradB: number): void;
  slotwiseForward(x: number, out: number, w: number, b: number, th: number, slots: number, groups: number, inner: number, block: number,
    center: number, eps: number, mean: number, variance: number, rstd: number, weightBound: number): void;
  slotwiseBackward(gy: number, x: number, w: number, b: number, th: number, slots: number, groups: number, inner: number, block: number,
    center: number, mean: number, rstd: number, gradX: number, wantGradX: number, gradW: number, gradB: number, gradTh: number,
    dxhatXhat: number, partials: number): void;
  batchSums(x: number, outer: number, groups: number, inner: number, chunk: number, slots: number, center: number, sums: number,
    partials: number): void;
  batchSquares(x: number, outer: number, groups: number, inner: number, chunk: number, slots: number, mean: number, squares: number,
    partials: number): void;
  batchForward(x: number, out: number, w: number, b: number, outer: number, groups: number, inner: number, chunk: number, mean: number,
    rstd: number): void;
  batchBackwardReductions(gy: number, x: number, w: number, outer: number, groups: number, inner: number, chunk: number, slots: number,
    mean: number, rstd: number, gradW: number, gradB: number, reductions: number, partials: number): void;
  gemm(a: number, aRow: number, aCol: number, b: number, bRow: number, bCol: number, c: number, ldc: number, m: number, k: number, n: number,
    work: number, overwrite: number): void;
  zero(target: number, bytes: number): void;
  addRowBias(c: number, bias: number, rows: number, n: number): void;
  gemmWorkFloats(): number;
  slotMoments(x: number, slots: number, inner: number, mean: number, variance: number): void;
  slotAffine(x: number, out: number, slots: number, inner: number, scale: number, shift: number): void;
  slotGradientSums(gy: number, x: number, slots: number, inner: number, mean: number, sumDy: number, sumDyCentred: number): void;
  slotGradX(gy: number, x: number, gradX: number, slots: number, inner: number, a: number, c: number, e: number): void;
  im2col(src: number, channels: number, imageH: number, imageW: number, kernelH: number, kernelW: number, strideH: number, strideW: number,
    padH: number, padW: number, dilationH: number, dilationW: number, gridH: number, gridW: number, col: number): void;
  col2im(col: number, channels: number, imageH: number, imageW: number, kernelH: number, kernelW: number, strideH: number, strideW: number,
    padH: number, padW: number, dilationH: number, dilationW: number, gridH: number, gridW: number, dst: number): void;
  batchBackwardInput(gy: number, x: number, gradX: number, w: number, outer: number, groups: number, inner: number, chunk: number, slots: number,
    center: number, fixed: number, count: number, mean: number, rstd: number, reductions: number): void;
  packRows(a: number, rows: number, k: number, out: number): void;
  padPlanes(src: number, planes: number, h: number, w: number, padH: number, padW: number, dst: number): void;
  convIndirect(panels: number, m: number, k: number, image: number, offsets: number, rowStepBytes: number, gridH: number, gridW: number, c: number,
    ldc: number, work: number, overwrite: number): void;
  gemmImageB(a: number, aRow: number, aCol: number, image: number, offsets: number, gridW: number, rowStepBytes: number, c: number, ldc: number,
    m: number, k: number, n: number, work: number, overwrite: number): void;
}

const PAGE = 65536;
/** The module's numbering of the activations it computes (wasm/kernels.ts ACTIVATION_*). */
const ACTIVATION_TANH = 1;
const ACTIVATION_SIGMOID = 2;
const ACTIVATION_SILU = 3;
const ACTIVATION_GELU = 4;
/** The module's numbering of the binary ops and of their operand kinds (wasm/kernels.ts BINARY_*). */
const BINARY_OPS: Record<BinaryKernelOp, number> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 };
const BINARY_PAIRWISE = 0;
const BINARY_SCALAR_B = 1;
const BINARY_SCALAR_A = 2;
const BINARY_RUNS_B = 3;
/** Multiply-adds below which `gemm` stays on the js loops (measured: see the tensor README). */
const GEMM_MIN_WORK = 4096;
/**
 * Multiply-adds per entry from which a batch of products runs in the module (its copies are paid once
 * per batch): 1.3x faster than the js loops at 9x8x9, 2x at 17x8x17, 0.76x at 5x4x5 (256 and 128 entries).
 */
const GEMM_BATCH_ENTRY_MIN_WORK = 512;
/** A batched product's operands go into the module this many bytes at a time (the arena never shrinks). */
const GEMM_BATCH_GROUP_BYTES = 16 * 1024 * 1024;
/**
 * Work below which a kernel stays on the calling thread, measured on the 2-core machine of the tensor README:
 * a GEMM or convolution from 2^24 multiply-adds; the row-wise and slot-wise normalization from 2^20 elements
 * (their threaded stream overlaps the calling thread's copies with the workers' kernels: 1.2-1.4x on 2
 * threads at [8, 512, 768] and [32, 64, 32, 32], 2026-12-07). The batch-wise loops (streamed over planes too, but
 * three or two light passes, each bound by the calling thread's copies: 0.85-1.07x on 2 threads) and the slot-mix
 * loops (whole operands copied in, then the pool: 0.75-1.01x) stay on one thread; their threaded paths are kept
 * and tested bitwise for larger machines.
 * tanh, sigmoid, SiLU and GELU (compute-bound: exp and erf) from 2^15 elements (1.2-1.3x there, 1.4-1.7x from 2^17).
 * Mutable for the thread tests only, which set them to 0 to run every partition on small, awkward sizes;
 * not exported from the package.
 */
export const parallelThresholds = {
  gemmWork: 1 << 24, rowwiseElements: 1 << 20, rowwiseBackwardElements: 1 << 20,
  slotwiseElements: 1 << 20, batchElements: Infinity, slotMixElements: Infinity,
  activationElements: 1 << 15,
};
/**
 * Which convolution loops the wasm backend may use: `indirect` (stride 1 along rows) reads the unfolded input
 * straight from a padded copy of the image instead of an im2col matrix, forward and, for stride 1, backward
 * to the input (a convolution of the output gradient with the flipped, transposed weight). Mutable for the
 * tests only, which compare both paths and count the calls that took this one; not exported from the package.
 */
export const convolutionPaths = { indirect: true, calls: { forward: 0, gradX: 0, gradWeight: 0 } };
/** Floats past a padded image that an indirect strip's unused lanes may read (never stored). */
const INDIRECT_SLACK_FLOATS = 8;
/** Rows per block of the row-wise backward's parameter-gradient sums: this many values (256 KiB of float32). */
const ROWWISE_BLOCK_FLOATS = 1 << 16;
/** Tasks per thread in a job, so threads that start late or run slower still share the work evenly. */
const TASKS_PER_THREAD = 4;
/** Below this many elements a sum or a modulation stays on the js loop (the copies and calls cost more than SIMD saves). */
const ELEMENTWISE_MIN_ELEMENTS = 4096;
/** Floats per buffer when a one-thread kernel streams chunks of its operands through the module (64 KiB: two or three buffers stay in a core's L2). */
const STREAM_FLOATS = 16 * 1024;
/**
 * Floats per buffer of the threaded stream's chunks. Smaller chunks fill and drain the pipeline faster, but
 * a worker then reads operands the calling thread has just written into its own core's cache, which ran the
 * kernels up to 2.5x slower: measured on 2 threads (kernels alone, [32, 64, 32, 32] slot-wise and [4096, 768]
 * row-wise, 2026-12-07), chunks of 64K floats gave 0.9-1.4x, 256K 1.1-1.7x, 512K 1.2-1.7x. Mutable for the
 * thread tests only, which make chunks small so that every pipeline runs many; not exported from the package.
 */
export const threadedStream = { chunkFloats: 512 * 1024 };
/** At most this many chunks of a threaded stream per pool job (the job's program holds all their tasks). */
const PIPELINE_CHUNKS = 64;
/**
 * Buffer sets of the threaded stream, so chunks released to the workers ahead of the calling thread's copies
 * out: with 2, a worker finishing chunk k usually finds k + 1 released. 3 sets measured no faster (2026-12-07).
 */
const PIPELINE_SETS = 2;
/** wasm32 addresses 4 GiB at most; one kernel call's operands must fit. */
const MAX_BYTES = 4 * 1024 * 1024 * 1024 - PAGE;

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  // atob exists in Node 16+, browsers and workers.
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * The module's memory as a scratch arena: each kernel call copies its operands in after
 * `heapBase()`, runs, and copies its results out into the caller's arrays, so tensors stay plain
 * typed arrays owned by JavaScript (no view can be detached by `memory.grow`, nothing to dispose).
 * The arena grows to the largest call seen and never shrinks (WebAssembly memory cannot).
 */
class Arena {
  private readonly memory: WebAssembly.Memory;
  private readonly base: number;
  private top = 0;
  private bytes!: Uint8Array;
  private f32!: Float32Array;
  private f64!: Float64Array;

  constructor(memory: WebAssembly.Memory, heapBase: number) {
    this.memory = memory;
    this.base = align(heapBase);
    this.top = this.base;
    this.refreshViews();
  }

  /** Starts a call: every offset handed out before is free again. */
  reset(): void {
    this.top = this.base;
  }

  /** Reserves `byteLength` bytes (16-aligned) and returns its offset. */
  reserve(byteLength: number): number {
    const offset = this.top;
    const end = align(offset + byteLength);
    if (end > MAX_BYTES) throw new RangeError(`normkit wasm backend: one kernel call needs ${end} bytes, over wasm32's 4 GiB`);
    const memory = this.memory;
    if (end > memory.buffer.byteLength) {
      memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
      this.refreshViews();
    }
    this.top = end;
    // Under NORMKIT_POISON_UNINITIALIZED, reserved module memory starts as NaN too (every byte 0xff), so a
    // kernel that reads scratch or an output region it never wrote shows it in some test.
    if (uninitializedArrays.poison) this.bytes.fill(0xff, offset, end);
    return offset;
  }

  /** Copies a float32 array in; returns its offset. */
  float32In(values: ArrayLike<number> & { length: number }): number {
    const offset = this.reserve(values.length * 4);
    this.f32.set(values, offset / 4);
    return offset;
  }

  /** `length` float32 values all equal to `value`, in the arena. */
  float32Fill(length: number, value: number): number {
    const offset = this.reserve(length * 4);
    this.f32.fill(value, offset / 4, offset / 4 + length);
    return offset;
  }

  /** Copies float32 values to an offset reserved before. */
  float32Write(offset: number, values: ArrayLike<number>): void {
    this.f32.set(values, offset / 4);
  }

  /** Copies float32 or int32 values, as they are, to an offset reserved before. */
  write(offset: number, values: Float32Array | Float64Array | Int32Array): void {
    if (values instanceof Int32Array) this.int32View(offset, values.length).set(values);
    else this.float32Write(offset, values);
  }

  /** `length` zeros of float64 at `offset`. */
  float64Zero(offset: number, length: number): void {
    this.f64.fill(0, offset / 8, offset / 8 + length);
  }

  float64In(values: Float64Array): number {
    const offset = this.reserve(values.length * 8);
    this.f64.set(values, offset / 8);
    return offset;
  }

  /** A float32 view of the arena, valid until the next `reserve` (which may grow the memory). */
  float32View(offset: number, length: number): Float32Array {
    return this.f32.subarray(offset / 4, offset / 4 + length);
  }

  /** A float64 view of the arena, valid until the next `reserve`. */
  float64View(offset: number, length: number): Float64Array {
    return this.f64.subarray(offset / 8, offset / 8 + length);
  }

  float64Write(offset: number, values: Float64Array): void {
    this.f64.set(values, offset / 8);
  }

  /** An int32 view of the arena, valid until the next `reserve`. */
  int32View(offset: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, offset, length);
  }

  /** A view of `length` values at `offset` of the same element type as `like` (Float32Array or Int32Array). */
  viewLike(like: TypedArray | Int32Array, offset: number, length: number): Float32Array | Int32Array {
    return like instanceof Int32Array ? this.int32View(offset, length) : this.float32View(offset, length);
  }

  float32Out(offset: number, target: TypedArray): void {
    target.set(this.f32.subarray(offset / 4, offset / 4 + target.length));
  }

  float64Out(offset: number, target: Float64Array): void {
    target.set(this.f64.subarray(offset / 8, offset / 8 + target.length));
  }

  /** One byte per row: 1 = real, 0 = padded. */
  maskIn(mask: TypedArray): number {
    const offset = this.reserve(mask.length);
    for (let i = 0; i < mask.length; i++) this.bytes[offset + i] = mask[i] === 0 ? 0 : 1;
    return offset;
  }

  /**
   * Writes `job`'s program and per-thread scratch into the arena and runs it on `threads` threads
   * of `pool` (see pool-protocol.ts for the layout).
   */
  runJob(pool: ThreadPool, job: Job, threads: number, scratchBytes: number): void {
    this.startJob(pool, job, threads, scratchBytes);
    pool.finish();
  }

  /**
   * `runJob` without waiting: the job's first `released` tasks (all by default) run on the pool's workers
   * until the caller's `pool.finish()`.
   */
  startJob(pool: ThreadPool, job: Job, threads: number, scratchBytes: number, released = job.tasks.length): void {
    const stride = align(scratchBytes);
    const scratchBase = stride > 0 ? this.reserve(stride * threads) : 0;
    const tasks = job.tasks;
    let size = 3 + tasks.length;
    for (const task of tasks) size += task.length;
    const offset = this.reserve(size * 8);
    const program = this.float64View(offset, size);
    program[0] = scratchBase;
    program[1] = stride;
    program[2] = tasks.length;
    let at = 3 + tasks.length;
    for (let i = 0; i < tasks.length; i++) {
      program[3 + i] = at;
      program.set(tasks[i]!, at);
      at += tasks[i]!.length;
    }
    pool.start(offset, tasks.length, threads, released);
  }

  private refreshViews(): void {
    const buffer = this.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.f32 = new Float32Array(buffer);
    this.f64 = new Float64Array(buffer);
  }
}

/** An operand of `stream`: `unitLength` 4-byte values per unit (row, sample, plane). */
interface StreamOperand {
  data: TypedArray | Int32Array;
  unitLength: number;
}

interface StreamOutput {
  /** Where the results go; null to discard them (a buffer the kernel needs as scratch). */
  data: TypedArray | Int32Array | null;
  unitLength: number;
  /** Write into this input's buffer instead of a buffer of its own. */
  inPlaceOf?: number;
}

/** Where `convIndirect` finds a convolution's packed weight (per group) and its taps' offsets. */
interface IndirectPlan {
  panels: number;
  groupPanelBytes: number;
  offsets: number;
}

/** One input and one output channel per group: the depthwise loop instead of a 1-row GEMM per channel. */
function isDepthwise(args: { inChannels: number; outChannels: number; groups: number }): boolean {
  return args.groups > 1 && args.groups === args.inChannels && args.outChannels === args.groups;
}

/** A 1x1 window with stride 1 and no padding: im2col would copy the input planes unchanged. */
function isPointwise(w: Conv2dForwardArgs['window']): boolean {
  return w.kernelH === 1 && w.kernelW === 1 && w.strideH === 1 && w.strideW === 1 && w.padH === 0 && w.padW === 0;
}

/**
 * Samples [o0, o1) of the batch layout cut where a statistics chunk (a ghost batch of `chunk` samples)
 * begins, so that each piece's samples share one row of `groups` slots: `emit(a, b, slotByteOffset)` with
 * that row's byte offset into per-slot float64 arrays. A kernel called on [a, b) with `chunk` = b - a then
 * finds every sample's slots at the offset, wherever the piece starts.
 */
function overStatisticsChunks(o0: number, o1: number, chunk: number, groups: number, emit: (a: number, b: number, slotByteOffset: number) => void): void {
  for (let a = o0; a < o1;) {
    const row = Math.floor(a / chunk);
    const b = Math.min(o1, (row + 1) * chunk);
    emit(a, b, row * groups * 8);
    a = b;
  }
}

/** `count` split into at most `parts` contiguous ranges, every boundary a multiple of `multiple`. */
function pieces(count: number, parts: number, multiple: number): Array<readonly [number, number]> {
  const units = Math.ceil(count / multiple);
  const n = Math.max(1, Math.min(parts, units));
  const ranges: Array<readonly [number, number]> = [];
  for (let i = 0; i < n; i++) {
    const start = Math.min(count, Math.floor((units * i) / n) * multiple);
    const end = Math.min(count, Math.floor((units * (i + 1)) / n) * multiple);
    if (end > start) ranges.push([start, end]);
  }
  return ranges;
}

/** Row and column strides (in floats) of op(M) for a row-major `rows` x `cols` op(M), stored transposed when `transposed`. */
function strides(transposed: boolean, rows: number, cols: number): { row: number; col: number } {
  return transposed ? { row: 1, col: rows } : { row: cols, col: 1 };
}

/** Where a kernel sends its module calls: straight to the module, or into a thread-pool job. */
interface Calls {
  /** Starts a task; on the pool, `counter` (a byte offset of an int32 in the module's memory) counts it once done. */
  task(counter?: number): void;
  call(kernel: PoolKernel, args: ReadonlyArray<number | Scratch>): void;
}

/** An argument that is an offset into the running thread's own scratch region. */
interface Scratch {
  scratch: number;
}
function scratch(offset: number): Scratch {
  return { scratch: offset };
}

/** A thread-pool job: tasks, each a short list of module calls, each task writing its own outputs. */
class Job {
  readonly tasks: number[][] = [];

  /** Starts a task; `counter` (a byte offset into the module's memory, 0 for none) is incremented when it is done. */
  task(counter = 0): this {
    this.tasks.push([counter, 0]);
    return this;
  }

  call(kernel: PoolKernel, args: ReadonlyArray<number | Scratch>): this {
    const task = this.tasks[this.tasks.length - 1]!;
    let mask = 0;
    const values = args.map((arg, i) => {
      if (typeof arg === 'number') return arg;
      mask |= 1 << i;
      return arg.scratch;
    });
    task.push(POOL_KERNELS.indexOf(kernel), values.length, mask, ...values);
    task[1]!++;
    return this;
  }
}

/** Bytes of the edge tile a `convIndirect` call writes partial strips through (32 floats). */
const EDGE_TILE_BYTES = 128;

/**
 * Whether the indirect convolution suits a grid `gridW` wide: stride 1 along rows (a strip of 8 outputs
 * reads 8 contiguous floats per tap), and at least 3/4 of the strips' lanes in use (a 4-wide grid would
 * waste half of them; im2col packs its columns across rows).
 */
function indirectFits(strideW: number, gridW: number): boolean {
  return convolutionPaths.indirect && strideW === 1 && gridW * 4 >= Math.ceil(gridW / 8) * 8 * 3;
}

/**
 * Writes into `flipped` the weight of the convolution that gives dx from dy at stride 1: [inChannels,
 * outChannels / groups, kH, kW], each group's [outChannels/g, inChannels/g] block transposed and every window
 * flipped in both directions.
 */
function flipTransposedWeight(weight: TypedArray, flipped: Float32Array, groups: number, groupOutChannels: number, groupInChannels: number, taps: number): void {
  for (let g = 0; g < groups; g++) {
    for (let co = 0; co < groupOutChannels; co++) {
      for (let ci = 0; ci < groupInChannels; ci++) {
        const from = ((g * groupOutChannels + co) * groupInChannels + ci) * taps;
        const to = ((g * groupInChannels + ci) * groupOutChannels + co) * taps + taps - 1;
        for (let t = 0; t < taps; t++) flipped[to - t] = weight[from + t]!;
      }
    }
  }
}

/** Each tap's (channel, row, column of the window) byte offset into `channels` padded planes of paddedH x paddedW, in unfold order. */
function tapOffsets(view: Int32Array, channels: number, w: Conv2dForwardArgs['window'], paddedH: number, paddedW: number): void {
  let p = 0;
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < w.kernelH; i++) {
      for (let j = 0; j < w.kernelW; j++) view[p++] = ((c * paddedH + i * w.dilationH) * paddedW + j * w.dilationW) * 4;
    }
  }
}

function align(offset: number): number {
  return (offset + 15) & ~15;
}

/**
 * max|weight| + max|bias| (1 and 0 where absent; NaN values are skipped: a NaN parameter gives NaN on either
 * path): the bound the forward kernels' float32 affine guard needs, taken once per op rather than in every
 * streamed chunk's call.
 */
function parameterBound(weight: TypedArray | null, bias: TypedArray | null): number {
  return largestMagnitude(weight, 1) + largestMagnitude(bias, 0);
}

/** max |values[i]| over the values that are not NaN, or `absent` for no array. */
function largestMagnitude(values: TypedArray | null, absent: number): number {
  if (values === null) return absent;
  let largest = 0;
  for (let i = 0; i < values.length; i++) largest = Math.max(largest, Math.abs(values[i]!) || 0);
  return largest;
}

function isFloat32(...arrays: Array<TypedArray | null>): boolean {
  for (const a of arrays) if (a !== null && !(a instanceof Float32Array)) return false;
  return true;
}

/**
 * Builds the `wasm` kernel table on an instantiated module. Float32 data runs in WebAssembly with
 * SIMD128 (float64 statistics and arithmetic in f64x2 lanes, like the `js` loops); float64 data
 * goes to the `js` loops (no SIMD gain from two-lane float64 once the copies are paid).
 */
export function createWasmKernels(exports: KernelExports, memory: WebAssembly.Memory, pool: ThreadPool | null = null): KernelTable {
  const arena = new Arena(memory, exports.heapBase());
  const callable = exports as unknown as Record<PoolKernel, (...args: number[]) => void>;

  /** Threads for a call of `work` units: one below the kernel's threshold (small tensors skip the pool's overhead) or without a pool. */
  function threadsFor(work: number, threshold: number): number {
    return pool === null || work < threshold ? 1 : requestedThreads();
  }

  /**
   * Runs the module calls `emit` writes, grouped into tasks: straight away on this thread when
   * `threads` is 1, else as a job on the pool. Both paths make the same calls, so a kernel written
   * once through `emit` gives the same bits on any number of threads.
   */
  function run(threads: number, scratchBytes: number, emit: (calls: Calls) => void): void {
    if (threads <= 1) {
      const base = scratchBytes > 0 ? arena.reserve(scratchBytes) : 0;
      emit({
        task: () => undefined,
        call: (kernel, args) => callable[kernel](...args.map((arg) => (typeof arg === 'number' ? arg : base + arg.scratch))),
      });
      return;
    }
    const job = new Job();
    emit(job);
    arena.runJob(pool!, job, threads, scratchBytes);
  }

  /**
   * `run` with one task per range of [0, count) (boundaries at multiples of `multiple`): the whole
   * range on one thread, else a few ranges per thread so the work evens out.
   */
  function runRanges(threads: number, count: number, multiple: number, emit: (calls: Calls, start: number, end: number) => void): void {
    run(threads, 0, (calls) => {
      for (const [start, end] of pieces(count, threads <= 1 ? 1 : threads * TASKS_PER_THREAD, multiple)) {
        calls.task();
        emit(calls, start, end);
      }
    });
  }

  /** Units per chunk of a stream: whole multiples of `align` (except the last chunk), at least one multiple. */
  function unitsPerChunk(units: number, operands: ReadonlyArray<{ unitLength: number }>, chunkFloats: number, align: number): number {
    let widest = 1;
    for (const operand of operands) widest = Math.max(widest, operand.unitLength);
    return Math.min(units, align * Math.max(1, Math.floor(chunkFloats / widest / align)));
  }

  /**
   * One set of a stream's buffers for `perChunk` units: a buffer per input, and per output a buffer of
   * its own or input `inPlaceOf`'s; `copyIn` / `copyOut` move the chunk that starts at unit `u0`.
   */
  function streamBuffers(perChunk: number, units: number, inputs: readonly StreamOperand[], outputs: readonly StreamOutput[]) {
    const inputBuffers = inputs.map((operand) => arena.reserve(perChunk * operand.unitLength * 4));
    const outputBuffers = outputs.map((operand) =>
      operand.inPlaceOf === undefined ? arena.reserve(perChunk * operand.unitLength * 4) : inputBuffers[operand.inPlaceOf]!);
    const end = (u0: number) => Math.min(units, u0 + perChunk);
    return {
      inputBuffers,
      outputBuffers,
      copyIn(u0: number): void {
        inputs.forEach((operand, i) => arena.write(inputBuffers[i]!, operand.data.subarray(u0 * operand.unitLength, end(u0) * operand.unitLength)));
      },
      copyOut(u0: number): void {
        outputs.forEach((operand, i) => {
          if (operand.data !== null) {
            operand.data.set(arena.viewLike(operand.data, outputBuffers[i]!, (end(u0) - u0) * operand.unitLength), u0 * operand.unitLength);
          }
        });
      },
    };
  }

  /**
   * The one-thread path of a kernel whose units (rows, samples, planes) are independent: instead of
   * copying every operand in whole and every result out whole, chunks of whole units stream through
   * buffers small enough to stay in the core's cache. Each input is copied into its buffer; each output
   * gets a buffer of its own, or overwrites input `inPlaceOf`'s buffer (the kernel reads every element
   * before it writes it), and is copied out when its array is given. The kernel sees the same units in
   * the same order as one call over everything, so the result is the same to the bit; the memory
   * traffic is the unavoidable read of the inputs and write of the outputs.
   */
  function stream(
    units: number, inputs: readonly StreamOperand[], outputs: readonly StreamOutput[],
    call: (u0: number, u1: number, inputBuffers: readonly number[], outputBuffers: readonly number[]) => void,
  ): void {
    const perChunk = unitsPerChunk(units, [...inputs, ...outputs], STREAM_FLOATS, 1);
    const buffers = streamBuffers(perChunk, units, inputs, outputs);
    // Kernels may read a vector past their last element: keep a few bytes after the buffers in memory.
    arena.reserve(64);
    for (let u0 = 0; u0 < units; u0 += perChunk) {
      buffers.copyIn(u0);
      call(u0, Math.min(units, u0 + perChunk), buffers.inputBuffers, buffers.outputBuffers);
      buffers.copyOut(u0);
    }
  }

  /**
   * `stream` on `threads` threads: on one thread exactly `stream`; on more, a pipeline. Chunks alternate
   * between two sets of buffers, and one job on the pool holds the tasks of many chunks (each chunk split
   * into tasks at multiples of `align` units), released chunk by chunk: while the workers run chunk k, the
   * calling thread copies chunk k - 1's results out and chunk k + 1's operands in, releases chunk k + 1's
   * tasks, and claims whatever tasks of chunk k are left. So the copies, which only the calling thread can
   * make (the operands are its own arrays), overlap the kernels instead of adding to them, and a worker
   * that keeps up never sleeps between chunks. `emit` writes one task's calls for units [u0, u1) of the
   * chunk starting at unit `c0` (its buffers hold units from c0 on). The tasks and their calls do not
   * depend on the thread count beyond the partition, so the bits are those of one thread.
   */
  function streamOnThreads(
    threads: number, units: number, inputs: readonly StreamOperand[], outputs: readonly StreamOutput[], align: number,
    emit: (calls: Calls, u0: number, u1: number, c0: number, inputBuffers: readonly number[], outputBuffers: readonly number[]) => void,
  ): void {
    const tasks = (calls: Calls, c0: number, c1: number, inputBuffers: readonly number[], outputBuffers: readonly number[], counter = 0) => {
      for (const [start, end] of pieces(c1 - c0, threads <= 1 ? 1 : threads * TASKS_PER_THREAD, threads <= 1 ? 1 : align)) {
        calls.task(counter);
        emit(calls, c0 + start, c0 + end, c0, inputBuffers, outputBuffers);
      }
    };
    if (threads <= 1) {
      stream(units, inputs, outputs, (c0, c1, inputBuffers, outputBuffers) => run(1, 0, (calls) => tasks(calls, c0, c1, inputBuffers, outputBuffers)));
      return;
    }
    if (units === 0) return;
    const perChunk = unitsPerChunk(units, [...inputs, ...outputs], threadedStream.chunkFloats, align);
    const sets = Array.from({ length: PIPELINE_SETS }, () => streamBuffers(perChunk, units, inputs, outputs));
    arena.reserve(64);
    const setOf = (chunk: number) => sets[chunk % sets.length]!;
    const chunkCount = Math.ceil(units / perChunk);
    // Chunks per job: the claim word counts at most MAX_TASKS tasks, and a job's program stays small.
    const chunksPerJob = Math.max(1, Math.min(PIPELINE_CHUNKS, Math.floor(MAX_TASKS / (threads * TASKS_PER_THREAD))));
    for (let first = 0; first < chunkCount; first += chunksPerJob) {
      const last = Math.min(chunkCount, first + chunksPerJob);
      const counters = arena.reserve((last - first) * 4);
      arena.int32View(counters, last - first).fill(0);
      const job = new Job();
      /** Per chunk of this job: its tasks end before this index, and there are this many. */
      const ends: number[] = [];
      const counts: number[] = [];
      for (let chunk = first; chunk < last; chunk++) {
        const before = job.tasks.length;
        const c0 = chunk * perChunk;
        tasks(job, c0, Math.min(units, c0 + perChunk), setOf(chunk).inputBuffers, setOf(chunk).outputBuffers, counters + (chunk - first) * 4);
        ends.push(job.tasks.length);
        counts.push(job.tasks.length - before);
      }
      // Chunks [first, next) are copied in and their tasks released; the sets hold at most PIPELINE_SETS of them.
      let next = first;
      const admit = () => {
        setOf(next).copyIn(next * perChunk);
        pool!.release(ends[next - first]!);
        next++;
      };
      setOf(next).copyIn(next * perChunk);
      arena.startJob(pool!, job, threads, 0, ends[next++ - first]);
      runThenFinish(() => {
        while (next < last && next - first < sets.length) admit();
        for (let done = first; done < last; done++) {
          pool!.awaitCounter(counters + (done - first) * 4, counts[done - first]!, ends[done - first]!);
          setOf(done).copyOut(done * perChunk);
          // Chunk `done`'s set is free: the next chunk goes into it.
          if (next < last) admit();
        }
      });
    }
  }

  /**
   * Runs `body` while a started pool job is open, then finishes the job; an error of `body` is the one thrown
   * (the job is still finished first, so the pool is free again), else a failed task's.
   */
  function runThenFinish(body: () => void): void {
    try {
      body();
    } catch (error) {
      try {
        pool!.finish();
      } catch {
        // The body's error says more than the pool's.
      }
      throw error;
    }
    pool!.finish();
  }

  function rowwiseForward(args: RowwiseForwardArgs): void {
    const { x, out, weight, bias, rows, inner, center, eps, mask, count, mean, variance, rstd } = args;
    if (!isFloat32(x, weight, bias)) return jsKernels.rowwiseForward(args);
    arena.reset();
    const pw = weight ? arena.float32In(weight) : arena.float32Fill(inner, 1);
    const pb = bias ? arena.float32In(bias) : arena.float32Fill(inner, 0);
    const pmask = mask ? arena.maskIn(mask) : 0;
    const pcount = arena.reserve(rows * 8);
    const pmean = arena.reserve(rows * 8);
    const pvar = arena.reserve(rows * 8);
    const prstd = arena.reserve(rows * 8);
    const threads = threadsFor(x.length, parallelThresholds.rowwiseElements);
    const bound = parameterBound(weight, bias);
    streamOnThreads(threads, rows, [{ data: x, unitLength: inner }], [{ data: out, unitLength: inner, inPlaceOf: 0 }], 1, (calls, r0, r1, c0, [buffer]) => {
      const at = buffer! + (r0 - c0) * inner * 4;
      calls.call('rowwiseForward', [at, at, pw, pb, r1 - r0, inner, +center, eps, pmask ? pmask + r0 : 0,
        pcount + r0 * 8, pmean + r0 * 8, pvar + r0 * 8, prstd + r0 * 8, bound]);
    });
    arena.float64Out(pcount, count);
    arena.float64Out(pmean, mean);
    arena.float64Out(pvar, variance);
    arena.float64Out(prstd, rstd);
  }

  function rowwiseBackward(args: RowwiseBackwardArgs): void {
    const { gradOutput, x, weight, rows, inner, center, mask, mean, rstd, gradX, gradWeight, gradBias } = args;
    if (!isFloat32(gradOutput, x, weight, gradX)) return jsKernels.rowwiseBackward(args);
    arena.reset();
    const pw = weight ? arena.float32In(weight) : arena.float32Fill(inner, 1);
    const pmask = mask ? arena.maskIn(mask) : 0;
    const pmean = arena.float64In(mean);
    const prstd = arena.float64In(rstd);
    // dw and db are summed per block of rows (a fixed number of rows for a given row length, whatever
    // the thread count), then the blocks' sums are added in block order: the same float64 additions
    // on one thread or many, so the result is the same to the bit, and every thread runs the fused loop.
    const blockRows = Math.max(1, Math.ceil(ROWWISE_BLOCK_FLOATS / inner));
    const blocks = Math.ceil(rows / blockRows);
    const pgw = gradWeight ? arena.reserve(blocks * inner * 8) : 0;
    const pgb = gradBias ? arena.reserve(blocks * inner * 8) : 0;
    if (pgw !== 0) arena.float64Zero(pgw, blocks * inner);
    if (pgb !== 0) arena.float64Zero(pgb, blocks * inner);
    /** The kernel's arguments over rows [r0, r1) of one block, `gy`/`xs`/`gx` pointing at row r0. */
    const rowsOfBlock = (r0: number, r1: number, gy: number, xs: number, gx: number): number[] => {
      const block = Math.floor(r0 / blockRows);
      return [gy, xs, pw, r1 - r0, inner, +center, pmask ? pmask + r0 : 0, pmean + r0 * 8, prstd + r0 * 8, gx,
        pgw === 0 ? 0 : pgw + block * inner * 8, pgb === 0 ? 0 : pgb + block * inner * 8];
    };
    const threads = threadsFor(x.length, parallelThresholds.rowwiseBackwardElements);
    // dx overwrites dy in its buffer (each element read before it is written). On threads, tasks hold
    // whole blocks (no two tasks add into one block's sums); on one thread, chunks split at block edges.
    const inputs = [{ data: gradOutput, unitLength: inner }, { data: x, unitLength: inner }];
    streamOnThreads(threads, rows, inputs, [{ data: gradX, unitLength: inner, inPlaceOf: 0 }], blockRows, (calls, u0, u1, c0, [gy, xs]) => {
      // Two tasks adding into one block's sums at once would race: an invariant, checked.
      if (threads > 1 && u0 % blockRows !== 0) throw new Error(`normkit wasm rowwiseBackward: a task starts at row ${u0}, inside a block of ${blockRows} rows`);
      for (let r0 = u0; r0 < u1;) {
        const r1 = Math.min(u1, (Math.floor(r0 / blockRows) + 1) * blockRows);
        const at = (r0 - c0) * inner * 4;
        calls.call('rowwiseBackward', rowsOfBlock(r0, r1, gy! + at, xs! + at, gradX ? gy! + at : 0));
        r0 = r1;
      }
    });
    for (const [at, target] of [[pgw, gradWeight], [pgb, gradBias]] as const) {
      if (at === 0 || target === null || target === undefined) continue;
      const partials = arena.float64View(at, blocks * inner);
      const total = new Float64Array(inner);
      for (let block = 0; block < blocks; block++) {
        for (let j = 0; j < inner; j++) total[j]! += partials[block * inner + j]!;
      }
      for (let j = 0; j < inner; j++) target[j]! += total[j]!;
    }
  }

  function slotwiseForward(args: SlotwiseForwardArgs): void {
    const { x, out, weight, bias, threshold, slots, groups, inner, block, center, eps, mean, variance, rstd } = args;
    if (!isFloat32(x, weight, bias, threshold)) return jsKernels.slotwiseForward(args);
    const params = (groups * inner) / block;
    arena.reset();
    const pw = weight ? arena.float32In(weight) : arena.float32Fill(params, 1);
    const pb = bias ? arena.float32In(bias) : arena.float32Fill(params, 0);
    const pth = threshold ? arena.float32In(threshold) : 0;
    const pmean = arena.reserve(slots * 8);
    const pvar = arena.reserve(slots * 8);
    const prstd = arena.reserve(slots * 8);
    // Whole samples per task or chunk, so each call's first slot is group 0.
    const bound = parameterBound(weight, bias);
    const threads = threadsFor(x.length, parallelThresholds.slotwiseElements);
    const sample = groups * inner;
    streamOnThreads(threads, slots / groups, [{ data: x, unitLength: sample }], [{ data: out, unitLength: sample, inPlaceOf: 0 }], 1, (calls, o0, o1, c0, [buffer]) => {
      const s0 = o0 * groups;
      const at = buffer! + (o0 - c0) * sample * 4;
      calls.call('slotwiseForward', [at, at, pw, pb, pth, (o1 - o0) * groups, groups, inner, block, +center, eps, pmean + s0 * 8, pvar + s0 * 8, prstd + s0 * 8,
        bound]);
    });
    arena.float64Out(pmean, mean);
    arena.float64Out(pvar, variance);
    arena.float64Out(prstd, rstd);
  }

  function slotwiseBackward(args: SlotwiseBackwardArgs): void {
    const {
      gradOutput, x, weight, bias, threshold, slots, groups, inner, block, center, mean, rstd, gradX, gradWeight, gradBias, gradThreshold,
      dxhatXhat,
    } = args;
    if (!isFloat32(gradOutput, x, weight, bias, threshold, gradX)) return jsKernels.slotwiseBackward(args);
    const params = (groups * inner) / block;
    arena.reset();
    const pw = weight ? arena.float32In(weight) : arena.float32Fill(params, 1);
    const pb = bias ? arena.float32In(bias) : arena.float32Fill(params, 0);
    const pth = threshold ? arena.float32In(threshold) : 0;
    const pmean = arena.float64In(mean);
    const prstd = arena.float64In(rstd);
    const pgw = gradWeight ? arena.reserve(params * 8) : 0;
    const pgb = gradBias ? arena.reserve(params * 8) : 0;
    const pgth = gradThreshold ? arena.reserve(params * 8) : 0;
    const pdx = arena.reserve(slots * 8);
    const threads = threadsFor(x.length, parallelThresholds.slotwiseElements);
    // One thread adds the parameter terms into the sums as it goes; threads write them per slot, added
    // in slot order afterwards: the same additions in the same order.
    const blocks = inner / block;
    const partials = threads > 1 ? arena.reserve(slots * blocks * 3 * 8) : 0;
    for (const at of [pgw, pgb, pgth]) if (at !== 0) arena.float64Zero(at, params);
    // dx (and, with a threshold, the gated dy parked between the passes) overwrites dy in its buffer.
    const sample = groups * inner;
    const streamed = [{ data: gradOutput, unitLength: sample }, { data: x, unitLength: sample }];
    streamOnThreads(threads, slots / groups, streamed, [{ data: gradX, unitLength: sample, inPlaceOf: 0 }], 1, (calls, o0, o1, c0, [gy, xs]) => {
      const s0 = o0 * groups;
      const at = (o0 - c0) * sample * 4;
      const sums = partials === 0 ? [pgw, pgb, pgth, pdx + s0 * 8, 0] : [0, 0, 0, pdx + s0 * 8, partials + s0 * blocks * 24];
      calls.call('slotwiseBackward', [gy! + at, xs! + at, pw, pb, pth, (o1 - o0) * groups, groups, inner, block, +center, pmean + s0 * 8, prstd + s0 * 8,
        gy! + at, +(gradX !== null), ...sums]);
    });
    if (partials !== 0) {
      const terms = arena.float64View(partials, slots * blocks * 3);
      const accumulators = [pgw, pgb, pgth].map((at) => (at === 0 ? null : arena.float64View(at, params)));
      for (let s = 0; s < slots; s++) {
        const paramBase = (s % groups) * blocks;
        for (let q = 0; q < blocks; q++) {
          for (let t = 0; t < 3; t++) {
            const target = accumulators[t];
            if (target) target[paramBase + q]! += terms[(s * blocks + q) * 3 + t]!;
          }
        }
      }
    }
    if (gradWeight) addFloat64Out(arena, pgw, gradWeight);
    if (gradBias) addFloat64Out(arena, pgb, gradBias);
    if (gradThreshold) addFloat64Out(arena, pgth, gradThreshold);
    arena.float64Out(pdx, dxhatXhat);
  }

  /**
   * The batch layout's statistics, from per-(sample, group) terms the kernels wrote at `terms`: added into
   * `target` in sample order, as the one-call loop adds them ([counts..., sums...] when `count`, else sums).
   */
  function addBatchTerms(terms: number, target: number, args: { outer: number; groups: number; inner: number; chunk: number; slots: number }, count: boolean): void {
    const { outer, groups, inner, chunk, slots } = args;
    const values = arena.float64View(terms, outer * groups);
    const sums = arena.float64View(target, count ? 2 * slots : slots).fill(0);
    const offset = count ? slots : 0;
    for (let o = 0; o < outer; o++) {
      const slotBase = Math.floor(o / chunk) * groups;
      for (let g = 0; g < groups; g++) {
        if (count) sums[slotBase + g]! += inner;
        sums[offset + slotBase + g]! += values[o * groups + g]!;
      }
    }
  }

  /**
   * The batch layout's statistics (counts and sums, then squared deviations), or the fixed ones, finished as
   * the js kernel finishes them, and rstd. `termsPass` runs one pass of `batchSums` / `batchSquares` and leaves the
   * per-slot result at `target`; the all-reduce hook (SyncBatchNorm) sees each pass's sums.
   */
  function batchStatistics(
    args: BatchForwardArgs,
    termsPass: (kernel: 'batchSums' | 'batchSquares', leading: (slotByteOffset: number) => number[], target: number, count: boolean) => void,
  ): BatchForwardResult {
    const statistics = batchMoments(args, termsPass);
    const rstd = new Float64Array(args.slots);
    for (let s = 0; s < args.slots; s++) rstd[s] = 1 / Math.sqrt(statistics.variance[s]! + args.eps);
    return { statistics, rstd };
  }

  /** `batchStatistics` before rstd: counts, means and variances per slot. */
  function batchMoments(
    args: BatchForwardArgs,
    termsPass: (kernel: 'batchSums' | 'batchSquares', leading: (slotByteOffset: number) => number[], target: number, count: boolean) => void,
  ) {
    const { slots, center, fixed, allReduce } = args;
    if (fixed) return { count: new Float64Array(slots), mean: fixed.mean, variance: fixed.variance };
    const psums = arena.reserve(2 * slots * 8);
    termsPass('batchSums', () => [+center], psums, true);
    const sums = new Float64Array(2 * slots);
    arena.float64Out(psums, sums);
    allReduce?.(sums);
    const mean = new Float64Array(slots);
    let squares: Float64Array | null = null;
    if (center) {
      for (let s = 0; s < slots; s++) mean[s] = sums[s]! > 0 ? sums[slots + s]! / sums[s]! : 0;
      const pmeanIn = arena.float64In(mean);
      const psquares = arena.reserve(slots * 8);
      termsPass('batchSquares', (slotByteOffset) => [pmeanIn + slotByteOffset], psquares, false);
      squares = new Float64Array(slots);
      arena.float64Out(psquares, squares);
      allReduce?.(squares);
    }
    return finishBatchStatistics(sums, squares, mean, slots);
  }

  function batchForward(args: BatchForwardArgs): BatchForwardResult {
    const { x, weight, bias } = args;
    if (!isFloat32(x, weight, bias)) return jsKernels.batchForward(args);
    return args.inner > 1 ? batchForwardStreamed(args) : batchForwardColumns(args);
  }

  /**
   * BatchNorm over planes (inner > 1: BatchNorm2d, 3d, GhostBatchNorm): each pass (sums, squared deviations,
   * affine) streams whole samples through the module, on threads as a pipeline, with the terms written per
   * (sample, group) and added in sample order (the one-call loop's additions: same bits at any thread count).
   * Reading x once per pass from the caller's array moves less memory than copying it in whole and then
   * passing over a module copy that no cache holds.
   */
  function batchForwardStreamed(args: BatchForwardArgs): BatchForwardResult {
    const { x, out, weight, bias, outer, groups, inner, chunk } = args;
    arena.reset();
    const pw = weight ? arena.float32In(weight) : arena.float32Fill(groups, 1);
    const pb = bias ? arena.float32In(bias) : arena.float32Fill(groups, 0);
    const threads = threadsFor(x.length, parallelThresholds.batchElements);
    const sample = groups * inner;
    const terms = arena.reserve(outer * groups * 8);
    const { statistics, rstd } = batchStatistics(args, (kernel, leading, target, count) => {
      streamOnThreads(threads, outer, [{ data: x, unitLength: sample }], [], 1, (calls, o0, o1, c0, [buffer]) => {
        overStatisticsChunks(o0, o1, chunk, groups, (a, b, slotByteOffset) => calls.call(kernel, [buffer! + (a - c0) * sample * 4, b - a, groups, inner, b - a,
          args.slots, ...leading(slotByteOffset), 0, terms + a * groups * 8]));
      });
      addBatchTerms(terms, target, args, count);
    });
    const pmean = arena.float64In(statistics.mean);
    const prstd = arena.float64In(rstd);
    streamOnThreads(threads, outer, [{ data: x, unitLength: sample }], [{ data: out, unitLength: sample, inPlaceOf: 0 }], 1, (calls, o0, o1, c0, [buffer]) => {
      overStatisticsChunks(o0, o1, chunk, groups, (a, b, slotByteOffset) => {
        const at = buffer! + (a - c0) * sample * 4;
        calls.call('batchForward', [at, at, pw, pb, b - a, groups, inner, b - a, pmean + slotByteOffset, prstd + slotByteOffset]);
      });
    });
    return { statistics, rstd };
  }

  /** BatchNorm over [N, C] features (inner 1): x copied in whole, the loops along each row of channels. */
  function batchForwardColumns(args: BatchForwardArgs): BatchForwardResult {
    const { x, out, weight, bias, outer, groups, inner, chunk, slots } = args;
    arena.reset();
    const px = arena.float32In(x);
    const pout = arena.reserve(x.length * 4);
    const pw = weight ? arena.float32In(weight) : arena.float32Fill(groups, 1);
    const pb = bias ? arena.float32In(bias) : arena.float32Fill(groups, 0);
    const threads = threadsFor(x.length, parallelThresholds.batchElements);
    const outerPieces = pieces(outer, threads <= 1 ? 1 : threads * TASKS_PER_THREAD, chunk);
    const terms = threads <= 1 ? 0 : arena.reserve(outer * groups * 8);
    /** One pass of a batch-wise statistic: the loop itself on one thread, else per-run terms by tasks then added in order of `o`. */
    const { statistics, rstd } = batchStatistics(args, (kernel, leading, target, count) => {
      if (threads <= 1) {
        callable[kernel](px, outer, groups, inner, chunk, slots, ...leading(0), target, 0);
        return;
      }
      run(threads, 0, (calls) => {
        for (const [o0, o1] of outerPieces) {
          calls.task();
          calls.call(kernel, [px + o0 * groups * inner * 4, o1 - o0, groups, inner, chunk, slots, ...leading((o0 / chunk) * groups * 8), target, terms + o0 * groups * 8]);
        }
      });
      addBatchTerms(terms, target, args, count);
    });
    const pmean = arena.float64In(statistics.mean);
    const prstd = arena.float64In(rstd);
    run(threads, 0, (calls) => {
      for (const [o0, o1] of outerPieces) {
        const slotOffset = (o0 / chunk) * groups * 8;
        calls.task();
        calls.call('batchForward', [px + o0 * groups * inner * 4, pout + o0 * groups * inner * 4, pw, pb, o1 - o0, groups, inner, chunk,
          pmean + slotOffset, prstd + slotOffset]);
      }
    });
    arena.float32Out(pout, out);
    return { statistics, rstd };
  }

  function batchBackward(args: BatchBackwardArgs): void {
    const { gradOutput, x, weight, gradX } = args;
    if (!isFloat32(gradOutput, x, weight, gradX)) return jsKernels.batchBackward(args);
    return args.inner > 1 ? batchBackwardStreamed(args) : batchBackwardColumns(args);
  }

  /**
   * dw, db and the per-slot reductions from the per-(sample, group) terms [dw, db, reduction, reduction of
   * xhat] at `terms`, added in sample order as the one-call loop adds them; then the all-reduce hook.
   */
  function addBatchBackwardTerms(terms: number, pgw: number, pgb: number, pred: number, args: BatchBackwardArgs): void {
    const { outer, groups, chunk, slots } = args;
    const values = arena.float64View(terms, outer * groups * 4);
    const gradW = pgw === 0 ? null : arena.float64View(pgw, groups).fill(0);
    const gradB = pgb === 0 ? null : arena.float64View(pgb, groups).fill(0);
    const reductions = arena.float64View(pred, 2 * slots).fill(0);
    for (let o = 0; o < outer; o++) {
      const slotBase = Math.floor(o / chunk) * groups;
      for (let g = 0; g < groups; g++) {
        const t = (o * groups + g) * 4;
        if (gradW) gradW[g]! += values[t]!;
        if (gradB) gradB[g]! += values[t + 1]!;
        reductions[slotBase + g]! += values[t + 2]!;
        reductions[slots + slotBase + g]! += values[t + 3]!;
      }
    }
  }

  /** Adds dw and db into the caller's arrays, and runs the all-reduce hook on the reductions (written back where the input pass reads them). */
  function finishBatchReductions(pgw: number, pgb: number, pred: number, args: BatchBackwardArgs): void {
    const { slots, fixed, allReduce, gradWeight, gradBias } = args;
    if (gradWeight) addFloat64Out(arena, pgw, gradWeight);
    if (gradBias) addFloat64Out(arena, pgb, gradBias);
    if (!fixed && allReduce) {
      const reductions = new Float64Array(2 * slots);
      arena.float64Out(pred, reductions);
      allReduce(reductions);
      arena.float64Write(pred, reductions);
    }
  }

  /** What both batch backwards place in the module first: weight, statistics, gradient accumulators, and the thread count. */
  function batchBackwardOperands(args: BatchBackwardArgs) {
    const { x, weight, groups, slots, count, mean, rstd, gradWeight, gradBias } = args;
    return {
      pw: weight ? arena.float32In(weight) : arena.float32Fill(groups, 1),
      pcount: arena.float64In(count),
      pmean: arena.float64In(mean),
      prstd: arena.float64In(rstd),
      pgw: gradWeight ? arena.reserve(groups * 8) : 0,
      pgb: gradBias ? arena.reserve(groups * 8) : 0,
      pred: arena.reserve(2 * slots * 8),
      threads: threadsFor(x.length, parallelThresholds.batchElements),
    };
  }

  /** The backward of `batchForwardStreamed`: a pass for the reductions, a pass for dx (written over dy's buffer), both streamed. */
  function batchBackwardStreamed(args: BatchBackwardArgs): void {
    const { gradOutput, x, outer, groups, inner, chunk, slots, center, fixed, gradX } = args;
    arena.reset();
    const { pw, pcount, pmean, prstd, pgw, pgb, pred, threads } = batchBackwardOperands(args);
    const sample = groups * inner;
    const terms = arena.reserve(outer * groups * 4 * 8);
    const streamed = [{ data: gradOutput, unitLength: sample }, { data: x, unitLength: sample }];
    streamOnThreads(threads, outer, streamed, [], 1, (calls, o0, o1, c0, [gy, xs]) => {
      overStatisticsChunks(o0, o1, chunk, groups, (a, b, slotByteOffset) => {
        const at = (a - c0) * sample * 4;
        calls.call('batchBackwardReductions', [gy! + at, xs! + at, pw, b - a, groups, inner, b - a, slots, pmean + slotByteOffset, prstd + slotByteOffset,
          0, 0, 0, terms + a * groups * 32]);
      });
    });
    addBatchBackwardTerms(terms, pgw, pgb, pred, args);
    finishBatchReductions(pgw, pgb, pred, args);
    if (!gradX) return;
    streamOnThreads(threads, outer, streamed, [{ data: gradX, unitLength: sample, inPlaceOf: 0 }], 1, (calls, o0, o1, c0, [gy, xs]) => {
      overStatisticsChunks(o0, o1, chunk, groups, (a, b, slotByteOffset) => {
        const at = (a - c0) * sample * 4;
        // `slots` stays the whole count: the second half of the reductions sits `slots` after the first.
        calls.call('batchBackwardInput', [gy! + at, xs! + at, gy! + at, pw, b - a, groups, inner, b - a, slots, +center, +fixed,
          pcount + slotByteOffset, pmean + slotByteOffset, prstd + slotByteOffset, pred + slotByteOffset]);
      });
    });
  }

  /** The backward of `batchForwardColumns`: operands copied in whole, the loops along each row of channels. */
  function batchBackwardColumns(args: BatchBackwardArgs): void {
    const { gradOutput, x, outer, groups, inner, chunk, slots, center, fixed, gradX } = args;
    arena.reset();
    const pgy = arena.float32In(gradOutput);
    const px = arena.float32In(x);
    const { pw, pcount, pmean, prstd, pgw, pgb, pred, threads } = batchBackwardOperands(args);
    const outerPieces = pieces(outer, threads <= 1 ? 1 : threads * TASKS_PER_THREAD, chunk);
    if (threads <= 1) {
      exports.batchBackwardReductions(pgy, px, pw, outer, groups, inner, chunk, slots, pmean, prstd, pgw, pgb, pred, 0);
    } else {
      const terms = arena.reserve(outer * groups * 4 * 8);
      run(threads, 0, (calls) => {
        for (const [o0, o1] of outerPieces) {
          const slotOffset = (o0 / chunk) * groups * 8;
          calls.task();
          calls.call('batchBackwardReductions', [pgy + o0 * groups * inner * 4, px + o0 * groups * inner * 4, pw, o1 - o0, groups, inner, chunk, slots,
            pmean + slotOffset, prstd + slotOffset, 0, 0, 0, terms + o0 * groups * 32]);
        }
      });
      addBatchBackwardTerms(terms, pgw, pgb, pred, args);
    }
    finishBatchReductions(pgw, pgb, pred, args);
    if (!gradX) return;
    const pgx = arena.reserve(x.length * 4);
    run(threads, 0, (calls) => {
      for (const [o0, o1] of outerPieces) {
        const slotOffset = (o0 / chunk) * groups * 8;
        calls.task();
        // `slots` stays the whole count: the second half of `reductions` sits `slots` after the first.
        calls.call('batchBackwardInput', [pgy + o0 * groups * inner * 4, px + o0 * groups * inner * 4, pgx + o0 * groups * inner * 4, pw, o1 - o0,
          groups, inner, chunk, slots, +center, +fixed, pcount + slotOffset, pmean + slotOffset, prstd + slotOffset, pred + slotOffset]);
      }
    });
    arena.float32Out(pgx, gradX);
  }

  const gemmWorkBytes = exports.gemmWorkFloats() * 4;

  function gemm(args: GemmArgs): void {
    const { a, aOffset, transA, b, bOffset, transB, c, cOffset, m, k, n, overwrite = false, bias = null } = args;
    // Below this many multiply-adds the copies and the call cost more than the loops save.
    if (!isFloat32(a, b, c) || (bias && !isFloat32(bias)) || m * n * k < GEMM_MIN_WORK) return jsKernels.gemm(args);
    arena.reset();
    const pa = arena.float32In(a.subarray(aOffset, aOffset + m * k));
    const pb = arena.float32In(b.subarray(bOffset, bOffset + k * n));
    // An overwritten C is not copied in: the module's first k block writes every element (k > 0 here).
    const pc = overwrite ? arena.reserve(m * n * 4) : arena.float32In(c.subarray(cOffset, cOffset + m * n));
    const opA = strides(transA, m, k);
    const opB = strides(transB, k, n);
    const threads = threadsFor(m * n * k, parallelThresholds.gemmWork);
    run(threads, gemmWorkBytes, (calls) => {
      // Blocks of C: every element is summed in the same order whichever block holds it. Each task
      // packs all of the operand it does not split, so split the one whose partner is smaller: by
      // columns when A (m x k) is the smaller, else by rows; two blocks per thread.
      const byColumns = m * k <= k * n;
      const rowBlocks = threads <= 1 || byColumns ? [[0, m] as const] : pieces(m, threads * 2, 4);
      const columnBlocks = threads <= 1 || !byColumns ? [[0, n] as const] : pieces(n, threads * 2, 8);
      for (const [i0, i1] of rowBlocks) {
        for (const [j0, j1] of columnBlocks) {
          calls.task();
          calls.call('gemm', [pa + i0 * opA.row * 4, opA.row, opA.col, pb + j0 * opB.col * 4, opB.row, opB.col, pc + (i0 * n + j0) * 4, n, i1 - i0, k, j1 - j0,
            scratch(0), +overwrite]);
        }
      }
    });
    // The bias joins in the module, before the one copy out.
    if (bias) exports.addRowBias(pc, arena.float32In(bias), m, n);
    arena.float32Out(pc, c.subarray(cOffset, cOffset + m * n));
  }

  /**
   * `gemm` per entry of a batch, the entries' blocks of A, B and C copied into the module by groups of
   * at most GEMM_BATCH_GROUP_BYTES (each block once per group, however many entries use it) and C's
   * blocks copied out once per group: per-entry `gemm` calls paid the copies and the call setup per
   * entry (attention's many small products). Which loops an entry gets depends on its size only, never
   * on the batch around it: below GEMM_BATCH_ENTRY_MIN_WORK multiply-adds the js loops, above it the
   * module call `gemm` makes for the entry on one thread, so entries `gemm` would also send to the module
   * (from GEMM_MIN_WORK) get its bits. A single product, and products sharing one C block that are large
   * enough for threads, go through `gemm` itself, which splits each into blocks of C over the pool (the
   * same bits at any thread count). Otherwise entries writing distinct blocks of C spread over threads,
   * and entries sharing one (a broadcast operand's gradient) accumulate in entry order on one thread.
   */
  function gemmBatch(args: GemmBatchArgs): void {
    const { a, transA, b, transB, c, m, k, n, aOffsets, bOffsets, cOffsets } = args;
    const count = cOffsets.length;
    const work = m * n * k;
    if (!isFloat32(a, b, c) || count === 0 || work < GEMM_BATCH_ENTRY_MIN_WORK) return jsKernels.gemmBatch(args);
    let distinct = true;
    for (let i = 1; i < count && distinct; i++) distinct = cOffsets[i]! > cOffsets[i - 1]!;
    // One product, or products into one C block (in entry order), large enough for threads: `gemm`
    // splits each into blocks of C over the pool, which spreading entries over threads cannot.
    if ((count === 1 || !distinct) && work >= parallelThresholds.gemmWork) {
      for (let i = 0; i < count; i++) gemm({ a, aOffset: aOffsets[i]!, transA, b, bOffset: bOffsets[i]!, transB, c, cOffset: cOffsets[i]!, m, k, n });
      return;
    }
    const opA = strides(transA, m, k);
    const opB = strides(transB, k, n);
    const blockBytes = (m * k + k * n + m * n) * 4;
    const perGroup = Math.max(1, Math.floor(GEMM_BATCH_GROUP_BYTES / blockBytes));
    for (let e0 = 0; e0 < count; e0 += perGroup) {
      const e1 = Math.min(count, e0 + perGroup);
      arena.reset();
      const [pa, pb, pc] = [placeBlocks(a, aOffsets, m * k, e0, e1), placeBlocks(b, bOffsets, k * n, e0, e1), placeBlocks(c, cOffsets, m * n, e0, e1)];
      const calls: Array<[number, number, number, number, number, number, number, number, number, number, number]> = [];
      for (let i = e0; i < e1; i++) calls.push([pa.at(i), opA.row, opA.col, pb.at(i), opB.row, opB.col, pc.at(i), n, m, k, n]);
      const threads = distinct ? threadsFor(calls.length * work, parallelThresholds.gemmWork) : 1;
      if (threads <= 1) {
        const scratchOffset = arena.reserve(gemmWorkBytes);
        for (const call of calls) exports.gemm(...call, scratchOffset, 0);
      } else {
        run(threads, gemmWorkBytes, (job) => {
          for (const [t0, t1] of pieces(calls.length, threads * TASKS_PER_THREAD, 1)) {
            job.task();
            for (let t = t0; t < t1; t++) job.call('gemm', [...calls[t]!, scratch(0), 0]);
          }
        });
      }
      pc.copyOut(c);
    }
  }

  /**
   * The blocks `offsets[e0..e1)` of `source` (each `size` long) in the module, each distinct block once:
   * one copy when they are consecutive (an operand of the full batch), else block by block (a broadcast
   * operand repeats blocks; a broadcast operand's gradient accumulates entries into one C block).
   */
  function placeBlocks(source: TypedArray, offsets: Int32Array, size: number, e0: number, e1: number): { at(entry: number): number; copyOut(target: TypedArray): void } {
    let consecutive = true;
    for (let e = e0 + 1; e < e1 && consecutive; e++) consecutive = offsets[e]! === offsets[e0]! + (e - e0) * size;
    if (consecutive) {
      const first = offsets[e0]!;
      const base = arena.float32In(source.subarray(first, first + (e1 - e0) * size));
      return {
        at: (entry) => base + (entry - e0) * size * 4,
        copyOut: (target) => target.set(arena.viewLike(target, base, (e1 - e0) * size), first),
      };
    }
    const placed = new Map<number, number>();
    for (let e = e0; e < e1; e++) {
      const offset = offsets[e]!;
      if (!placed.has(offset)) placed.set(offset, arena.float32In(source.subarray(offset, offset + size)));
    }
    return {
      at: (entry) => placed.get(offsets[entry]!)!,
      copyOut: (target) => {
        for (const [offset, at] of placed) target.set(arena.viewLike(target, at, size), offset);
      },
    };
  }

  /**
   * conv2d forward as one module call sequence: x and the weight are copied in once, every sample is
   * unfolded (im2col) and multiplied (gemm) inside the module, and the output is copied out once.
   */
  /**
   * A convolution's operands for `convIndirect`: the weight (rows of `groups` x `rows` output channels,
   * `channels` x kH x kW taps each, at `pweight` in the module) packed into 4-row panels per group, and
   * each tap's byte offset into a padded image of `paddedH` x `paddedW` planes.
   */
  function indirectPlan(pweight: number, groups: number, rows: number, channels: number, w: Conv2dForwardArgs['window'], paddedH: number,
    paddedW: number): IndirectPlan {
    const k = channels * w.kernelH * w.kernelW;
    const groupPanelBytes = Math.ceil(rows / 4) * 4 * k * 4;
    const panels = arena.reserve(groups * groupPanelBytes);
    for (let g = 0; g < groups; g++) exports.packRows(pweight + g * rows * k * 4, rows, k, panels + g * groupPanelBytes);
    const offsets = arena.reserve(k * 4);
    tapOffsets(arena.int32View(offsets, k), channels, w, paddedH, paddedW);
    return { panels, groupPanelBytes, offsets };
  }

  function conv2dForward(args: Conv2dForwardArgs): void {
    const { x, weight, bias, out, batch, inChannels, height, width, outChannels, groups, window: w, outH, outW } = args;
    const groupInChannels = inChannels / groups;
    const groupOutChannels = outChannels / groups;
    const patch = groupInChannels * w.kernelH * w.kernelW;
    const plane = outH * outW;
    const inPlane = height * width;
    const depthwise = isDepthwise(args);
    const work = depthwise ? batch * outChannels * patch * plane : groupOutChannels * patch * plane;
    if (!isFloat32(x, weight, bias, out) || work < GEMM_MIN_WORK) return jsKernels.conv2dForward(args);
    arena.reset();
    const px = arena.float32In(x);
    const pw = arena.float32In(weight);
    const pout = arena.reserve(out.length * 4);
    const output = arena.float32View(pout, out.length);
    for (let n = 0; n < batch; n++) {
      const outBase = n * outChannels * plane;
      for (let c = 0; c < outChannels; c++) output.fill(bias === null ? 0 : bias[c]!, outBase + c * plane, outBase + (c + 1) * plane);
    }
    if (depthwise) {
      // Channel blocks per task, every sample in each: a channel's taps always add in the same order.
      runRanges(threadsFor(batch * outChannels * patch * plane, parallelThresholds.gemmWork), inChannels, 1, (calls, c0, c1) => {
        for (let n = 0; n < batch; n++) {
          calls.call('depthwiseForward', [px + (n * inChannels + c0) * inPlane * 4, pw + c0 * patch * 4, pout + (n * outChannels + c0) * plane * 4, c1 - c0,
            height, width, w.kernelH, w.kernelW, w.strideH, w.strideW, w.padH, w.padW, w.dilationH, w.dilationW, outH, outW]);
        }
      });
      arena.float32Out(pout, out);
      return;
    }
    // A 1x1 convolution with stride 1 and no padding multiplies the input planes as they are: no im2col.
    const pointwise = isPointwise(w);
    if (!pointwise && indirectFits(w.strideW, outW)) {
      // One task per sample: pad it into the thread's scratch and multiply, per group, reading the
      // unfolded input from the padded planes.
      const paddedH = height + 2 * w.padH;
      const paddedW = width + 2 * w.padW;
      const plan = indirectPlan(pw, groups, groupOutChannels, groupInChannels, w, paddedH, paddedW);
      convolutionPaths.calls.forward++;
      const imageBytes = align((inChannels * paddedH * paddedW + INDIRECT_SLACK_FLOATS) * 4);
      run(threadsFor(batch * outChannels * patch * plane, parallelThresholds.gemmWork), imageBytes + EDGE_TILE_BYTES, (calls) => {
        for (let n = 0; n < batch; n++) {
          calls.task();
          calls.call('padPlanes', [px + n * inChannels * inPlane * 4, inChannels, height, width, w.padH, w.padW, scratch(0)]);
          for (let g = 0; g < groups; g++) {
            calls.call('convIndirect', [plan.panels + g * plan.groupPanelBytes, groupOutChannels, patch, scratch(g * groupInChannels * paddedH * paddedW * 4),
              plan.offsets, w.strideH * paddedW * 4, outH, outW, pout + (n * outChannels + g * groupOutChannels) * plane * 4, plane, scratch(imageBytes), 0]);
          }
        }
      });
      arena.float32Out(pout, out);
      return;
    }
    const colBytes = pointwise ? 0 : align(patch * plane * 4);
    // One task per sample: unfold it (im2col into the thread's scratch) and multiply, per group.
    run(threadsFor(batch * outChannels * patch * plane, parallelThresholds.gemmWork), colBytes + gemmWorkBytes, (calls) => {
      for (let n = 0; n < batch; n++) {
        calls.task();
        for (let g = 0; g < groups; g++) {
          const xOffset = (n * inChannels + g * groupInChannels) * inPlane;
          if (!pointwise) {
            calls.call('im2col', [px + xOffset * 4, groupInChannels, height, width, w.kernelH, w.kernelW, w.strideH, w.strideW, w.padH, w.padW,
              w.dilationH, w.dilationW, outH, outW, scratch(0)]);
          }
          calls.call('gemm', [pw + g * groupOutChannels * patch * 4, patch, 1, pointwise ? px + xOffset * 4 : scratch(0), plane, 1,
            pout + (n * outChannels + g * groupOutChannels) * plane * 4, plane, groupOutChannels, patch, plane, scratch(colBytes), 0]);
        }
      }
    });
    arena.float32Out(pout, out);
  }

  /**
   * conv2d backward inside the module, one task per (group, block of input channels): for every
   * sample in order, the block's rows of the unfolded input give its columns of dW (summed over
   * samples in order), and its rows of W^T dy fold back (col2im) into its channels of dx. Tasks
   * write disjoint parts of dW and dx, and each element is summed in the same order whatever the
   * blocks, so any thread count gives the same bits.
   */
  function conv2dBackward(args: Conv2dBackwardArgs): void {
    const { gradOutput, x, weight, gradX, gradWeight, batch, inChannels, height, width, outChannels, groups, window: w, outH, outW } = args;
    const groupInChannels = inChannels / groups;
    const groupOutChannels = outChannels / groups;
    const taps = w.kernelH * w.kernelW;
    const patch = groupInChannels * taps;
    const plane = outH * outW;
    const inPlane = height * width;
    const depthwise = isDepthwise(args);
    const work = depthwise ? batch * outChannels * patch * plane : groupOutChannels * patch * plane;
    if (!isFloat32(gradOutput, x, weight, gradX, gradWeight) || work < GEMM_MIN_WORK) {
      return jsKernels.conv2dBackward(args);
    }
    arena.reset();
    const pgy = arena.float32In(gradOutput);
    const px = gradWeight && x ? arena.float32In(x) : 0;
    const pw = arena.float32In(weight);
    const pointwise = isPointwise(w);
    // For stride 1, dx is the convolution of dy, padded by d (k - 1) - p, with the weight flipped and
    // transposed: the forward's indirect loop, one task per sample, writing dx in full, instead of W^T dy
    // unfolded and folded back (col2im) into a zeroed dx per block of input channels. Its output is exactly
    // the input's size only when the input has no rows or columns the window never reached: convTranspose2d's
    // forward (this kernel, mirrored) with outputPadding has such rows, which stay on the col2im path (they
    // would read past the padded dy).
    const transposedPadH = w.dilationH * (w.kernelH - 1) - w.padH;
    const transposedPadW = w.dilationW * (w.kernelW - 1) - w.padW;
    const gradXByConvolution = gradX !== null && !depthwise && !pointwise && w.strideH === 1 && transposedPadH >= 0 && transposedPadW >= 0 &&
      outH + w.dilationH * (w.kernelH - 1) - 2 * w.padH === height && outW + w.dilationW * (w.kernelW - 1) - 2 * w.padW === width &&
      indirectFits(w.strideW, width);
    const pgx = gradX ? (gradXByConvolution ? arena.reserve(gradX.length * 4) : arena.float32Fill(gradX.length, 0)) : 0;
    const pgw = gradWeight ? arena.float32Fill(weight.length, 0) : 0;
    if (depthwise) {
      runRanges(threadsFor(batch * outChannels * patch * plane, parallelThresholds.gemmWork), inChannels, 1, (calls, c0, c1) => {
        for (let n = 0; n < batch; n++) {
          calls.call('depthwiseBackward', [pgy + (n * outChannels + c0) * plane * 4, px === 0 ? 0 : px + (n * inChannels + c0) * inPlane * 4,
            pw + c0 * patch * 4, pgx === 0 ? 0 : pgx + (n * inChannels + c0) * inPlane * 4, pgw === 0 ? 0 : pgw + c0 * patch * 4, c1 - c0,
            height, width, w.kernelH, w.kernelW, w.strideH, w.strideW, w.padH, w.padW, w.dilationH, w.dilationW, outH, outW]);
        }
      });
      if (gradX) arena.float32Out(pgx, gradX);
      if (gradWeight) arena.float32Out(pgw, gradWeight);
      return;
    }
    const colBytes = pointwise ? 0 : align(patch * plane * 4);
    const threads = threadsFor(batch * outChannels * patch * plane, parallelThresholds.gemmWork);
    let transposed: { plan: IndirectPlan; paddedH: number; paddedW: number; imageBytes: number } | null = null;
    if (gradXByConvolution) {
      const paddedH = outH + 2 * transposedPadH;
      const paddedW = outW + 2 * transposedPadW;
      // Written straight into the module: no JavaScript array and no second copy.
      const pflipped = arena.reserve(weight.length * 4);
      flipTransposedWeight(weight, arena.float32View(pflipped, weight.length), groups, groupOutChannels, groupInChannels, taps);
      const plan = indirectPlan(pflipped, groups, groupInChannels, groupOutChannels, w, paddedH, paddedW);
      convolutionPaths.calls.gradX++;
      transposed = { plan, paddedH, paddedW, imageBytes: align((outChannels * paddedH * paddedW + INDIRECT_SLACK_FLOATS) * 4) };
    }
    // dW's product dy @ unfold(x)^T reads the unfolded rows from a padded copy of each block of input
    // channels (stride 1 along rows) instead of an im2col matrix: the same packed panels, the same bits.
    const weightFromImage = gradWeight !== null && px !== 0 && !pointwise && w.strideW === 1 && convolutionPaths.indirect;
    let image: { offsets: number; paddedW: number; bytes: number } | null = null;
    if (weightFromImage) {
      const paddedH = height + 2 * w.padH;
      const paddedW = width + 2 * w.padW;
      const offsets = arena.reserve(patch * 4);
      tapOffsets(arena.int32View(offsets, patch), groupInChannels, w, paddedH, paddedW);
      convolutionPaths.calls.gradWeight++;
      image = { offsets, paddedW, bytes: align((groupInChannels * paddedH * paddedW + INDIRECT_SLACK_FLOATS) * 4) };
    }
    const scratchBytes = Math.max(colBytes + gemmWorkBytes, transposed === null ? 0 : transposed.imageBytes + EDGE_TILE_BYTES,
      image === null ? 0 : image.bytes + gemmWorkBytes);
    run(threads, scratchBytes, (calls) => {
      if (transposed !== null) {
        const { plan, paddedH, paddedW, imageBytes } = transposed;
        const transposedPatch = groupOutChannels * taps;
        for (let n = 0; n < batch; n++) {
          calls.task();
          calls.call('padPlanes', [pgy + n * outChannels * plane * 4, outChannels, outH, outW, transposedPadH, transposedPadW, scratch(0)]);
          for (let g = 0; g < groups; g++) {
            calls.call('convIndirect', [plan.panels + g * plan.groupPanelBytes, groupInChannels, transposedPatch,
              scratch(g * groupOutChannels * paddedH * paddedW * 4), plan.offsets, paddedW * 4, height, width,
              pgx + (n * inChannels + g * groupInChannels) * inPlane * 4, inPlane, scratch(imageBytes), 1]);
          }
        }
        if (!gradWeight) return;
      }
      for (let g = 0; g < groups; g++) {
        const wOffset = g * groupOutChannels * patch;
        for (const [c0, c1] of pieces(groupInChannels, threads <= 1 ? 1 : threads, 1)) {
          const rows = (c1 - c0) * taps;
          calls.task();
          for (let n = 0; n < batch; n++) {
            const gOffset = (n * outChannels + g * groupOutChannels) * plane;
            const xOffset = (n * inChannels + g * groupInChannels + c0) * inPlane;
            if (image !== null) {
              calls.call('padPlanes', [px + xOffset * 4, c1 - c0, height, width, w.padH, w.padW, scratch(0)]);
              calls.call('gemmImageB', [pgy + gOffset * 4, plane, 1, scratch(0), image.offsets, outW, w.strideH * image.paddedW * 4,
                pgw + (wOffset + c0 * taps) * 4, patch, groupOutChannels, plane, rows, scratch(image.bytes), 0]);
            } else if (gradWeight && px !== 0) {
              if (!pointwise) {
                calls.call('im2col', [px + xOffset * 4, c1 - c0, height, width, w.kernelH, w.kernelW, w.strideH, w.strideW, w.padH, w.padW,
                  w.dilationH, w.dilationW, outH, outW, scratch(0)]);
              }
              calls.call('gemm', [pgy + gOffset * 4, plane, 1, pointwise ? px + xOffset * 4 : scratch(0), 1, plane, pgw + (wOffset + c0 * taps) * 4, patch,
                groupOutChannels, plane, rows, scratch(colBytes), 0]);
            }
            if (gradXByConvolution) continue;
            if (gradX && pointwise) {
              // dx's rows are the unfolded rows themselves: accumulate W^T dy straight into them (dx starts at zero).
              calls.call('gemm', [pw + (wOffset + c0 * taps) * 4, 1, patch, pgy + gOffset * 4, plane, 1, pgx + xOffset * 4, plane, rows, groupOutChannels,
                plane, scratch(colBytes), 0]);
            } else if (gradX) {
              // The unfolded rows start as +0 + W^T dy (overwrite: no zeroing pass; groupOutChannels > 0 here).
              calls.call('gemm', [pw + (wOffset + c0 * taps) * 4, 1, patch, pgy + gOffset * 4, plane, 1, scratch(0), plane, rows, groupOutChannels,
                plane, scratch(colBytes), 1]);
              calls.call('col2im', [scratch(0), c1 - c0, height, width, w.kernelH, w.kernelW, w.strideH, w.strideW, w.padH, w.padW,
                w.dilationH, w.dilationW, outH, outW, pgx + xOffset * 4]);
            }
          }
        }
      }
    });
    if (gradX) arena.float32Out(pgx, gradX);
    if (gradWeight) arena.float32Out(pgw, gradWeight);
  }

  /** x is copied in once; the moments, the caller's mix (in JavaScript) and the affine run on it. */
  function slotMixForward(args: SlotMixForwardArgs): void {
    const { x, out, slots, inner, mix } = args;
    if (!isFloat32(x, out)) return jsKernels.slotMixForward(args);
    arena.reset();
    const px = arena.float32In(x);
    const pout = arena.reserve(x.length * 4);
    const pmean = arena.reserve(slots * 8);
    const pvar = arena.reserve(slots * 8);
    const pscale = arena.reserve(slots * 8);
    const pshift = arena.reserve(slots * 8);
    const threads = threadsFor(x.length, parallelThresholds.slotMixElements);
    runRanges(threads, slots, 1, (calls, s0, s1) => calls.call('slotMoments', [px + s0 * inner * 4, s1 - s0, inner, pmean + s0 * 8, pvar + s0 * 8]));
    const mean = new Float64Array(slots);
    const variance = new Float64Array(slots);
    arena.float64Out(pmean, mean);
    arena.float64Out(pvar, variance);
    const { scale, shift } = mix(mean, variance);
    arena.float64Write(pscale, scale);
    arena.float64Write(pshift, shift);
    runRanges(threads, slots, 1, (calls, s0, s1) =>
      calls.call('slotAffine', [px + s0 * inner * 4, pout + s0 * inner * 4, s1 - s0, inner, pscale + s0 * 8, pshift + s0 * 8]));
    arena.float32Out(pout, out);
  }

  function slotMixBackward(args: SlotMixBackwardArgs): void {
    const { gradOutput, x, gradX, slots, inner, mean, mix } = args;
    if (!isFloat32(gradOutput, x, gradX)) return jsKernels.slotMixBackward(args);
    arena.reset();
    const pgy = arena.float32In(gradOutput);
    const px = arena.float32In(x);
    const pmean = arena.float64In(mean);
    const psum = arena.reserve(slots * 8);
    const pcentred = arena.reserve(slots * 8);
    const pa = arena.reserve(slots * 8);
    const pc = arena.reserve(slots * 8);
    const pe = arena.reserve(slots * 8);
    const pgx = gradX ? arena.reserve(x.length * 4) : 0;
    const threads = threadsFor(x.length, parallelThresholds.slotMixElements);
    runRanges(threads, slots, 1, (calls, s0, s1) =>
      calls.call('slotGradientSums', [pgy + s0 * inner * 4, px + s0 * inner * 4, s1 - s0, inner, pmean + s0 * 8, psum + s0 * 8, pcentred + s0 * 8]));
    const sumDy = new Float64Array(slots);
    const sumDyCentred = new Float64Array(slots);
    arena.float64Out(psum, sumDy);
    arena.float64Out(pcentred, sumDyCentred);
    const coefficients = mix(sumDy, sumDyCentred);
    if (coefficients === null || !gradX) return;
    arena.float64Write(pa, coefficients.a);
    arena.float64Write(pc, coefficients.c);
    arena.float64Write(pe, coefficients.e);
    runRanges(threads, slots, 1, (calls, s0, s1) =>
      calls.call('slotGradX', [pgy + s0 * inner * 4, px + s0 * inner * 4, pgx + s0 * inner * 4, s1 - s0, inner, pa + s0 * 8, pc + s0 * 8, pe + s0 * 8]));
    arena.float32Out(pgx, gradX);
  }

  /** Planes stream through the module in chunks; argmax comes back as indices into the whole tensor. */
  function maxPool2dForward(args: MaxPool2dArgs): void {
    const { x, out, argmax, planes, height, width, outH, outW, window: w } = args;
    if (!isFloat32(x, out)) return jsKernels.maxPool2dForward(args);
    arena.reset();
    const inPlane = height * width;
    const outPlane = outH * outW;
    stream(planes, [{ data: x, unitLength: inPlane }], [{ data: out, unitLength: outPlane }, { data: argmax, unitLength: outPlane }],
      (p0, p1, [px], [pout, pargmax]) =>
        exports.maxPool2dForward(px!, pout!, pargmax!, p1 - p0, height, width, outH, outW, w.kernelH, w.kernelW, w.strideH, w.strideW, w.padH, w.padW,
          w.dilationH, w.dilationW, p0 * inPlane));
  }

  function windowAverageForward(args: WindowAverageArgs): void {
    const { x, out, planes, height, width, rowStart, rowEnd, colStart, colEnd, divisor } = args;
    if (!isFloat32(x, out)) return jsKernels.windowAverageForward(args);
    arena.reset();
    const outH = rowStart.length;
    const outW = colStart.length;
    const bounds = [rowStart, rowEnd, colStart, colEnd].map((values) => {
      const offset = arena.reserve(values.length * 4);
      arena.int32View(offset, values.length).set(values);
      return offset;
    });
    const pdivisor = arena.float64In(divisor);
    stream(planes, [{ data: x, unitLength: height * width }], [{ data: out, unitLength: outH * outW }], (p0, p1, [px], [pout]) =>
      exports.windowAverageForward(px!, pout!, p1 - p0, height, width, outH, outW, bounds[0]!, bounds[1]!, bounds[2]!, bounds[3]!, pdivisor));
  }

  /** A resize's source indices and weights in the module: [index0, index1, lambda] of the rows, then of the columns. */
  function resizeAxesIn({ rows, cols }: ResizeGeometry): number[] {
    return [rows, cols].flatMap(({ index0, index1, lambda }) => {
      const offsets = [index0, index1].map((values) => {
        const offset = arena.reserve(values.length * 4);
        arena.int32View(offset, values.length).set(values);
        return offset;
      });
      return [...offsets, arena.float64In(lambda)];
    });
  }

  /** Planes stream through the module (nearest: rows copied, 2x columns in lanes; bilinear: the js loop's float64 arithmetic). */
  function resizeForward(args: ResizeArgs): void {
    const { x, out, planes, inH, inW, rows, cols, bilinear } = args;
    if (!isFloat32(x, out) || out.length < ELEMENTWISE_MIN_ELEMENTS) return jsKernels.resizeForward(args);
    arena.reset();
    const outH = rows.index0.length;
    const outW = cols.index0.length;
    const axes = resizeAxesIn(args);
    stream(planes, [{ data: x, unitLength: inH * inW }], [{ data: out, unitLength: outH * outW }], (p0, p1, [px], [pout]) =>
      exports.resizeForward(px!, pout!, p1 - p0, inH, inW, outH, outW, axes[0]!, axes[1]!, axes[2]!, axes[3]!, axes[4]!, axes[5]!, +bilinear));
  }

  /** gradX (zero-filled by the caller, accumulated into) streams through the module beside gradOutput, plane by plane. */
  function resizeBackward(args: ResizeBackwardArgs): void {
    const { gradOutput, gradX, planes, inH, inW, rows, cols, bilinear } = args;
    if (!isFloat32(gradOutput, gradX) || gradOutput.length < ELEMENTWISE_MIN_ELEMENTS) return jsKernels.resizeBackward(args);
    arena.reset();
    const outH = rows.index0.length;
    const outW = cols.index0.length;
    const axes = resizeAxesIn(args);
    const inputs = [{ data: gradOutput, unitLength: outH * outW }, { data: gradX, unitLength: inH * inW }];
    stream(planes, inputs, [{ data: gradX, unitLength: inH * inW, inPlaceOf: 1 }], (p0, p1, [pgy, pgx]) =>
      exports.resizeBackward(pgy!, pgx!, p1 - p0, inH, inW, outH, outW, axes[0]!, axes[1]!, axes[2]!, axes[3]!, axes[4]!, axes[5]!, +bilinear));
  }

  /** `runs` in the module (size, summed, kept stride per run) and scratch for its counters. */
  function runsIn(runs: SumRuns): { pruns: number; pcounters: number; runCount: number; rows: number; inner: number } {
    const { sizes, reduced } = runs;
    const strides = keptStrides(runs);
    const runCount = sizes.length;
    const pruns = arena.reserve(runCount * 12);
    const view = arena.int32View(pruns, runCount * 3);
    let elements = 1;
    for (let r = 0; r < runCount; r++) {
      view.set([sizes[r]!, reduced[r] ? 1 : 0, strides[r]!], r * 3);
      elements *= sizes[r]!;
    }
    const inner = sizes[runCount - 1]!;
    return { pruns, pcounters: arena.reserve(runCount * 4), runCount, rows: inner === 0 ? 0 : elements / inner, inner };
  }

  /** Rows of the innermost run stream through the module; the float64 accumulators stay in it. */
  function sum(args: SumArgs): void {
    const { x, out } = args;
    if (!isFloat32(x) || x.length < ELEMENTWISE_MIN_ELEMENTS) return jsKernels.sum(args);
    arena.reset();
    const { pruns, pcounters, runCount, rows, inner } = runsIn(args);
    const pout = arena.float64In(out);
    stream(rows, [{ data: x, unitLength: inner }], [], (r0, r1, [px]) => exports.sumRuns(px!, pout, pruns, runCount, r0, r1, pcounters));
    arena.float64Out(pout, out);
  }

  function modulate(args: ModulateArgs): void {
    const { x, out, scale, shift, offset } = args;
    if (!isFloat32(x, out, scale, shift) || x.length < ELEMENTWISE_MIN_ELEMENTS) return jsKernels.modulate(args);
    arena.reset();
    const { pruns, pcounters, runCount, rows, inner } = runsIn(args);
    const pscale = arena.float32In(scale);
    const pshift = shift === null ? 0 : arena.float32In(shift);
    stream(rows, [{ data: x, unitLength: inner }], [{ data: out, unitLength: inner, inPlaceOf: 0 }], (r0, r1, [px]) =>
      exports.modulateRuns(px!, px!, pscale, pshift, offset, pruns, runCount, r0, r1, pcounters));
  }

  /**
   * ReLU (branch-free lanes), tanh, sigmoid, SiLU and GELU (exp and erf by polynomials, tanh's small
   * inputs by its series: 1.5-3.5x faster than the js loops) in the module.
   */
  function activation(args: ActivationArgs): void {
    const { op, x, out } = args;
    if (op === 'relu' && isFloat32(x, out)) {
      arena.reset();
      stream(x.length, [{ data: x, unitLength: 1 }], [{ data: out, unitLength: 1, inPlaceOf: 0 }], (i0, i1, [px]) => exports.reluForward(px!, px!, i1 - i0));
      return;
    }
    if (op === 'relu' || !isFloat32(x, out)) return jsKernels.activation(args);
    arena.reset();
    const table = arena.float64In(ERF_TABLE);
    const code = { tanh: ACTIVATION_TANH, sigmoid: ACTIVATION_SIGMOID, silu: ACTIVATION_SILU, gelu: ACTIVATION_GELU }[op];
    const threads = threadsFor(x.length, parallelThresholds.activationElements);
    streamOnThreads(threads, x.length, [{ data: x, unitLength: 1 }], [{ data: out, unitLength: 1, inPlaceOf: 0 }], 4, (calls, i0, i1, c0, [buffer]) => {
      const at = buffer! + (i0 - c0) * 4;
      calls.call('activationForward', [code, at, at, i1 - i0, table]);
    });
  }

  /**
   * ReLU's gate and GELU's and SiLU's derivatives (from x, with exp) in the module; tanh's and sigmoid's
   * are a product or two per element of the output: js.
   */
  function activationBackward(args: ActivationBackwardArgs): void {
    const { op, x, gradOutput, gradX } = args;
    if (op === 'relu' && isFloat32(x, gradOutput, gradX)) {
      arena.reset();
      stream(x.length, [{ data: gradOutput, unitLength: 1 }, { data: x, unitLength: 1 }], [{ data: gradX, unitLength: 1, inPlaceOf: 0 }], (i0, i1, [pg, px]) =>
        exports.reluBackward(px!, pg!, pg!, i1 - i0));
      return;
    }
    if ((op !== 'gelu' && op !== 'silu') || !isFloat32(x, gradOutput, gradX)) return jsKernels.activationBackward(args);
    arena.reset();
    const table = op === 'gelu' ? arena.float64In(ERF_TABLE) : 0;
    const threads = threadsFor(x.length, parallelThresholds.activationElements);
    // gradX overwrites gradOutput in its buffer (each element read before it is written).
    const streamed = [{ data: gradOutput, unitLength: 1 }, { data: x, unitLength: 1 }];
    streamOnThreads(threads, x.length, streamed, [{ data: gradX, unitLength: 1, inPlaceOf: 0 }], 4, (calls, i0, i1, c0, [pg, px]) => {
      const offset = (i0 - c0) * 4;
      if (op === 'gelu') calls.call('geluBackward', [px! + offset, pg! + offset, pg! + offset, i1 - i0, table]);
      else calls.call('siluBackward', [px! + offset, pg! + offset, pg! + offset, i1 - i0]);
    });
  }

  /**
   * Float32 binary ops in f32x4 lanes (same shape, scalars, bias rows, per-channel runs), the operands
   * streamed through the module in cache-sized chunks (the js bits; 2-4x faster than the js loops on
   * large arrays). General broadcasting (`index`), float64 and small arrays stay on the js loops.
   */
  function binary(args: BinaryArgs): void {
    const { op, a, b, out, broadcast } = args;
    if (!isFloat32(a, b, out) || out.length < ELEMENTWISE_MIN_ELEMENTS) return jsKernels.binary(args);
    arena.reset();
    const code = BINARY_OPS[op];
    const n = out.length;
    switch (broadcast.kind) {
      case 'same':
        stream(n, [{ data: a, unitLength: 1 }, { data: b, unitLength: 1 }], [{ data: out, unitLength: 1, inPlaceOf: 0 }], (i0, i1, [pa, pb]) =>
          exports.binaryForward(code, pa!, pb!, pa!, 1, i1 - i0, BINARY_PAIRWISE, 0, 1));
        return;
      case 'rows-b': {
        const period = broadcast.period;
        const pb = arena.float32In(b.subarray(0, period));
        stream(n / period, [{ data: a, unitLength: period }], [{ data: out, unitLength: period, inPlaceOf: 0 }], (r0, r1, [pa]) =>
          exports.binaryForward(code, pa!, pb, pa!, r1 - r0, period, BINARY_PAIRWISE, 0, 1));
        return;
      }
      case 'runs-b': {
        const { inner, period } = broadcast;
        const pb = arena.float32In(b.subarray(0, period));
        stream(n / inner, [{ data: a, unitLength: inner }], [{ data: out, unitLength: inner, inPlaceOf: 0 }], (r0, r1, [pa]) =>
          exports.binaryForward(code, pa!, pb, pa!, r1 - r0, inner, BINARY_RUNS_B, r0, period));
        return;
      }
      case 'scalar-b': {
        const pb = arena.float32In(b.subarray(0, 1));
        stream(n, [{ data: a, unitLength: 1 }], [{ data: out, unitLength: 1, inPlaceOf: 0 }], (i0, i1, [pa]) =>
          exports.binaryForward(code, pa!, pb, pa!, 1, i1 - i0, BINARY_SCALAR_B, 0, 1));
        return;
      }
      case 'scalar-a': {
        const pa = arena.float32In(a.subarray(0, 1));
        stream(n, [{ data: b, unitLength: 1 }], [{ data: out, unitLength: 1, inPlaceOf: 0 }], (i0, i1, [pb]) =>
          exports.binaryForward(code, pa, pb!, pb!, 1, i1 - i0, BINARY_SCALAR_A, 0, 1));
        return;
      }
      default:
        return jsKernels.binary(args);
    }
  }

  return {
    name: 'wasm', rowwiseForward, rowwiseBackward, slotwiseForward, slotwiseBackward, batchForward, batchBackward,
    binary,
    activation,
    activationBackward,
    gemm,
    gemmBatch,
    conv2dForward,
    conv2dBackward,
    slotMixForward,
    slotMixBackward,
    maxPool2dForward,
    windowAverageForward,
    // The backward scatters and the resizes are one gather or scatter pass each: copy-bound like the
    // elementwise ops, so they share the js loops.
    maxPool2dBackward: jsKernels.maxPool2dBackward,
    windowAverageBackward: jsKernels.windowAverageBackward,
    resizeForward,
    resizeBackward,
    sum,
    modulate,
  };
}

/** Adds the arena's float64 accumulator into the caller's (zero-filled) gradient array. */
function addFloat64Out(arena: Arena, offset: number, target: Float64Array): void {
  const values = arena.float64View(offset, target.length);
  for (let i = 0; i < target.length; i++) target[i]! += values[i]!;
}

let instantiated: KernelTable | null | undefined;
let pool: ThreadPool | null = null;

const abort = () => {
  throw new Error('normkit wasm backend: abort');
};

/** The module on a shared memory with a thread pool, where threads are available; null (quietly) otherwise. */
function instantiateShared(): KernelTable | null {
  const spawn = poolSpawner();
  if (spawn === null) return null;
  try {
    const bytes = decodeBase64(sharedKernelModuleBase64);
    if (!WebAssembly.validate(bytes)) return null;
    const module = new WebAssembly.Module(bytes);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory, abort } });
    const exports = instance.exports as Record<string, unknown>;
    pool = new ThreadPool(module, memory, exports, spawn);
    return createWasmKernels(exports as unknown as KernelExports, memory, pool);
  } catch {
    pool = null;
    return null;
  }
}

/** The module with its own memory: one thread. */
function instantiateSingle(): KernelTable | null {
  const bytes = decodeBase64(kernelModuleBase64);
  // validate() refuses the module where SIMD128 is missing, without throwing.
  if (!WebAssembly.validate(bytes)) return null;
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { abort } });
  const exports = instance.exports as unknown as KernelExports & { memory: WebAssembly.Memory };
  return createWasmKernels(exports, exports.memory, null);
}

/**
 * The `wasm` kernel table, instantiated on first use from the bytes embedded in the package
 * (synchronous compile: the module is a few KB, far under browsers' main-thread limit), or null
 * where WebAssembly or its SIMD128 instructions are unavailable. Where threads are available (Node,
 * cross-origin-isolated workers) the module runs on a shared memory with a thread pool; elsewhere on
 * its own memory, one thread. Both are compiled from the same source and give the same bits.
 */
export function wasmKernels(): KernelTable | null {
  if (instantiated !== undefined) return instantiated;
  try {
    instantiated = typeof WebAssembly === 'object' ? (instantiateShared() ?? instantiateSingle()) : null;
  } catch {
    instantiated = null;
  }
  return instantiated;
}

/**
 * Tests only: a fresh instance of the one-thread module (its own memory, no pool), the table browsers'
 * main threads and non-isolated pages run, beside `wasmKernels()`'s shared-memory one in Node.
 */
export function unsharedWasmKernels(): KernelTable | null {
  return instantiateSingle();
}

/** The wasm backend's thread pool counters (see `ThreadPool.statistics`), or null without a pool: for tests and diagnostics. */
export function wasmThreadPoolStatistics(): ReturnType<ThreadPool['statistics']> | null {
  return wasmKernels() !== null && pool !== null ? pool.statistics() : null;
}

/**
 * Tests only: with true, the calling thread leaves every task of a threaded kernel to the pool's
 * workers (see `ThreadPool.callerRunsTasks`). No effect without a pool.
 */
export function leaveTasksToWorkers(leave: boolean): void {
  if (wasmKernels() !== null && pool !== null) pool.callerRunsTasks = !leave;
}

/** Whether the wasm backend runs kernels on a thread pool here (false until the backend is first used, or where threads are unavailable). */
export function wasmHasThreadPool(): boolean {
  return wasmKernels() !== null && pool !== null;
}
