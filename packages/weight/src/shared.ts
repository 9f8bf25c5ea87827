// What the three parametrizations share: the view of a weight as output units, dim checks, and
// finding the tensor a parametrization is about to be registered on.
import {
  DTypeError, Module, OptionError, ShapeError, ValueError, formatShape, noGrad, parametrizationsOf,
  type Parametrization, type Tensor,
} from '@normkit/tensor';

/**
 * A weight seen as `[before, units, after]` around `dim`: `units = shape[dim]` output units, each
 * owning the `before * after` elements `(b * units + u) * after + i`. `dim = null` is one unit
 * holding the whole tensor. For dim 0 (Linear, Conv2d, Embedding) `before = 1` and each unit is
 * one contiguous row.
 */
export interface UnitLayout {
  before: number;
  units: number;
  after: number;
}

export function unitLayout(shape: readonly number[], dim: number | null): UnitLayout {
  let size = 1;
  for (const d of shape) size *= d;
  if (dim === null) return { before: 1, units: 1, after: size };
  let before = 1;
  for (let d = 0; d < dim; d++) before *= shape[d]!;
  const units = shape[dim]!;
  return { before, units, after: units === 0 ? 0 : size / before / units };
}

/** The shape of a per-unit tensor that broadcasts against the weight: ones except `shape[dim]` (`[]` for dim null). */
export function unitShape(shape: readonly number[], dim: number | null): number[] {
  if (dim === null) return [];
  return shape.map((d, axis) => (axis === dim ? d : 1));
}

/**
 * Checks a `dim` option: a non-negative integer, or null when `allowNull`. Negative dims are refused
 * with an explanation, because PyTorch reads them two ways: its weight_norm takes -1 as "one norm
 * over the whole tensor", not as the last dim.
 */
export function checkDimOption(op: string, dim: unknown, options: { allowNull: boolean }): number | null {
  if (dim === null && options.allowNull) return null;
  const expected = options.allowNull
    ? 'dim to be an integer >= 0 (the dim of the output units: 0 for Linear, Conv2d and Embedding weights) or null (one norm over the whole tensor)'
    : 'dim to be an integer >= 0 (the dim of the output units: 0 for Linear, Conv2d and Embedding weights)';
  if (typeof dim !== 'number' || !Number.isInteger(dim)) {
    throw new OptionError({ op, expected, given: `dim = ${String(dim)}` });
  }
  if (dim < 0) {
    throw new OptionError(
      { op, expected, given: `dim = ${dim}` },
      "Negative dims are refused on purpose: PyTorch's weight_norm reads dim = -1 as 'the whole tensor', not 'the last dim'. "
        + `Pass ${options.allowNull ? 'null for one norm over the whole tensor, or ' : ''}ndim - 1 for the last dim`,
    );
  }
  return dim;
}

/** Checks that `dim` indexes a dim of `shape` (ShapeError, like the core's axis checks). */
export function checkDimInRange(op: string, dim: number | null, shape: readonly number[], what: string): void {
  if (dim === null) return;
  if (dim >= shape.length) {
    throw new ShapeError({
      op,
      expected: `dim in [0, ${shape.length - 1}] for ${what} of shape ${formatShape(shape)}`,
      given: `dim = ${dim}`,
    });
  }
}

/** Checks a strictly positive, finite eps (OptionError naming the op). */
export function checkEpsOption(op: string, eps: unknown): number {
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) {
    throw new OptionError({ op, expected: 'eps to be a finite number > 0', given: `eps = ${String(eps)}` });
  }
  return eps;
}

export function checkMatchingDType(op: string, a: Tensor, aName: string, b: Tensor, bName: string): void {
  if (a.dtype !== b.dtype) {
    throw new DTypeError({ op, expected: `${bName} with the dtype of ${aName} (${a.dtype})`, given: `${bName} of dtype ${b.dtype}` });
  }
}

function ownNames(module: Module): { parameters: string[]; buffers: string[]; parametrized: string[] } {
  const own = (names: Iterable<[string, unknown]>) => [...names].map(([name]) => name).filter((name) => !name.includes('.'));
  const container = module.getModule('parametrizations');
  return {
    parameters: own(module.namedParameters()),
    buffers: own(module.namedBuffers()),
    parametrized: container ? [...container.namedChildren()].map(([name]) => name) : [],
  };
}

/**
 * The current value of `module[name]`, about to be parametrized: the plain parameter (or buffer),
 * or the output of the parametrizations already on it (computed in eval mode, so registering
 * advances no power iteration and changes no state). Throws a ValueError listing the module's
 * tensors when there is no such name.
 */
export function targetTensor(op: string, module: Module, name: string): Tensor {
  if (!(module instanceof Module)) {
    throw new ValueError({ op, expected: 'a Module whose tensor to parametrize', given: module === null ? 'null' : typeof module });
  }
  if (typeof name !== 'string') {
    throw new ValueError({ op, expected: 'the name of a parameter, e.g. "weight"', given: typeof name });
  }
  const list = parametrizationsOf(module, name);
  if (list !== undefined) {
    const wasTraining = list.training;
    list.train(false);
    try {
      return noGrad(() => list.forward());
    } finally {
      list.train(wasTraining);
    }
  }
  const tensor = name === 'parametrizations' ? undefined : (module.getParameter(name) ?? module.getBuffer(name));
  if (tensor === undefined) {
    const { parameters, buffers, parametrized } = ownNames(module);
    throw new ValueError({
      op,
      expected: `the name of a parameter or buffer of ${module.constructor.name} (parameters: ${parameters.join(', ') || 'none'}; `
        + `buffers: ${buffers.join(', ') || 'none'}${parametrized.length ? `; parametrized: ${parametrized.join(', ')}` : ''})`,
      given: `"${name}"`,
    });
  }
  return tensor;
}

/**
 * Refuses to put a second parametrization of the same kind on one tensor (two spectral norms
 * would divide by sigma twice), naming where the first one sits.
 */
export function checkNotParametrizedWith(
  op: string,
  module: Module,
  name: string,
  kind: abstract new (...args: never[]) => Parametrization,
  label: string,
): void {
  const list = parametrizationsOf(module, name);
  if (list === undefined) return;
  for (let i = 0; i < list.length; i++) {
    if (list.at(i) instanceof kind) {
      throw new ValueError(
        { op, expected: `"${name}" of ${module.constructor.name} not already parametrized with ${label}`, given: `${label} already at index ${i} of its parametrizations` },
        `Remove it first with removeParametrizations(module, '${name}'), or keep the one there`,
      );
    }
  }
}
