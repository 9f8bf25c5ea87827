import {
  checkChannels, Parameter, RunningStatisticsNorm, ShapeError, Tensor, ValueError, checkChannelsFirst, checkEps, checkModuleDType, checkTensor, computeStatistics, customOp,
  affineBlock, allocate, blockSums, dtypeOptionSpec, formatShape, isTensor, gradXBlockCentred, mixSlotsBackward, mixSlotsForward, ones, refuseMask, resolveModuleOptions, zeros,
  type ChannelsFirstSizes, type DType, type Normalizer, type NormalizerContext, type OptionsSchema, type TypedArray,
} from '@normkit/tensor';

/** The statistics SwitchableNorm mixes, in the order of `mean_weight` and `var_weight` (the authors' order). */
export const SWITCHABLE_STATISTICS = ['instance', 'layer', 'batch'] as const;
export type SwitchableStatistic = (typeof SWITCHABLE_STATISTICS)[number];

/**
 * Where the batch statistics come from:
 * - `'batch'`: this batch (training);
 * - `{ mean, variance }`: fixed per-channel values (eval: the running averages), constants for autograd;
 * - `'none'`: no batch statistics (the IN + LN variant; the logits then have 2 entries).
 */
export type BatchStatisticsSource = 'batch' | 'none' | { mean: ArrayLike<number>; variance: ArrayLike<number> };

export interface SwitchableNormalizeOptions {
  /** Importance logits of the means, [3] (instance, layer, batch) or [2] without batch statistics. */
  meanWeight: Tensor;
  /** Importance logits of the variances, same shape as `meanWeight`. */
  varWeight: Tensor;
  /** Per-channel gamma, [C], or null. */
  weight?: Tensor | null;
  /** Per-channel beta, [C], or null. */
  bias?: Tensor | null;
  /** Default `'batch'`. */
  batchStatistics?: BatchStatisticsSource;
  /** Added to the mixed variance (default 1e-5), > 0. */
  eps?: number;
  /** Name in errors and in the autograd graph (default `switchableNorm`). */
  op?: string;
}

export interface SwitchableNormalizeResult {
  output: Tensor;
  /**
   * With `batchStatistics: 'batch'`: the per-channel batch mean and biased variance and the number
   * of values each was taken over (N * spatial), for the running-average update; otherwise null.
   */
  batch: { count: number; mean: Float64Array; variance: Float64Array } | null;
}

/** softmax of a small logit vector in float64, shifted by the max so large logits do not overflow. */
export function softmaxOf(logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(logits.length);
  let top = -Infinity;
  for (let k = 0; k < logits.length; k++) top = Math.max(top, logits[k]!);
  let total = 0;
  for (let k = 0; k < logits.length; k++) {
    out[k] = Math.exp(logits[k]! - top);
    total += out[k]!;
  }
  for (let k = 0; k < logits.length; k++) out[k]! /= total;
  return out;
}

