import { OptionError, checkOptionKeys, type GradientEntry, type GradientTransform, type GradientTransformReport, type TypedArray } from '@normkit/tensor';
import {
  checkNonFinitePolicy, checkPositive, isGradientSource, maxAbs, scaleInPlace, screenNonFinite, toGradientEntries, withGradients,
  type GradientSource, type NonFinitePolicy, type SkippedReport,
} from './shared';

/** p of the p-norm: a number > 0, `Infinity`, or `'inf'`; `null` (how JSON writes Infinity) also means the max norm. */
export type NormType = number | 'inf' | null;

export interface ClipGradNormOptions {
  /** Largest total norm allowed; must be > 0. */
  maxNorm: number;
  /** p of the total p-norm (default 2); `'inf'` (or `Infinity`, or `null`): the largest |g|. */
  normType?: NormType;
  /** Non-finite gradients: 'error' (default) throws before changing anything; 'skip' changes nothing and reports (see `NonFinitePolicy`). */
  nonFinite?: NonFinitePolicy;
}

export interface ResolvedClipGradNormOptions {
  maxNorm: number;
  /** p as a number, `Infinity` for the max norm. */
  normType: number;
  nonFinite: NonFinitePolicy;
}

/** What the clip-grad-norm transform reports each step. */
export interface ClipGradNormReport extends GradientTransformReport {
  /** The total norm before clipping. */
  totalNorm: number;
  /** min(1, maxNorm / (totalNorm + 1e-6)), the factor every gradient was multiplied by. */
  clipCoefficient: number;
  clipped: boolean;
}

/** The gradient transform `clipGradNorm(options)` returns; its options are fixed at creation. */
export interface ClipGradNormTransform extends GradientTransform {
  readonly name: 'clip-grad-norm';
  readonly options: Readonly<ResolvedClipGradNormOptions>;
  apply(entries: readonly GradientEntry[]): ClipGradNormReport | SkippedReport;
}

/** Checks and fills the options of `clipGradNorm`. */
export function resolveClipGradNormOptions(op: string, options: ClipGradNormOptions): ResolvedClipGradNormOptions {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError({ op, expected: 'options { maxNorm, normType?, nonFinite? }', given: options === undefined ? 'no options' : String(options) });
  }
  checkOptionKeys(op, options, ['maxNorm', 'normType', 'nonFinite'] satisfies (keyof ClipGradNormOptions)[]);
  const maxNorm = checkPositive(op, 'maxNorm', options.maxNorm);
  const raw = options.normType === undefined ? 2 : options.normType;
  let normType: number;
  if (raw === 'inf' || raw === null || raw === Infinity) {
    normType = Infinity;
  } else if (typeof raw === 'number' && Number.isFinite(raw) && raw > 0) {
    normType = raw;
  } else {
    throw new OptionError({ op, expected: "normType to be a number > 0 (2: Euclidean), or 'inf' / Infinity / null (largest |g|)", given: `normType = ${String(raw)}` });
  }
  return { maxNorm, normType, nonFinite: checkNonFinitePolicy(op, options.nonFinite) };
}

/**
 * The p-norm of all gradients together, as if concatenated into one vector (equal to the p-norm
 * of the per-tensor p-norms, torch's formulation), accumulated in float64. For p other than 1
 * and 2, and when their plain sums overflow, the sum runs over |g| / max|g| so that large values
 * and large p neither overflow nor underflow. NaN anywhere gives NaN, an infinity gives Infinity.
 */
export function totalGradNorm(gradients: readonly TypedArray[], normType: number): number {
  if (gradients.length === 0) return 0;
  if (normType === 1 || normType === 2) {
    let total = 0;
    if (normType === 1) {
      for (const g of gradients) for (let i = 0; i < g.length; i++) total += Math.abs(g[i]!);
    } else {
      for (const g of gradients) {
        for (let i = 0; i < g.length; i++) {
          const v = g[i]!;
          total += v * v;
        }
      }
      total = Math.sqrt(total);
    }
    // +Infinity is either an infinite gradient or an overflow of finite ones: the rescaled sum below tells which.
    if (total !== Infinity) return total;
  }
  let largest = 0;
  for (const g of gradients) {
    const m = maxAbs(g);
    if (Number.isNaN(m)) return Number.NaN;
    largest = Math.max(largest, m);
  }
  if (normType === Infinity || largest === 0 || !Number.isFinite(largest)) return largest;
  let sum = 0;
  for (const g of gradients) for (let i = 0; i < g.length; i++) sum += Math.pow(Math.abs(g[i]!) / largest, normType);
  return largest * Math.pow(sum, 1 / normType);
}

