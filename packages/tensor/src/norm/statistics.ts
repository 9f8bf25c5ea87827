import type { TypedArray } from '../dtype';
import { ShapeError, formatShape } from '../errors';
import { OVERFLOW_SCALE, scaledRstd } from '../kernels/js/loops';

/**
 * How a normalizer sees its input: `x` as [outer, groups, inner], contiguous.
 *
 * | technique     | outer | groups | inner          | statistics per       |
 * |---------------|-------|--------|----------------|----------------------|
 * | BatchNorm     | N     | C      | spatial        | group (over outer)   |
 * | GhostBatchNorm| N     | C      | spatial        | (chunk of outer, group) |
 * | InstanceNorm  | N     | C      | spatial        | (outer, group)       |
 * | GroupNorm     | N     | G      | (C/G)*spatial  | (outer, group)       |
 * | LayerNorm     | rows  | 1      | normalized size| (outer, group) = row |
 */
export interface NormLayout {
  outer: number;
  groups: number;
  inner: number;
}

export interface StatisticsOptions {
  layout: NormLayout;
  /** true: one statistic per group across all of outer (batch-style); false: per (outer, group). */
  acrossOuter: boolean;
  /** With acrossOuter: statistics per consecutive chunk of this many outer entries (ghost batches). */
  outerChunk?: number;
  /** false: no mean centring, the "variance" is the mean square (RMSNorm, FRN). */
  center: boolean;
  /**
   * Real (nonzero) and padded (0) positions. The mask value of element (o, g, i) is
   * `mask[o * maskSpatial + (i % maskSpatial)]`: [N, L] for [N, C, L] inputs (maskSpatial = L),
   * one value per row for row-wise layouts (maskSpatial = 1).
   */
  mask?: TypedArray;
  maskSpatial?: number;
  /**
   * Sums per-slot partial sums across replicas in place (SyncBatchNorm). Called in the forward
   * pass on counts and sums, then (with centring only) on squared deviations, and once in backward.
   */
  allReduce?: (buffer: Float64Array) => void;
}

/** Statistics per slot (see `slotCount`), in float64. `variance` is biased (divided by count). */
export interface NormStatistics {
  count: Float64Array;
  mean: Float64Array;
  variance: Float64Array;
}

export function slotCount(options: StatisticsOptions): number {
  const { outer, groups } = options.layout;
  if (!options.acrossOuter) return outer * groups;
  const chunks = options.outerChunk ? Math.ceil(outer / options.outerChunk) : 1;
  return chunks * groups;
}

/** The statistics slot of (o, g). */
export function slotOf(options: StatisticsOptions, o: number, g: number): number {
  const { groups } = options.layout;
  if (!options.acrossOuter) return o * groups + g;
  if (options.outerChunk) return Math.floor(o / options.outerChunk) * groups + g;
  return g;
}

export function checkMask(op: string, options: StatisticsOptions): void {
  if (!options.mask) return;
  const spatial = options.maskSpatial ?? options.layout.inner;
  const expected = options.layout.outer * spatial;
  if (options.mask.length !== expected || options.layout.inner % spatial !== 0) {
    throw new ShapeError({
      op,
      expected: `a mask of ${expected} values (${options.layout.outer} x ${spatial})`,
      given: `${options.mask.length} values`,
    });
  }
}

/**
 * Per-slot count, mean and biased variance of `x` in float64, two-pass (mean first, then squared
 * deviations) so a large mean does not cancel the variance. Masked positions are skipped. A
 * variance beyond float64 (data spread around 1e155 and more) is Infinity; the mean is still exact.
 */
export function computeStatistics(x: TypedArray, options: StatisticsOptions): NormStatistics {
  return computeStatisticsWithRstd(x, options, null).statistics;
}

/**
 * `computeStatistics` and, with an eps, rstd = 1 / sqrt(variance + eps) per slot, representable
 * also where the variance overflowed: those slots are recomputed on x * OVERFLOW_SCALE (exact).
 * Every replica sees the same reduced variances, so all recompute together and call allReduce alike.
 */