/**
 * The fused Switchable Normalization kernel (Luo, Ren, Peng, Zhang & Li, "Differentiable Learning-to-
 * Normalize via Switchable Normalization", ICLR 2019) as ONE autograd node over
 * [x, weight?, bias?, meanWeight, varWeight] with an analytic backward.
 *
 * Forward, for x[n, c, i] with N samples, C channels, S spatial positions:
 *
 *   mu_in[n,c]  = mean_i x                      v_in[n,c] = mean_i (x - mu_in)^2         (biased)
 *   mu_ln[n]    = mean_c mu_in                  v_ln[n]   = mean_c (v_in + (mu_in - mu_ln)^2)
 *   mu_bn[c]    = mean_n mu_in                  v_bn[c]   = mean_n (v_in + (mu_in - mu_bn)^2)
 *   a = softmax(meanWeight), b = softmax(varWeight)          (order: instance, layer, batch)
 *   mu[n,c] = a_in mu_in + a_ln mu_ln + a_bn mu_bn     v[n,c] = b_in v_in + b_ln v_ln + b_bn v_bn
 *   r = (v + eps)^(-1/2),   y = (x - mu) * r * gamma_c + beta_c
 *
 * v_ln and v_bn are exactly the biased variances over (C, S) and (N, S): the paper's
 * mean(v_in + mu_in^2) - mu^2, written as the sum of within- and between-slot deviations so a large
 * mean does not cancel them. Only the per-(n, c) instance statistics read the data (the core's
 * `computeStatistics`, two-pass in float64); the layer and batch ones are derived from them.
 *
 * Backward. With g = dL/dy and h = g * gamma, per slot (n, c):
 *
 *   G_mu[n,c] = dL/dmu = -r * sum_i h            G_v[n,c] = dL/dv = -r^3 / 2 * sum_i h (x - mu)
 *   dL/dgamma_c = sum_{n,i} g (x - mu) r          dL/dbeta_c = sum_{n,i} g
 *
 * Through the mixtures (M_ln[n] = a_ln sum_c G_mu, M_bn[c] = a_bn sum_n G_mu, V_ln[n] = b_ln sum_c G_v,
 * V_bn[c] = b_bn sum_n G_v) back to the instance statistics, using dmu_ln/dmu_in = 1/C,
 * dv_ln/dv_in = 1/C, dv_ln/dmu_in = 2 (mu_in - mu_ln) / C (the term through mu_ln sums to zero),
 * and the same over N for the batch statistics:
 *
 *   D_v[n,c]  = b_in G_v + V_ln / C + V_bn / N
 *   D_mu[n,c] = a_in G_mu + M_ln / C + M_bn / N + 2 V_ln (mu_in - mu_ln) / C + 2 V_bn (mu_in - mu_bn) / N
 *
 * and finally, with dmu_in/dx_i = 1/S and dv_in/dx_i = 2 (x_i - mu_in) / S,
 *
 *   dx_i = r h_i + D_mu / S + 2 D_v (x_i - mu_in) / S.
 *
 * With fixed batch statistics (eval) the M_bn and V_bn terms vanish. The logits: dL/da_k =
 * sum_{n,c} G_mu * mu_k, dL/db_k = sum_{n,c} G_v * v_k, then through the softmax
 * dL/dtheta_k = a_k (dL/da_k - sum_j a_j dL/da_j). Instance normalisation is the check: with
 * a_in = b_in = 1 this is r (h - mean(h) - xhat mean(h xhat)), the shared kernel's formula.
 *
 * float64 data whose variances overflow (spread around 1e155 and more) is normalised as x * 2^-k
 * with eps * 2^-2k, which is the same normalisation, k bringing max |x| to about 2^400; dL/dx is
 * scaled back. One scale serves the whole input because the mixtures cross samples and channels:
 * a slot whose own spread is below about 2^-500 of max |x| (an all-zero sample beside one around
 * 1e200 without batch statistics) then has a variance and eps below float64's range and gives NaN.
 *
 * @example
 * const logits = zeros([3], { requiresGrad: true });
 * const { output } = switchableNormalize(randn([4, 8, 5, 5]), { meanWeight: logits, varWeight: logits });
 */
export function switchableNormalize(x: Tensor, options: SwitchableNormalizeOptions): SwitchableNormalizeResult {
  const op = options.op ?? 'switchableNorm';
  const sizes = checkChannelsFirst(op, x, 3);
  const c = sizes.channels;
  const source = options.batchStatistics ?? 'batch';
  const k = source === 'none' ? 2 : 3;
  const weight = options.weight ?? null;
  const bias = options.bias ?? null;
  const { meanWeight, varWeight } = options;
  for (const [name, logits] of [['meanWeight', meanWeight], ['varWeight', varWeight]] as const) {
    if (isTensor(logits)) checkTensor(op, logits, name);
    if (!(logits instanceof Tensor) || logits.size !== k) {
      throw new ShapeError({
        op,
        expected: `${name} with ${k} importance logits (${SWITCHABLE_STATISTICS.slice(0, k).join(', ')})`,
        given: logits instanceof Tensor ? `shape ${formatShape(logits.shape)}` : String(logits),
      });
    }
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && p.size !== c) throw new ShapeError({ op, expected: `${name} with ${c} elements (one per channel)`, given: `shape ${formatShape(p.shape)}` });
  }
  if (typeof source === 'object') {
    if (source.mean.length !== c || source.variance.length !== c) {
      throw new ShapeError({ op, expected: `fixed batch statistics with ${c} values each`, given: `${source.mean.length} means and ${source.variance.length} variances` });
    }
    for (let ch = 0; ch < c; ch++) {
      if (!Number.isFinite(source.mean[ch]!) || !(source.variance[ch]! >= 0) || !Number.isFinite(source.variance[ch]!)) {
        throw new ValueError({ op, expected: 'finite fixed batch means and variances >= 0', given: `mean ${source.mean[ch]}, variance ${source.variance[ch]} for channel ${ch}` });
      }
    }
  }
  return runSwitchableNormalize(x, sizes, { ...options, op, eps: checkEps(op, options.eps ?? 1e-5) });
}

