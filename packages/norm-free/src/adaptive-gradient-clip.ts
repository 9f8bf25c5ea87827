import {
  Module, OptionError, ShapeError, ValueError, checkOptionKeys, formatShape,
  type GradientEntry, type GradientTransform, type GradientTransformReport, type Parameter, type TypedArray,
} from '@normkit/tensor';
import {
  checkNonFinitePolicy, checkPositive, isGradientSource, l2Norm, scaleInPlace, screenNonFinite, toGradientEntries, withGradients,
  type GradientSource, type NonFinitePolicy, type SkippedReport,
} from './shared';

/** What AGC leaves alone: a parameter's dotted name, a module path (every parameter under it), or a Module. */
export type AgcExclusion = string | Module;

export interface AdaptiveGradientClipOptions {
  /** lambda, the largest allowed ratio ||G|| / max(||W||, eps) per unit (default 0.01); must be > 0. */
  clipping?: number;
  /** Floor of the weight norm (default 1e-3), so zero-initialised units (biases, gains, SkipInit's alpha) can move; must be > 0. */
  eps?: number;
  /**
   * Parameters left unclipped, e.g. the final classifier as in the NFNets paper: a parameter name
   * (`'head.weight'`), a module path (`'head'`: every parameter whose name starts with `head.`)
   * or a Module (every parameter it holds, at any depth). A name that matches none of the
   * parameters the transform receives is an error (ValueError), so a typo cannot silently clip
   * the classifier; exclude a layer that may have no gradient by its Module instead.
   */
  exclude?: Iterable<AgcExclusion>;
  /**
   * Also leave unclipped the layer that owns the last parameter received (the last parameter's
   * name without its final segment, and without a `.parametrizations.` suffix; a parameter of the
   * root module itself alone): the classifier head of a model that registers it last. Default
   * false. For configs, where `exclude` cannot hold modules.
   */
  excludeFinalLayer?: boolean;
  /** Non-finite gradients: 'error' (default) throws before changing anything; 'skip' changes nothing and reports. */
  nonFinite?: NonFinitePolicy;
}

export interface ResolvedAdaptiveGradientClipOptions {
  clipping: number;
  eps: number;
  exclude: readonly AgcExclusion[];
  excludeFinalLayer: boolean;
  nonFinite: NonFinitePolicy;
}

/** What one AGC pass did. */
export interface AdaptiveGradientClipReport extends GradientTransformReport {
  /** Units (rows, output channels, whole 1-D or 0-D parameters) of the clipped parameters. */
  units: number;
  /** Units whose gradient was rescaled. */
  clippedUnits: number;
  /** Parameters with a gradient left alone by `exclude` / `excludeFinalLayer`. */
  excludedParameters: number;
}

/** The gradient transform `adaptiveGradientClip(options)` returns. */
export interface AdaptiveGradientClipTransform extends GradientTransform {
  readonly name: 'adaptive-gradient-clip';
  readonly options: Readonly<ResolvedAdaptiveGradientClipOptions>;
  apply(entries: readonly GradientEntry[]): AdaptiveGradientClipReport | SkippedReport;
}

export function resolveAdaptiveGradientClipOptions(op: string, options: AdaptiveGradientClipOptions = {}): ResolvedAdaptiveGradientClipOptions {
  if (typeof options !== 'object' || options === null) {
    throw new OptionError({ op, expected: 'options { clipping?, eps?, exclude?, excludeFinalLayer?, nonFinite? }', given: String(options) });
  }
  checkOptionKeys(op, options, ['clipping', 'eps', 'exclude', 'excludeFinalLayer', 'nonFinite'] satisfies (keyof AdaptiveGradientClipOptions)[]);
  const clipping = checkPositive(op, 'clipping', options.clipping ?? 0.01);
  const eps = checkPositive(op, 'eps', options.eps ?? 1e-3);
  const excludeFinalLayer = options.excludeFinalLayer ?? false;
  if (typeof excludeFinalLayer !== 'boolean') {
    throw new OptionError({ op, expected: 'excludeFinalLayer to be a boolean', given: `excludeFinalLayer = ${String(excludeFinalLayer)}` });
  }
  const given = options.exclude ?? [];
  if (typeof given === 'string' || typeof given !== 'object' || given === null || !(Symbol.iterator in given)) {
    throw new OptionError({
      op,
      expected: "exclude to be a list of parameter names, module paths or Modules, e.g. ['head'] or [model.head]",
      given: `exclude = ${typeof given === 'string' ? JSON.stringify(given) : String(given)}`,
    });
  }
  const exclude = [...given];
  exclude.forEach((item, i) => {
    if (!(item instanceof Module) && (typeof item !== 'string' || item.length === 0)) {
      throw new OptionError({ op, expected: 'every exclude entry to be a non-empty parameter name, module path or Module', given: `exclude[${i}] = ${String(item)}` });
    }
  });
  return { clipping, eps, exclude, excludeFinalLayer, nonFinite: checkNonFinitePolicy(op, options.nonFinite) };
}

