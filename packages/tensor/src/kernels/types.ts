import type { TypedArray } from '../dtype';
import type { NormStatistics } from '../norm/statistics';

/** The compute backends: `js` (the reference) and `wasm` (WebAssembly SIMD128). */
export type BackendName = 'js' | 'wasm';

/** Row-wise forward (LayerNorm, RMSNorm): statistics per row of `inner` values, per-element affine. */
export interface RowwiseForwardArgs {
  x: TypedArray;
  out: TypedArray;
  weight: TypedArray | null;
  bias: TypedArray | null;
  rows: number;
  inner: number;
  center: boolean;
  eps: number;
  /** One value per row, 0 = padded (output 0, no statistics). */
  mask: TypedArray | null;
  count: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
  rstd: Float64Array;
}

export interface RowwiseBackwardArgs {
  gradOutput: TypedArray;
  x: TypedArray;
  weight: TypedArray | null;
  rows: number;
  inner: number;
  center: boolean;
  mask: TypedArray | null;
  mean: Float64Array;
  rstd: Float64Array;
  /** Written in full (0 on padded rows): it may arrive holding anything. */
  gradX: TypedArray | null;
  /** Zero-filled accumulators, or null when not wanted. */
  gradWeight: Float64Array | null;
  gradBias: Float64Array | null;
}

/** Slot-wise forward (GroupNorm, InstanceNorm, FRN): per (outer, group) slot, affine per block, optional TLU. */
export interface SlotwiseForwardArgs {
  x: TypedArray;
  out: TypedArray;
  weight: TypedArray | null;
  bias: TypedArray | null;
  threshold: TypedArray | null;
  slots: number;
  groups: number;
  inner: number;
  block: number;
  center: boolean;
  eps: number;
  mean: Float64Array;
  variance: Float64Array;
  rstd: Float64Array;
}

export interface SlotwiseBackwardArgs {
  gradOutput: TypedArray;
  x: TypedArray;
  weight: TypedArray | null;
  bias: TypedArray | null;
  threshold: TypedArray | null;
  slots: number;
  groups: number;
  inner: number;
  block: number;
  center: boolean;
  mean: Float64Array;
  rstd: Float64Array;
  gradX: TypedArray | null;
  /** Zero-filled accumulators, or null when not wanted. */
  gradWeight: Float64Array | null;
  gradBias: Float64Array | null;
  gradThreshold: Float64Array | null;
  /** Per slot: sum(dxhat * xhat), for a learnable eps. */
  dxhatXhat: Float64Array;
}

/** Batch forward (BatchNorm, GhostBatchNorm, SyncBatchNorm): statistics across each chunk of outer, affine per group. */
export interface BatchForwardArgs {
  x: TypedArray;
  out: TypedArray;
  weight: TypedArray | null;
  bias: TypedArray | null;
  outer: number;
  groups: number;
  inner: number;
  /** Outer entries per statistics chunk. */
  chunk: number;
  slots: number;
  center: boolean;
  eps: number;
  /** Running statistics to use instead of computing them (eval). */
  fixed: { mean: Float64Array; variance: Float64Array } | null;
  /** Cross-replica sum, called on [counts..., sums...] then (centred) on squared deviations. */
  allReduce: ((buffer: Float64Array) => void) | null;
}

export interface BatchForwardResult {
  statistics: NormStatistics;
  rstd: Float64Array;
}

export interface BatchBackwardArgs {
  gradOutput: TypedArray;
  x: TypedArray;
  weight: TypedArray | null;
  outer: number;
  groups: number;
  inner: number;
  chunk: number;
  slots: number;
  center: boolean;
  /** True when the forward used fixed statistics: no reduction terms, no allReduce. */
  fixed: boolean;
  count: Float64Array;
  mean: Float64Array;
  rstd: Float64Array;
  gradX: TypedArray | null;
  gradWeight: Float64Array | null;
  gradBias: Float64Array | null;
  /** Cross-replica sum of [sum(dxhat)..., sum(dxhat * xhat)...]. */
  allReduce: ((buffer: Float64Array) => void) | null;
}

/** The elementwise binary ops with a kernel of their own. */
export type BinaryKernelOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';

/** How output element i reads its operands. */
export type BinaryBroadcast =
  | { kind: 'same' }
  | { kind: 'scalar-b' }
  | { kind: 'scalar-a' }
  /** b's `period` values repeat along the output (b's shape is the output's trailing dims). */
  | { kind: 'rows-b'; period: number }
  /**
   * Each of b's `period` values holds for a run of `inner` output elements, the runs cycling through b
   * (b's shape is a block of the output's dims followed by ones: a per-channel [C, 1, 1] against
   * [N, C, H, W] has inner H * W and period C): output i reads b[floor(i / inner) % period].
   */
  | { kind: 'runs-b'; inner: number; period: number }
  /** General broadcasting: flat operand indices per output element. */
  | { kind: 'index'; a: Int32Array; b: Int32Array };