/** The fused node on options already checked (by `switchableNormalize` or by SwitchableNorm's constructor and forward). */
function runSwitchableNormalize(
  x: Tensor, { batch: n, channels: c, spatial: s }: ChannelsFirstSizes, options: SwitchableNormalizeOptions & { op: string; eps: number },
): SwitchableNormalizeResult {
  const { op, eps, meanWeight, varWeight } = options;
  const source = options.batchStatistics ?? 'batch';
  const k = source === 'none' ? 2 : 3;
  const weight = options.weight ?? null;
  const bias = options.bias ?? null;
  const slots = n * c;
  const a = softmaxOf(meanWeight.data);
  const b = softmaxOf(varWeight.data);
  // The data normalised: x, or x * scale (an exact power of two) when a variance overflows float64.
  // Normalisation is scale invariant with eps * scale^2, so only dL/dx and the batch statistics
  // reported for the running averages need scaling back.
  let xs = x.data;
  let scale = 1;
  const w = weight?.data ?? null;
  const beta = bias?.data ?? null;
  const out = allocate(x.dtype, x.size);
  // Instance moments, the mixture and the affine on the core's slot kernels (WebAssembly on `wasm`).
  const mixed: { stats?: MixedStatistics } = {};
  mixSlotsForward({
    x: xs, out, slots, inner: s,
    mix: (muIn, varIn) => {
      const stats = mixInstanceStatistics(muIn, varIn, n, c, source, a, b, eps, 1);
      mixed.stats = stats;
      return affineCoefficients(stats.mu, stats.rstd, c, w, beta);
    },
  });
  let stats = mixed.stats!;
  if (stats.overflowed) {
    scale = overflowScale(xs);
    if (scale !== 1) {
      xs = Float64Array.from(xs, (v) => v * scale);
      stats = mixedStatistics(xs, n, c, s, source, a, b, eps * scale * scale, scale);
      affineSlots(xs, out, slots, c, s, stats.mu, stats.rstd, w, beta);
    }
  }
  const { muIn, varIn, muLn, varLn, muBn, varBn, mu, rstd } = stats;

  const output = customOp({
    op,
    inputs: { x, weight, bias, meanWeight, varWeight },
    data: out,
    shape: x.shape,
    backward: (gradOutput) => {
      const gamma = weight?.data ?? null;

      const gradWeight = weight ? new Float64Array(c) : null;
      const gradBias = bias ? new Float64Array(c) : null;
      // G_mu and G_v per slot, and their sums per sample (layer) and per channel (batch).
      const gMu = new Float64Array(slots);
      const gVar = new Float64Array(slots);
      const lnMu = new Float64Array(n);
      const lnVar = new Float64Array(n);
      const bnMu = new Float64Array(c);
      const bnVar = new Float64Array(c);
      const gradA = new Float64Array(k);
      const gradB = new Float64Array(k);
      // Per slot: the parameter gradients, G_mu and G_v, and their per-sample and per-channel sums.
      const accumulate = (sumG: Float64Array, sumGCentred: Float64Array): void => {
        for (let slot = 0; slot < slots; slot++) {
          const row = Math.floor(slot / c);
          const ch = slot - row * c;
          const r = rstd[slot]!;
          const g = gamma !== null ? gamma[ch]! : 1;
          if (gradWeight !== null) gradWeight[ch]! += sumGCentred[slot]! * r;
          if (gradBias !== null) gradBias[ch]! += sumG[slot]!;
          const dMu = -r * g * sumG[slot]!;
          // -r^3 / 2 * sum(h (x - mu)), multiplied so no intermediate goes below O(r^2) (r is small for large data).
          const dVar = -0.5 * g * r * (r * (r * sumGCentred[slot]!));
          gMu[slot] = dMu;
          gVar[slot] = dVar;
          lnMu[row]! += dMu;
          lnVar[row]! += dVar;
          bnMu[ch]! += dMu;
          bnVar[ch]! += dVar;
          gradA[0]! += dMu * muIn[slot]!;
          gradA[1]! += dMu * muLn[row]!;
          gradB[0]! += dVar * varIn[slot]!;
          gradB[1]! += dVar * varLn[row]!;
          if (muBn !== null) {
            gradA[2]! += dMu * muBn[ch]!;
            gradB[2]! += dVar * varBn![ch]!;
          }
        }
      };

      // Batch statistics of this batch depend on x; fixed ones (eval) do not.
      const throughBatch = source === 'batch';
      /** dx = gain * g + slope * (x - mu_in) + dMuIn / S per slot (from G_mu, G_v and their sums). */
      const inputCoefficients = (slot: number): { gain: number; slope: number; dMuIn: number } => {
        const row = Math.floor(slot / c);
        const ch = slot - row * c;
        const vLn = (b[1]! * lnVar[row]!) / c;
        let dVarIn = b[0]! * gVar[slot]! + vLn;
        let dMuIn = a[0]! * gMu[slot]! + (a[1]! * lnMu[row]!) / c + 2 * vLn * (muIn[slot]! - muLn[row]!);
        if (throughBatch) {
          const vBn = (b[2]! * bnVar[ch]!) / n;
          dVarIn += vBn;
          dMuIn += (a[2]! * bnMu[ch]!) / n + 2 * vBn * (muIn[slot]! - muBn![ch]!);
        }
        return { gain: rstd[slot]! * (gamma !== null ? gamma[ch]! : 1) * scale, slope: (2 * dVarIn) / s, dMuIn };
      };

      const gradX: TypedArray | null = x.requiresGrad ? allocate(x.dtype, x.size) : null;
      if (scale === 1) {
        // Sums, the mixture's backward and dx = a * g - c * x + e on the core's slot kernels.
        mixSlotsBackward({
          gradOutput, x: xs, gradX, slots, inner: s, mean: mu,
          mix: (sumG, sumGCentred) => {
            accumulate(sumG, sumGCentred);
            if (gradX === null) return null;
            const coefficientA = new Float64Array(slots);
            const coefficientC = new Float64Array(slots);
            const coefficientE = new Float64Array(slots);
            for (let slot = 0; slot < slots; slot++) {
              const { gain, slope, dMuIn } = inputCoefficients(slot);
              coefficientA[slot] = gain;
              coefficientC[slot] = -slope;
              coefficientE[slot] = dMuIn / s - slope * muIn[slot]!;
            }
            return { a: coefficientA, c: coefficientC, e: coefficientE };
          },
        });
      } else {
        const sumG = new Float64Array(slots);
        const sumGCentred = new Float64Array(slots);
        slotGradientSums(gradOutput, xs, slots, s, mu, sumG, sumGCentred);
        accumulate(sumG, sumGCentred);
      }
      if (gradX !== null && scale !== 1) {
        for (let slot = 0; slot < slots; slot++) {
          const { gain, slope, dMuIn } = inputCoefficients(slot);
          // x was scaled: multiplied as (x - mu_in) * scale * slope, since slope * scale alone can leave float64's range.
          gradXBlockCentred(gradOutput, xs, gradX, slot * s, slot * s + s, gain, muIn[slot]!, scale, -slope, (-dMuIn / s) * scale);
        }
      }
      return { x: gradX, weight: gradWeight, bias: gradBias, meanWeight: softmaxBackward(a, gradA), varWeight: softmaxBackward(b, gradB) };
    },
  });

  const batch = source === 'batch'
    ? { count: n * s, mean: muBn!.map((m) => m / scale), variance: varBn!.map((v) => v / scale / scale) }
    : null;
  return { output, batch };
}