/**
 * The path of the layer owning a parameter: `head.bias` -> `head`,
 * `head.parametrizations.weight.original` -> `head`; '' for a parameter of the root module itself.
 */
export function owningLayerPath(name: string): string {
  if (name.startsWith('parametrizations.')) return '';
  const parametrized = name.indexOf('.parametrizations.');
  if (parametrized >= 0) return name.slice(0, parametrized);
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(0, dot);
}

const matchesPath = (name: string, path: string): boolean => name === path || name.startsWith(`${path}.`);

/** The entries (with a gradient) AGC skips; throws a ValueError for a name that matches no entry. */
function excludedSet(op: string, entries: readonly GradientEntry[], options: ResolvedAdaptiveGradientClipOptions): Set<GradientEntry> {
  const excluded = new Set<GradientEntry>();
  for (const item of options.exclude) {
    if (item instanceof Module) {
      const held = new Set<Parameter>(item.parameters());
      for (const entry of entries) if (held.has(entry.parameter)) excluded.add(entry);
      continue;
    }
    const matched = entries.filter((entry) => matchesPath(entry.name, item));
    if (matched.length === 0) {
      const names = entries.map((e) => e.name);
      const shown = names.slice(0, 12).map((n) => `"${n}"`).join(', ') + (names.length > 12 ? `, ... (${names.length} in all)` : '');
      throw new ValueError(
        { op, expected: 'exclude entries that name a parameter or a module path among the parameters with a gradient', given: `"${item}" (parameters: ${shown || 'none'})` },
        'Exclude a layer that may have no gradient by passing its Module',
      );
    }
    for (const entry of matched) excluded.add(entry);
  }
  if (options.excludeFinalLayer && entries.length > 0) {
    const last = entries[entries.length - 1]!;
    const path = owningLayerPath(last.name);
    // A parameter of the root itself (a plain list names them "0", "1", ...) is excluded alone.
    if (path === '') excluded.add(last);
    else for (const entry of entries) if (matchesPath(entry.name, path)) excluded.add(entry);
  }
  return excluded;
}

/** A parameter AGC clips: its unit layout and, after the first pass, the scale of each unit (1: unclipped). */
interface UnitPlan {
  entry: GradientEntry;
  units: number;
  unitSize: number;
  /** clipping * max(||W_u||, eps) / max(||G_u||, 1e-6) for clipped units, 1 for the others. */
  factors: Float64Array;
}

/**
 * ||W_u|| and ||G_u|| of one unit in one pass over both arrays, float64; falls back to the
 * rescaled norm when a sum of squares overflows (values above about 1e154). A non-finite
 * gradient element makes ||G_u|| NaN or Infinity.
 */
function unitNorms(w: TypedArray, g: TypedArray, start: number, end: number): [number, number] {
  let weightSquares = 0;
  let gradSquares = 0;
  for (let k = start; k < end; k++) {
    const a = w[k]!;
    const b = g[k]!;
    weightSquares += a * a;
    gradSquares += b * b;
  }
  return [
    Number.isFinite(weightSquares) ? Math.sqrt(weightSquares) : l2Norm(w, start, end),
    Number.isFinite(gradSquares) ? Math.sqrt(gradSquares) : l2Norm(g, start, end),
  ];
}