export interface BinaryArgs {
  op: BinaryKernelOp;
  a: TypedArray;
  b: TypedArray;
  out: TypedArray;
  broadcast: BinaryBroadcast;
}

/** The activations with a kernel of their own. */
export type ActivationOp = 'relu' | 'tanh' | 'sigmoid' | 'silu' | 'gelu';

export interface ActivationArgs {
  op: ActivationOp;
  x: TypedArray;
  out: TypedArray;
}

export interface ActivationBackwardArgs {
  op: ActivationOp;
  x: TypedArray;
  /** The forward's output (tanh and sigmoid take their derivative from it). */
  out: TypedArray;
  gradOutput: TypedArray;
  gradX: TypedArray;
}

/** C[m, n] += op(A)[m, k] @ op(B)[k, n], all row-major; offsets select one matrix of a batch. */
export interface GemmArgs {
  a: TypedArray;
  aOffset: number;
  /** A is stored k x m and read transposed. */
  transA: boolean;
  b: TypedArray;
  bOffset: number;
  /** B is stored n x k and read transposed. */
  transB: boolean;
  c: TypedArray;
  cOffset: number;
  m: number;
  k: number;
  n: number;
  /**
   * C's block is set to the product instead of added to: the bits it would get if it held +0 first
   * (so the caller need not zero it; a -0 sum still becomes +0). Default false.
   */
  overwrite?: boolean;
  /** n values added to every row of C's block after the product (Linear's bias), each sum rounded once to C's dtype. */
  bias?: TypedArray | null;
}

/**
 * `gemm` over a batch of equally sized products: entry i is
 * C[cOffsets[i]..] += op(A[aOffsets[i]..]) @ op(B[bOffsets[i]..]). Entries may share a block of C
 * (the gradient of a broadcast operand): those accumulate in entry order. Two entries' C blocks are
 * either the same block or disjoint (offsets are multiples of m * n, as `matmul` makes them).
 */
export interface GemmBatchArgs {
  a: TypedArray;
  transA: boolean;
  b: TypedArray;
  transB: boolean;
  c: TypedArray;
  m: number;
  k: number;
  n: number;
  aOffsets: Int32Array;
  bOffsets: Int32Array;
  cOffsets: Int32Array;
}

/** A 2-D sliding window (PyTorch's conv geometry). */
export interface ConvWindow {
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
}

/** The shapes of one conv2d call: x [batch, inChannels, height, width] -> y [batch, outChannels, outH, outW]. */
export interface ConvGeometryArgs {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  groups: number;
  window: ConvWindow;
  outH: number;
  outW: number;
}

export interface Conv2dForwardArgs extends ConvGeometryArgs {
  x: TypedArray;
  /** [outChannels, inChannels / groups, kH, kW] */
  weight: TypedArray;
  bias: TypedArray | null;
  out: TypedArray;
}

export interface Conv2dBackwardArgs extends ConvGeometryArgs {
  gradOutput: TypedArray;
  /** Read for the weight gradient only: may be null when `gradWeight` is (convTranspose2d's forward). */
  x: TypedArray | null;
  weight: TypedArray;
  /** Zero-filled, or null when not wanted. */
  gradX: TypedArray | null;
  gradWeight: TypedArray | null;
}

/**
 * Per-slot normalisation whose coefficients mix statistics across slots (SwitchableNorm): the kernel
 * computes each slot's mean and biased variance (two-pass, float64), `mix` turns them into a per-slot
 * scale and shift, and the kernel writes out = x * scale + shift.
 */
export interface SlotMixForwardArgs {
  x: TypedArray;
  out: TypedArray;
  slots: number;
  inner: number;
  mix: (mean: Float64Array, variance: Float64Array) => { scale: Float64Array; shift: Float64Array };
}

/**
 * The backward of a mixed slot normalisation: the kernel computes per slot sum(dy) and
 * sum(dy * (x - mean)), `mix` turns them into per-slot a, c, e (or null when x needs no gradient), and
 * the kernel writes gradX = a * dy - c * x + e.
 */
export interface SlotMixBackwardArgs {
  gradOutput: TypedArray;
  x: TypedArray;
  gradX: TypedArray | null;
  slots: number;
  inner: number;
  mean: Float64Array;
  mix: (sumDy: Float64Array, sumDyCentred: Float64Array) => { a: Float64Array; c: Float64Array; e: Float64Array } | null;
}

/**
 * One signature per hot loop; each backend implements every entry (a backend may hand a call it
 * has no faster loop for to the `js` table, and says so beside the entry). The `js` table is the
 * reference the others are tested against.
 */
/** 2-D max pooling of `planes` independent [height, width] planes into [outH, outW]. */
export interface MaxPool2dArgs {
  x: TypedArray;
  out: TypedArray;
  /** Flat input index of each output's maximum; -1 where the window has no in-bounds tap. */
  argmax: Int32Array;
  planes: number;
  height: number;
  width: number;
  outH: number;
  outW: number;
  window: ConvWindow;
}