interface MixedStatistics {
  muIn: Float64Array;
  varIn: Float64Array;
  muLn: Float64Array;
  varLn: Float64Array;
  muBn: Float64Array | null;
  varBn: Float64Array | null;
  mu: Float64Array;
  rstd: Float64Array;
  /** Some mixed variance is not finite: float64 data beyond the square range (or NaN). */
  overflowed: boolean;
}

/** The instance, layer and batch statistics of `xs` (x * scale) and their mixtures, per slot. */
function mixedStatistics(
  xs: TypedArray, n: number, c: number, s: number, source: BatchStatisticsSource, a: Float64Array, b: Float64Array, eps: number, scale: number,
): MixedStatistics {
  const instance = computeStatistics(xs, { layout: { outer: n, groups: c, inner: s }, acrossOuter: false, center: true });
  return mixInstanceStatistics(instance.mean, instance.variance, n, c, source, a, b, eps, scale);
}

/** The layer and batch statistics derived from the instance ones, and their mixtures per slot. */
function mixInstanceStatistics(
  muIn: Float64Array, varIn: Float64Array, n: number, c: number, source: BatchStatisticsSource, a: Float64Array, b: Float64Array, eps: number,
  scale: number,
): MixedStatistics {
  const slots = n * c;
  const muLn = new Float64Array(n);
  const varLn = new Float64Array(n);
  layerStatistics(muIn, varIn, n, c, muLn, varLn);
  let muBn: Float64Array | null = null;
  let varBn: Float64Array | null = null;
  if (source === 'batch') {
    muBn = new Float64Array(c);
    varBn = new Float64Array(c);
    batchStatistics(muIn, varIn, n, c, muBn, varBn);
  } else if (source !== 'none') {
    // Copied: the caller's running averages move after this forward, the backward must not see that.
    muBn = Float64Array.from(source.mean, (m) => m * scale);
    varBn = Float64Array.from(source.variance, (v) => v * scale * scale);
  }
  const mu = new Float64Array(slots);
  const rstd = new Float64Array(slots);
  let overflowed = false;
  for (let slot = 0; slot < slots; slot++) {
    const row = Math.floor(slot / c);
    const ch = slot - row * c;
    let m = a[0]! * muIn[slot]! + a[1]! * muLn[row]!;
    let v = b[0]! * varIn[slot]! + b[1]! * varLn[row]!;
    if (muBn !== null) {
      m += a[2]! * muBn[ch]!;
      v += b[2]! * varBn![ch]!;
    }
    mu[slot] = m;
    rstd[slot] = 1 / Math.sqrt(v + eps);
    if (!(v < Infinity)) overflowed = true;
  }
  return { muIn, varIn, muLn, varLn, muBn, varBn, mu, rstd, overflowed };
}

