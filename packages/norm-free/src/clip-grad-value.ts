import { OptionError, checkOptionKeys, type GradientEntry, type GradientTransform, type GradientTransformReport } from '@normkit/tensor';
import {
  checkNonFinitePolicy, checkPositive, isGradientSource, screenNonFinite, toGradientEntries, withGradients,
  type GradientSource, type NonFinitePolicy, type SkippedReport,
} from './shared';

export interface ClipGradValueOptions {
  /** Every gradient element is clamped to [-value, value]; must be > 0. */
  value: number;
  /** Non-finite gradients: 'error' (default) throws before changing anything; 'skip' changes nothing and reports. */
  nonFinite?: NonFinitePolicy;
}

export interface ResolvedClipGradValueOptions {
  value: number;
  nonFinite: NonFinitePolicy;
}

/** What the clip-grad-value transform reports each step. */
export interface ClipGradValueReport extends GradientTransformReport {
  /** Gradient elements clamped to -value or value. */
  clippedElements: number;
}

/** The gradient transform `clipGradValue(options)` returns. */
export interface ClipGradValueTransform extends GradientTransform {
  readonly name: 'clip-grad-value';
  readonly options: Readonly<ResolvedClipGradValueOptions>;
  apply(entries: readonly GradientEntry[]): ClipGradValueReport | SkippedReport;
}

export function resolveClipGradValueOptions(op: string, options: ClipGradValueOptions): ResolvedClipGradValueOptions {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError({ op, expected: 'options { value, nonFinite? }', given: options === undefined ? 'no options' : String(options) });
  }
  checkOptionKeys(op, options, ['value', 'nonFinite'] satisfies (keyof ClipGradValueOptions)[]);
  return { value: checkPositive(op, 'value', options.value), nonFinite: checkNonFinitePolicy(op, options.nonFinite) };
}

function clipEntries(op: string, entries: readonly GradientEntry[], options: ResolvedClipGradValueOptions): { clipped: number; nonFinite: string[] } {
  const withGrad = withGradients(entries);
  const nonFinite = screenNonFinite(op, withGrad, options.nonFinite);
  if (nonFinite.length > 0) return { clipped: 0, nonFinite };
  const { value } = options;
  let clipped = 0;
  for (const { parameter } of withGrad) {
    const g = parameter.grad!.data;
    for (let i = 0; i < g.length; i++) {
      const v = g[i]!;
      if (v > value) {
        g[i] = value;
        clipped++;
      } else if (v < -value) {
        g[i] = -value;
        clipped++;
      }
    }
  }
  return { clipped, nonFinite };
}

/**
 * Gradient clipping by value, as `torch.nn.utils.clip_grad_value_`: every gradient element is
 * clamped to `[-value, value]` in place. Unlike `clipGradNorm` it changes the direction of the
 * update. Parameters without a gradient are skipped.
 *
 * Two forms: `clipGradValue(parameters, options)` clips now and returns how many elements were
 * clamped; `clipGradValue(options)` returns a GradientTransform (reporting `clippedElements`).
 * A NaN or infinite gradient is refused (ValueError) before anything changes, since clamping
 * would hide an infinity as `value`; `nonFinite: 'skip'` leaves them and reports them instead.
 *
 * @example
 * clipGradValue(model, { value: 0.5 });
 * const optimizer = new Adam(model, { lr: 1e-3, gradientTransforms: [clipGradValue({ value: 0.5 })] });
 */
export function clipGradValue(options: ClipGradValueOptions): ClipGradValueTransform;
export function clipGradValue(parameters: GradientSource, options: ClipGradValueOptions): number;
export function clipGradValue(first: GradientSource | ClipGradValueOptions, second?: ClipGradValueOptions): ClipGradValueTransform | number {
  const op = 'clipGradValue';
  if (second === undefined) {
    if (isGradientSource(first)) {
      throw new OptionError({ op, expected: 'options { value } after the parameters: clipGradValue(parameters, { value })', given: 'parameters and no options' });
    }
    const options = Object.freeze(resolveClipGradValueOptions(op, first));
    return {
      name: 'clip-grad-value',
      options,
      apply(entries: readonly GradientEntry[]): ClipGradValueReport | SkippedReport {
        const { clipped, nonFinite } = clipEntries(op, entries, options);
        if (nonFinite.length > 0) return { skipped: true, nonFinite: nonFinite.join(', ') };
        return { clippedElements: clipped };
      },
    };
  }
  return clipEntries(op, toGradientEntries(op, first as GradientSource), resolveClipGradValueOptions(op, second)).clipped;
}