export interface MaxPool2dBackwardArgs {
  gradOutput: TypedArray;
  argmax: Int32Array;
  /** Zero-filled; accumulates. */
  gradX: TypedArray;
}

/** Average over rectangular windows (avgPool2d, adaptiveAvgPool2d): rows [rowStart, rowEnd) x columns [colStart, colEnd) per output cell. */
export interface WindowAverageGeometry {
  planes: number;
  height: number;
  width: number;
  rowStart: Int32Array;
  rowEnd: Int32Array;
  colStart: Int32Array;
  colEnd: Int32Array;
  /** One divisor per output cell of a plane (outH * outW). */
  divisor: Float64Array;
}

export interface WindowAverageArgs extends WindowAverageGeometry {
  x: TypedArray;
  out: TypedArray;
}

export interface WindowAverageBackwardArgs extends WindowAverageGeometry {
  gradOutput: TypedArray;
  /** Zero-filled; accumulates. */
  gradX: TypedArray;
}

/** Source rows or columns of a resize: nearest uses index0 only; bilinear blends index0 and index1 with weight lambda. */
export interface ResizeAxis {
  index0: Int32Array;
  index1: Int32Array;
  lambda: Float64Array;
}

export interface ResizeGeometry {
  planes: number;
  inH: number;
  inW: number;
  rows: ResizeAxis;
  cols: ResizeAxis;
  bilinear: boolean;
}

export interface ResizeArgs extends ResizeGeometry {
  x: TypedArray;
  out: TypedArray;
}

export interface ResizeBackwardArgs extends ResizeGeometry {
  gradOutput: TypedArray;
  /** Zero-filled; accumulates. */
  gradX: TypedArray;
}

/**
 * A reduction's geometry: the dims of x merged into runs (adjacent dims summed over, or kept, become
 * one run), outermost first, so a sum over any axes is a loop over rows of the innermost run.
 */
export interface SumRuns {
  sizes: readonly number[];
  /** Whether each run is summed over; adjacent runs differ. */
  reduced: readonly boolean[];
}

export interface SumArgs extends SumRuns {
  x: TypedArray;
  /** One float64 accumulator per kept element, zeroed by the caller; the sums are added. */
  out: Float64Array;
}

/** out = x * (scale + offset) + shift, scale and shift broadcast along the runs marked summed (both with the same shape). */
export interface ModulateArgs extends SumRuns {
  x: TypedArray;
  out: TypedArray;
  scale: TypedArray;
  shift: TypedArray | null;
  /** 1 for AdaLN's x * (1 + scale) + shift, 0 for FiLM's gamma * x + beta. */
  offset: number;
}

export interface KernelTable {
  readonly name: BackendName;
  readonly rowwiseForward: (args: RowwiseForwardArgs) => void;
  readonly rowwiseBackward: (args: RowwiseBackwardArgs) => void;
  readonly slotwiseForward: (args: SlotwiseForwardArgs) => void;
  readonly slotwiseBackward: (args: SlotwiseBackwardArgs) => void;
  readonly batchForward: (args: BatchForwardArgs) => BatchForwardResult;
  readonly batchBackward: (args: BatchBackwardArgs) => void;
  /** out = a op b elementwise under `broadcast`, computed in float64 and stored in out's dtype. */
  readonly binary: (args: BinaryArgs) => void;
  readonly activation: (args: ActivationArgs) => void;
  readonly activationBackward: (args: ActivationBackwardArgs) => void;
  readonly gemm: (args: GemmArgs) => void;
  /** Batched matmul: one call for every entry (on `wasm`: operands copied in once, entries spread over threads). */
  readonly gemmBatch: (args: GemmBatchArgs) => void;
  /** conv2d forward (bias included), all operands in one dtype. */
  readonly conv2dForward: (args: Conv2dForwardArgs) => void;
  /** conv2d backward to the input and the weight (the bias gradient is a plain sum, outside). */
  readonly conv2dBackward: (args: Conv2dBackwardArgs) => void;
  readonly slotMixForward: (args: SlotMixForwardArgs) => void;
  readonly slotMixBackward: (args: SlotMixBackwardArgs) => void;
  readonly maxPool2dForward: (args: MaxPool2dArgs) => void;
  readonly maxPool2dBackward: (args: MaxPool2dBackwardArgs) => void;
  readonly windowAverageForward: (args: WindowAverageArgs) => void;
  readonly windowAverageBackward: (args: WindowAverageBackwardArgs) => void;
  readonly resizeForward: (args: ResizeArgs) => void;
  readonly resizeBackward: (args: ResizeBackwardArgs) => void;
  /** Sums over the reduced runs, accumulated in float64 (sum, mean, and the adjoint of broadcasting). */
  readonly sum: (args: SumArgs) => void;
  /** The modulation of AdaLN, FiLM, SPADE and conditional BatchNorm (`modulate`), float64 arithmetic. */
  readonly modulate: (args: ModulateArgs) => void;
}