/**
 * The power of two that brings max |x| to about 2^400 when it is larger (1 otherwise, or for data
 * with Infinity or NaN, where scaling cannot help): squares then fit float64, and a slot whose
 * spread is as small as 2^-500 of max |x| still has a normal variance.
 */
function overflowScale(xs: TypedArray): number {
  let top = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = Math.abs(xs[i]!);
    if (!(v <= top)) top = v;
  }
  if (!(top < Infinity) || top <= 2 ** 400) return 1;
  return 2 ** (400 - Math.ceil(Math.log2(top)));
}

/** dL/dtheta_k = p_k (dL/dp_k - sum_j p_j dL/dp_j) for p = softmax(theta). */
function softmaxBackward(p: Float64Array, gradP: Float64Array): Float64Array {
  let dot = 0;
  for (let k = 0; k < p.length; k++) dot += p[k]! * gradP[k]!;
  const out = new Float64Array(p.length);
  for (let k = 0; k < p.length; k++) out[k] = p[k]! * (gradP[k]! - dot);
  return out;
}

/** mu_ln[n] = mean_c mu_in; v_ln[n] = mean_c (v_in + (mu_in - mu_ln)^2): the biased variance over (C, S). */
function layerStatistics(muIn: Float64Array, varIn: Float64Array, n: number, c: number, muLn: Float64Array, varLn: Float64Array): void {
  for (let row = 0; row < n; row++) {
    let total = 0;
    for (let ch = 0; ch < c; ch++) total += muIn[row * c + ch]!;
    const m = total / c;
    let spread = 0;
    for (let ch = 0; ch < c; ch++) {
      const d = muIn[row * c + ch]! - m;
      spread += varIn[row * c + ch]! + d * d;
    }
    muLn[row] = m;
    varLn[row] = spread / c;
  }
}