export function computeStatisticsWithRstd(
  x: TypedArray, options: StatisticsOptions, eps: number | null,
): { statistics: NormStatistics; rstd: Float64Array | null } {
  const statistics = accumulateStatistics(x, options, 1);
  const { mean, variance } = statistics;
  let overflowed = false;
  for (let s = 0; s < variance.length; s++) if (!(variance[s]! < Infinity)) overflowed = true;
  if (!overflowed) {
    if (eps === null) return { statistics, rstd: null };
    return { statistics, rstd: variance.map((v) => 1 / Math.sqrt(v + eps)) };
  }
  const scaled = accumulateStatistics(x, options, OVERFLOW_SCALE);
  const rstd = eps === null ? null : new Float64Array(variance.length);
  for (let s = 0; s < variance.length; s++) {
    if (variance[s]! < Infinity) {
      if (rstd !== null) rstd[s] = 1 / Math.sqrt(variance[s]! + eps!);
      continue;
    }
    mean[s] = scaled.mean[s]! / OVERFLOW_SCALE;
    variance[s] = scaled.variance[s]! / OVERFLOW_SCALE / OVERFLOW_SCALE;
    if (rstd !== null) rstd[s] = scaledRstd(scaled.variance[s]!, eps!);
  }
  return { statistics, rstd };
}

/** The statistics of x * scale (scale = 1, or OVERFLOW_SCALE for a second try). */
function accumulateStatistics(x: TypedArray, options: StatisticsOptions, scale: number): NormStatistics {
  const { outer, groups, inner } = options.layout;
  const slots = slotCount(options);
  const mask = options.mask;
  const maskSpatial = options.maskSpatial ?? inner;
  // sums = [count..., sum...]: one buffer so a replica group reduces it in one call.
  const sums = new Float64Array(2 * slots);
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < groups; g++) {
      const slot = slotOf(options, o, g);
      const base = (o * groups + g) * inner;
      let total = 0;
      let count = 0;
      if (mask) {
        const maskBase = o * maskSpatial;
        for (let i = 0; i < inner; i++) {
          if (mask[maskBase + (i % maskSpatial)] !== 0) {
            const v = x[base + i]! * scale;
            total += options.center ? v : v * v;
            count++;
          }
        }
      } else if (options.center) {
        for (let i = 0; i < inner; i++) total += x[base + i]! * scale;
        count = inner;
      } else {
        for (let i = 0; i < inner; i++) {
          const v = x[base + i]! * scale;
          total += v * v;
        }
        count = inner;
      }
      sums[slot]! += count;
      sums[slots + slot]! += total;
    }
  }
  options.allReduce?.(sums);
  const count = sums.slice(0, slots);
  const mean = new Float64Array(slots);
  const variance = new Float64Array(slots);
  if (!options.center) {
    for (let s = 0; s < slots; s++) variance[s] = count[s]! > 0 ? sums[slots + s]! / count[s]! : 0;
    return { count, mean, variance };
  }
  for (let s = 0; s < slots; s++) mean[s] = count[s]! > 0 ? sums[slots + s]! / count[s]! : 0;
  const squares = new Float64Array(slots);
  for (let o = 0; o < outer; o++) {
    for (let g = 0; g < groups; g++) {
      const slot = slotOf(options, o, g);
      const base = (o * groups + g) * inner;
      const m = mean[slot]!;
      let total = 0;
      if (mask) {
        const maskBase = o * maskSpatial;
        for (let i = 0; i < inner; i++) {
          if (mask[maskBase + (i % maskSpatial)] !== 0) {
            const d = x[base + i]! * scale - m;
            total += d * d;
          }
        }
      } else {
        for (let i = 0; i < inner; i++) {
          const d = x[base + i]! * scale - m;
          total += d * d;
        }
      }
      squares[slot]! += total;
    }
  }
  options.allReduce?.(squares);
  for (let s = 0; s < slots; s++) variance[s] = count[s]! > 0 ? squares[s]! / count[s]! : 0;
  return { count, mean, variance };
}

/** Describes a layout for error messages. */
export function describeLayout(layout: NormLayout): string {
  return formatShape([layout.outer, layout.groups, layout.inner]);
}
