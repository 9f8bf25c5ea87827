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

/**
 * One signature per hot loop; each backend implements every entry (a backend may hand a call it
 * has no faster loop for to the `js` table, and says so beside the entry). The `js` table is the
 * reference the others are tested against.
 */
export interface KernelTable {
  readonly name: BackendName;
  rowwiseForward(args: RowwiseForwardArgs): void;
  rowwiseBackward(args: RowwiseBackwardArgs): void;
  slotwiseForward(args: SlotwiseForwardArgs): void;
  slotwiseBackward(args: SlotwiseBackwardArgs): void;
  batchForward(args: BatchForwardArgs): BatchForwardResult;
  batchBackward(args: BatchBackwardArgs): void;
}