/** mu_bn[c] = mean_n mu_in; v_bn[c] = mean_n (v_in + (mu_in - mu_bn)^2): the biased variance over (N, S). */
function batchStatistics(muIn: Float64Array, varIn: Float64Array, n: number, c: number, muBn: Float64Array, varBn: Float64Array): void {
  for (let row = 0; row < n; row++) for (let ch = 0; ch < c; ch++) muBn[ch]! += muIn[row * c + ch]!;
  for (let ch = 0; ch < c; ch++) muBn[ch]! /= n;
  for (let row = 0; row < n; row++) {
    for (let ch = 0; ch < c; ch++) {
      const d = muIn[row * c + ch]! - muBn[ch]!;
      varBn[ch]! += varIn[row * c + ch]! + d * d;
    }
  }
  for (let ch = 0; ch < c; ch++) varBn[ch]! /= n;
}

// The loops below are top-level functions taking the arrays as arguments (the engine keeps them in
// registers, unlike closure variables), with four accumulators where they reduce (see slotwise.ts).

/** Per slot scale = r * gamma_c and shift = beta_c - mu * scale, as `affineSlots` applies them. */
function affineCoefficients(
  mu: Float64Array, rstd: Float64Array, c: number, w: TypedArray | null, b: TypedArray | null,
): { scale: Float64Array; shift: Float64Array } {
  const slots = mu.length;
  const scale = new Float64Array(slots);
  const shift = new Float64Array(slots);
  for (let slot = 0; slot < slots; slot++) {
    const ch = slot % c;
    scale[slot] = rstd[slot]! * (w !== null ? w[ch]! : 1);
    shift[slot] = (b !== null ? b[ch]! : 0) - mu[slot]! * scale[slot]!;
  }
  return { scale, shift };
}

/** out = x * scale + shift per slot, scale = r * gamma_c, shift = beta_c - mu * scale. */
function affineSlots(
  xs: TypedArray, out: TypedArray, slots: number, c: number, s: number, mu: Float64Array, rstd: Float64Array, w: TypedArray | null, b: TypedArray | null,
): void {
  for (let slot = 0; slot < slots; slot++) {
    const ch = slot % c;
    const scale = rstd[slot]! * (w !== null ? w[ch]! : 1);
    affineBlock(xs, out, slot * s, slot * s + s, scale, (b !== null ? b[ch]! : 0) - mu[slot]! * scale);
  }
}

/** Per slot: sumG = sum(g), sumGCentred = sum(g * (x - mu)), with the core's unrolled block reduction. */
function slotGradientSums(
  gy: TypedArray, xs: TypedArray, slots: number, s: number, mu: Float64Array, sumG: Float64Array, sumGCentred: Float64Array,
): void {
  const sums = new Float64Array(2);
  for (let slot = 0; slot < slots; slot++) {
    blockSums(gy, xs, slot * s, slot * s + s, mu[slot]!, sums);
    sumG[slot] = sums[0]!;
    sumGCentred[slot] = sums[1]!;
  }
}