interface ClipResult {
  totalNorm: number;
  coefficient: number;
  nonFinite: string[];
}

function clipEntries(op: string, entries: readonly GradientEntry[], options: ResolvedClipGradNormOptions): ClipResult {
  const withGrad = withGradients(entries);
  const nonFinite = screenNonFinite(op, withGrad, options.nonFinite);
  const gradients = withGrad.map((e) => e.parameter.grad!.data);
  const totalNorm = totalGradNorm(gradients, options.normType);
  if (nonFinite.length > 0) return { totalNorm, coefficient: 1, nonFinite };
  // torch: max_norm / (total_norm + 1e-6), clamped to at most 1.
  const coefficient = Math.min(options.maxNorm / (totalNorm + 1e-6), 1);
  if (coefficient < 1) for (const g of gradients) scaleInPlace(g, 0, g.length, coefficient);
  return { totalNorm, coefficient, nonFinite };
}

/**
 * Gradient clipping by the global norm, as `torch.nn.utils.clip_grad_norm_`: the total p-norm
 * of every gradient taken together, and when it exceeds `maxNorm` every gradient is scaled by
 * the same factor
 *
 *   total = ||(g_1, ..., g_n)||_p,    g_i <- g_i * min(1, maxNorm / (total + 1e-6))
 *
 * so the direction of the whole update is kept (Pascanu et al., 2013). Parameters without a
 * gradient are skipped. Norms accumulate in float64.
 *
 * Two forms:
 * - `clipGradNorm(parameters, options)` clips now and returns the total norm before clipping;
 * - `clipGradNorm(options)` returns a GradientTransform for an optimizer's `gradientTransforms`
 *   (reporting `totalNorm`, `clipCoefficient` and `clipped` every step).
 *
 * Non-finite gradients are refused (ValueError) before anything changes, or with
 * `nonFinite: 'skip'` left untouched and reported (the plain form then returns the non-finite norm).
 *
 * @example
 * loss.backward();
 * const norm = clipGradNorm(model, { maxNorm: 1 });        // like clip_grad_norm_(model.parameters(), 1)
 * const optimizer = new SGD(model, { lr: 0.1, gradientTransforms: [clipGradNorm({ maxNorm: 1, normType: 'inf' })] });
 */
export function clipGradNorm(options: ClipGradNormOptions): ClipGradNormTransform;
export function clipGradNorm(parameters: GradientSource, options: ClipGradNormOptions): number;
export function clipGradNorm(first: GradientSource | ClipGradNormOptions, second?: ClipGradNormOptions): ClipGradNormTransform | number {
  const op = 'clipGradNorm';
  if (second === undefined) {
    if (isGradientSource(first)) {
      throw new OptionError({ op, expected: 'options { maxNorm, normType? } after the parameters: clipGradNorm(parameters, { maxNorm })', given: 'parameters and no options' });
    }
    return clipGradNormTransform(first);
  }
  return clipEntries(op, toGradientEntries(op, first as GradientSource), resolveClipGradNormOptions(op, second)).totalNorm;
}

function clipGradNormTransform(given: ClipGradNormOptions): ClipGradNormTransform {
  const options = Object.freeze(resolveClipGradNormOptions('clipGradNorm', given));
  return {
    name: 'clip-grad-norm',
    options,
    apply(entries: readonly GradientEntry[]): ClipGradNormReport | SkippedReport {
      const { totalNorm, coefficient, nonFinite } = clipEntries('clipGradNorm', entries, options);
      if (nonFinite.length > 0) return { skipped: true, nonFinite: nonFinite.join(', ') };
      return { totalNorm, clipCoefficient: coefficient, clipped: coefficient < 1 };
    },
  };
}