function clipEntries(
  op: string,
  entries: readonly GradientEntry[],
  options: ResolvedAdaptiveGradientClipOptions,
): { report: AdaptiveGradientClipReport; nonFinite: string[] } {
  const withGrad = withGradients(entries);
  for (const { name, parameter } of withGrad) {
    if (parameter.grad!.size !== parameter.size) {
      throw new ShapeError({ op, expected: `the gradient of "${name}" to have the parameter's shape ${formatShape(parameter.shape)}`, given: formatShape(parameter.grad!.shape) });
    }
  }
  const excluded = excludedSet(op, withGrad, options);
  const report: AdaptiveGradientClipReport = { units: 0, clippedUnits: 0, excludedParameters: excluded.size };
  const { clipping, eps } = options;
  // First pass, nothing changed yet: every unit's norms and clipping factor. A non-finite gradient
  // shows as a non-finite ||G_u||, so the finiteness check costs no pass of its own.
  const plans: UnitPlan[] = [];
  const nonFiniteEntries = new Set<GradientEntry>();
  for (const entry of withGrad) {
    if (excluded.has(entry)) continue;
    const { parameter } = entry;
    if (parameter.size === 0) continue;
    const w = parameter.data;
    const g = parameter.grad!.data;
    // Rows of a Linear weight, output channels of a conv ([out, ...] layout); a 0-D or 1-D
    // parameter (bias, gain, SkipInit's alpha) is one unit, as in DeepMind's and timm's code.
    const units = parameter.ndim <= 1 ? 1 : parameter.shape[0]!;
    const unitSize = parameter.size / units;
    const factors = new Float64Array(units).fill(1);
    for (let u = 0; u < units; u++) {
      const [weightNorm, gradNorm] = unitNorms(w, g, u * unitSize, (u + 1) * unitSize);
      if (!Number.isFinite(gradNorm)) nonFiniteEntries.add(entry);
      const maxNorm = clipping * Math.max(weightNorm, eps);
      if (gradNorm > maxNorm) factors[u] = maxNorm / Math.max(gradNorm, 1e-6);
    }
    plans.push({ entry, units, unitSize, factors });
  }
  // Excluded parameters are not clipped, but the policy covers their gradients too.
  const nonFinite = screenNonFinite(op, withGrad.filter((e) => nonFiniteEntries.has(e) || excluded.has(e)), options.nonFinite);
  if (nonFinite.length > 0) return { report, nonFinite };
  for (const { entry, units, unitSize, factors } of plans) {
    report.units += units;
    const g = entry.parameter.grad!.data;
    for (let u = 0; u < units; u++) {
      if (factors[u] === 1) continue;
      scaleInPlace(g, u * unitSize, (u + 1) * unitSize, factors[u]!);
      report.clippedUnits++;
    }
  }
  return { report, nonFinite };
}

/**
 * Adaptive Gradient Clipping (Brock et al., 2021, "High-Performance Large-Scale Image
 * Recognition Without Normalization", the NFNets paper): clips each unit's gradient relative to
 * the norm of its weights, unit-wise (a row of a Linear weight, an output channel of a conv,
 * a whole 1-D or 0-D parameter):
 *
 *   if ||G_u|| > lambda * max(||W_u||, eps):   G_u <- G_u * lambda * max(||W_u||, eps) / max(||G_u||, 1e-6)
 *
 * so no step changes a unit's weights by more than about `lr * lambda` of their norm: what lets
 * normalizer-free networks train at large batch sizes and learning rates. Norms accumulate in float64.
 * The paper leaves the final linear layer unclipped: use `exclude` or `excludeFinalLayer`.
 *
 * Two forms: `adaptiveGradientClip(options?)` returns a GradientTransform for an optimizer
 * (reporting `units`, `clippedUnits`, `excludedParameters`); `adaptiveGradientClip(parameters,
 * options?)` clips now and returns that report. Non-finite gradients are refused (ValueError)
 * before anything changes, or with `nonFinite: 'skip'` left untouched and reported.
 *
 * @example
 * const agc = adaptiveGradientClip({ clipping: 0.01, exclude: [model.head] });
 * const optimizer = new SGD(model, { lr: 0.4, momentum: 0.9, gradientTransforms: [agc] });
 */
export function adaptiveGradientClip(options?: AdaptiveGradientClipOptions): AdaptiveGradientClipTransform;
export function adaptiveGradientClip(parameters: GradientSource, options?: AdaptiveGradientClipOptions): AdaptiveGradientClipReport | (AdaptiveGradientClipReport & SkippedReport);
export function adaptiveGradientClip(
  first?: GradientSource | AdaptiveGradientClipOptions,
  second?: AdaptiveGradientClipOptions,
): AdaptiveGradientClipTransform | AdaptiveGradientClipReport | (AdaptiveGradientClipReport & SkippedReport) {
  const op = 'adaptiveGradientClip';
  if (isGradientSource(first)) {
    const { report, nonFinite } = clipEntries(op, toGradientEntries(op, first), resolveAdaptiveGradientClipOptions(op, second));
    return nonFinite.length > 0 ? { ...report, skipped: true as const, nonFinite: nonFinite.join(', ') } : report;
  }
  if (second !== undefined) {
    throw new ValueError({ op, expected: 'parameters (a Module, tensors or entries) before the options', given: `${first === null ? 'null' : typeof first} as the first argument` });
  }
  const options = Object.freeze(resolveAdaptiveGradientClipOptions(op, first));
  return {
    name: 'adaptive-gradient-clip',
    options,
    apply(entries: readonly GradientEntry[]): AdaptiveGradientClipReport | SkippedReport {
      const { report, nonFinite } = clipEntries(op, entries, options);
      return nonFinite.length > 0 ? { skipped: true as const, nonFinite: nonFinite.join(', ') } : report;
    },
  };
}