/** SwitchableNorm's options besides numFeatures: the one schema the constructor, the plugin and the docs read. */
export const switchableNormOptionsSchema = {
  eps: { type: 'number', default: 1e-5, min: 0, minExclusive: true, description: 'Added to the mixed variance.' },
  momentum: {
    type: 'number',
    default: 0.1,
    min: 0,
    max: 1,
    description: "Weight of the new batch in the running averages (PyTorch's convention; the paper's code writes 0.9 for the same update).",
  },
  usingBatchStats: { type: 'boolean', default: true, description: 'Mix in batch statistics (false: the batch-free IN + LN variant).' },
  usingMovingAverage: { type: 'boolean', default: true, description: 'Exponential running averages; false: cumulative average over all batches.' },
  dtype: { ...dtypeOptionSpec, description: 'Parameter and buffer dtype; inputs must match.' },
} as const satisfies OptionsSchema;

export interface SwitchableNormOptions {
  /** C, the size of the channel axis (axis 1). */
  numFeatures: number;
  /** Added to the mixed variance (default 1e-5), > 0. */
  eps?: number;
  /**
   * Weight of the new batch in the running averages (default 0.1), PyTorch's convention:
   * `running = (1 - momentum) * running + momentum * batch`. The paper's code writes 0.9 for the same
   * update (`running = momentum * running + (1 - momentum) * batch`).
   */
  momentum?: number;
  /** Mix batch statistics in (default true); false: the batch-free IN + LN variant, no running averages. */
  usingBatchStats?: boolean;
  /** Exponential running averages (default true); false: the cumulative average of every batch seen. */
  usingMovingAverage?: boolean;
  /** Parameter and buffer dtype (default float32); inputs must have the same dtype. */
  dtype?: DType;
}

/** The current softmaxed importance of each statistic; `batch` only with batch statistics. */
export interface SwitchableImportance {
  mean: { instance: number; layer: number; batch?: number };
  variance: { instance: number; layer: number; batch?: number };
}

/**
 * Switchable Normalization (Luo et al., "Differentiable Learning-to-Normalize via Switchable
 * Normalization", ICLR 2019) for [N, C, *spatial] inputs: each layer learns how much of
 * InstanceNorm's, LayerNorm's and BatchNorm's statistics to use. Means and variances are mixed
 * with two separate softmax-normalised importance vectors, `mean_weight` and `var_weight`
 * (initialised equal, order instance, layer, batch), then one per-channel affine follows:
 *
 *   y = (x - sum_k a_k mu_k) / sqrt(sum_k b_k var_k + eps) * gamma + beta
 *
 * Unlike `NormalizerMixture`, which mixes the OUTPUTS of whole normalizers, SN mixes their
 * STATISTICS and normalises once: one fused node with an analytic backward (see
 * `switchableNormalize`), statistics in float64.
 *
 * Equivalences (tested): with one-hot importance it is BatchNorm (training and eval), LayerNorm over
 * (C, *spatial) and InstanceNorm respectively. Variances are biased when normalising; `running_var`
 * stores the unbiased batch variance, and the running averages follow PyTorch's momentum convention,
 * both exactly as `@normkit/batch`'s BatchNorm. In eval the batch statistics are the running
 * averages, while the instance and layer statistics still come from the input.
 *
 * Parameters `weight`, `bias` ([C]), `mean_weight`, `var_weight` ([3], or [2] without batch
 * statistics) and buffers `running_mean`, `running_var`, `num_batches_tracked` carry the names of
 * the authors' PyTorch code (whose tensors are shaped [1, C, 1, 1]; squeeze them when porting).
 *
 * @example
 * const sn = new SwitchableNorm({ numFeatures: 64 });
 * const y = sn.forward(randn([8, 64, 16, 16]));
 * console.log(sn.importance()); // { mean: { instance: 0.333, layer: 0.333, batch: 0.333 }, variance: ... }
 */
export class SwitchableNorm extends RunningStatisticsNorm implements Normalizer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly usingBatchStats: boolean;
  readonly usingMovingAverage: boolean;
  readonly dtype: DType;
  /** gamma, [C]. */
  readonly weight: Parameter;
  /** beta, [C]. */
  readonly bias: Parameter;
  /** Importance logits of the means: [instance, layer, batch] (or [instance, layer]). */
  readonly meanWeight: Parameter;
  /** Importance logits of the variances, same order. */
  readonly varWeight: Parameter;

  constructor(options: SwitchableNormOptions) {
    super();
    // Checked once, here, against the schema the plugin uses too; forward trusts these fields.
    const resolved = resolveModuleOptions('SwitchableNorm', options, { schema: switchableNormOptionsSchema, required: { numFeatures: { min: 1, integer: true } } });
    ({ numFeatures: this.numFeatures, eps: this.eps, momentum: this.momentum, usingBatchStats: this.usingBatchStats } = resolved);
    ({ usingMovingAverage: this.usingMovingAverage, dtype: this.dtype } = resolved);
    const dtype = this.dtype;
    const c = this.numFeatures;
    const k = this.usingBatchStats ? 3 : 2;
    this.weight = this.registerParameter('weight', new Parameter(ones([c], { dtype })));
    this.bias = this.registerParameter('bias', new Parameter(zeros([c], { dtype })));
    // Equal logits: every statistic starts with importance 1/k, as in the paper.
    this.meanWeight = this.registerParameter('mean_weight', new Parameter(ones([k], { dtype })));
    this.varWeight = this.registerParameter('var_weight', new Parameter(ones([k], { dtype })));
    if (this.usingBatchStats) this.registerRunningStatistics(c, dtype);
  }

  /** The softmaxed importance of each statistic, for the means and for the variances. */
  importance(): SwitchableImportance {
    const named = (p: Float64Array) => ({ instance: p[0]!, layer: p[1]!, ...(this.usingBatchStats ? { batch: p[2]! } : {}) });
    return { mean: named(softmaxOf(this.meanWeight.data)), variance: named(softmaxOf(this.varWeight.data)) };
  }

  /** Resets the running statistics, gamma to 1, beta to 0 and the importance logits to equal. */
  resetParameters(): void {
    this.resetRunningStats();
    this.weight.data.fill(1);
    this.bias.data.fill(0);
    this.meanWeight.data.fill(1);
    this.varWeight.data.fill(1);
  }

  forward(x: Tensor, context: NormalizerContext = {}): Tensor {
    const op = 'SwitchableNorm.forward';
    const sizes = checkChannelsFirst(op, x, 3);
    const { batch, spatial } = sizes;
    checkChannels(op, x, this.numFeatures, 'numFeatures');
    checkModuleDType(op, x, this.dtype);
    refuseMask(op, context, 'SwitchableNorm has no masked statistics; BatchNorm and GroupNorm accept one');
    const useBatch = this.usingBatchStats && this.training;
    if (useBatch && batch * spatial <= 1) {
      throw new ValueError(
        { op, expected: 'more than 1 value per channel in training (the unbiased running variance needs 2)', given: `input of shape ${formatShape(x.shape)}` },
        'Use a larger batch or spatial size, eval mode, or usingBatchStats: false.',
      );
    }
    const batchStatistics: BatchStatisticsSource = !this.usingBatchStats
      ? 'none'
      : useBatch
        ? 'batch'
        : this.runningStatistics();
    const result = runSwitchableNormalize(x, sizes, {
      op: 'switchableNorm',
      weight: this.weight,
      bias: this.bias,
      meanWeight: this.meanWeight,
      varWeight: this.varWeight,
      batchStatistics,
      eps: this.eps,
    });
    // Only after the kernel succeeded: a throwing forward leaves the running averages untouched.
    if (result.batch) this.updateRunningStats(result.batch);
    return result.output;
  }

  /** The shared PyTorch update (unbiased variance), momentum or the cumulative average. */
  private updateRunningStats(batch: { count: number; mean: Float64Array; variance: Float64Array }): void {
    this.trackBatchStatistics(
      { count: new Float64Array(this.numFeatures).fill(batch.count), mean: batch.mean, variance: batch.variance },
      this.usingMovingAverage ? this.momentum : null,
    );
  }
}
