import { sameShape } from '../dtype';
import { ContextError, DTypeError, ShapeError, ValueError, formatShape } from '../errors';
import type { Parametrization } from '../plugin/types';
import { Tensor, noGrad } from '../tensor';
import { Module, Parameter } from './module';

/** The child every parametrized module gets, as in PyTorch (`module.parametrizations.weight`). */
const CONTAINER_NAME = 'parametrizations';

/**
 * The container under `module.parametrizations`: one ParametrizationList child per parametrized
 * tensor, like the ModuleDict PyTorch uses, so state-dict keys read `parametrizations.<name>....`.
 * Made by `registerParametrization`; never called.
 */
export class ParametrizationDict extends Module {
  forward(): never {
    throw new ContextError({
      op: 'ParametrizationDict.forward',
      expected: 'to be read, not called: read the parametrized tensor from its module instead',
      given: 'a call',
    });
  }
}

type OriginalKind = 'parameter' | 'buffer';

function describeValue(value: unknown): string {
  if (value instanceof Tensor) return value.toString();
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return value === null ? 'null' : typeof value;
}

/** A rightInverse result as a list of tensors (a bare Tensor is accepted as a list of one). */
function asTensorList(op: string, result: unknown, who: string): Tensor[] {
  const list = result instanceof Tensor ? [result] : result;
  if (!Array.isArray(list) || list.length === 0 || !list.every((t) => t instanceof Tensor)) {
    throw new ValueError({ op, expected: `${who}.rightInverse to return a non-empty array of Tensors`, given: describeValue(result) });
  }
  return list;
}

function checkForwardResult(op: string, value: unknown, reference: Tensor, what: string, referenceName: string): Tensor {
  if (!(value instanceof Tensor)) {
    throw new ValueError({ op, expected: `${what} to return a Tensor`, given: describeValue(value) });
  }
  if (value.dtype !== reference.dtype) {
    throw new DTypeError(
      { op, expected: `${what} to keep the dtype of ${referenceName} (${reference.dtype})`, given: value.dtype },
      'Pass { unsafe: true } to allow it',
    );
  }
  if (!sameShape(value.shape, reference.shape)) {
    throw new ShapeError(
      { op, expected: `${what} to keep the shape of ${referenceName}, ${formatShape(reference.shape)}`, given: formatShape(value.shape) },
      'Pass { unsafe: true } to allow it',
    );
  }
  return value;
}

function describeParametrization(parametrization: Parametrization, index: number): string {
  return `parametrization ${index} (${parametrization.constructor.name})`;
}

/**
 * The chain of parametrizations on one tensor and the original tensor(s) it is computed from,
 * like PyTorch's `ParametrizationList`. Holds the originals as parameters (or buffers) named
 * `original`, or `original0`, `original1`, ... when the first parametrization's rightInverse returns
 * several tensors, and the parametrizations as children `0`, `1`, ... Calling it computes
 * parametrizations[n-1](...(parametrizations[0](...originals))). Made by `registerParametrization`.
 */
export class ParametrizationList extends Module {
  readonly tensorName: string;
  /** Shape and dtype checks are off (PyTorch's `unsafe`); sticky once a registration set it. */
  unsafe: boolean;
  /** Whether the originals are parameters or buffers (as the tensor was before registration). */
  readonly originalKind: OriginalKind;
  /** How many original tensors (1: `original`; more: `original0`, `original1`, ...). */
  readonly originalCount: number;
  /** The host's own property descriptor before registration, restored on removal. */
  readonly hostDescriptor: PropertyDescriptor | undefined;
  private chainLength = 0;

  /** @internal Use `registerParametrization`. */
  constructor(
    tensorName: string,
    first: Parametrization,
    originals: readonly Tensor[],
    options: { unsafe: boolean; originalKind: OriginalKind; hostDescriptor: PropertyDescriptor | undefined },
  ) {
    super();
    this.tensorName = tensorName;
    this.unsafe = options.unsafe;
    this.originalKind = options.originalKind;
    this.originalCount = originals.length;
    this.hostDescriptor = options.hostDescriptor;
    originals.forEach((original, i) => {
      const name = originals.length === 1 ? 'original' : `original${i}`;
      if (options.originalKind === 'parameter') this.registerParameter(name, original);
      else this.registerBuffer(name, original);
    });
    this.append(first);
  }

  /** The number of parametrizations in the chain. */
  get length(): number {
    return this.chainLength;
  }

  /** The parametrization at `index` in the chain (0 is applied first). */
  at(index: number): Parametrization {
    const parametrization = this.getModule(String(index));
    if (parametrization === undefined) {
      throw new ValueError({ op: 'ParametrizationList.at', expected: `an index in [0, ${this.chainLength})`, given: String(index) });
    }
    return parametrization as Parametrization;
  }

  /** The single original tensor (throws when there are several: use `originals`). */
  get original(): Tensor {
    if (this.originalCount !== 1) {
      throw new ValueError({
        op: 'ParametrizationList.original',
        expected: 'a tensor parametrized from one original',
        given: `${this.originalCount} originals (original0 ... original${this.originalCount - 1}); use originals`,
      });
    }
    return this.originals[0]!;
  }

  /** The original tensors, in order. */
  get originals(): Tensor[] {
    const names = this.originalCount === 1 ? ['original'] : Array.from({ length: this.originalCount }, (_, i) => `original${i}`);
    return names.map((name) => (this.originalKind === 'parameter' ? this.getParameter(name) : this.getBuffer(name))!);
  }

  /** @internal Appends a parametrization to the chain; `registerParametrization` checks it first. */
  append(parametrization: Parametrization): void {
    this.registerModule(String(this.chainLength), parametrization);
    this.chainLength++;
  }

  /** The parametrized tensor, recorded in the graph so gradients reach the originals. */
  forward(): Tensor {
    let value = this.at(0).forward(...this.originals);
    for (let i = 1; i < this.chainLength; i++) value = this.at(i).forward(value);
    return value;
  }

  /**
   * Sets the originals so that the chain yields `value` (as far as the right inverses are exact):
   * each parametrization's rightInverse, last to first, then a copy into the originals. Every
   * parametrization must define rightInverse. All or nothing: checks everything before copying.
   */
  rightInverse(value: Tensor): void {
    const op = `assigning to "${this.tensorName}"`;
    if (!(value instanceof Tensor)) {
      throw new ValueError({ op, expected: 'a Tensor', given: describeValue(value) });
    }
    const originals = this.originals;
    const targets = noGrad(() => {
      let current: Tensor[] = [value];
      for (let i = this.chainLength - 1; i >= 0; i--) {
        const parametrization = this.at(i);
        const who = describeParametrization(parametrization, i);
        if (typeof parametrization.rightInverse !== 'function') {
          throw new ValueError(
            { op, expected: `every parametrization of "${this.tensorName}" to define rightInverse`, given: `${who} without one` },
            'Assign to the originals instead, or remove the parametrization',
          );
        }
        current = asTensorList(op, parametrization.rightInverse(current[0]!), who);
        if (i > 0 && current.length !== 1) {
          throw new ValueError({ op, expected: `${who}.rightInverse to return one tensor (only the first may return several)`, given: `${current.length}` });
        }
      }
      return current;
    });
    if (targets.length !== originals.length) {
      throw new ValueError({ op, expected: `rightInverse to return ${originals.length} tensor(s), one per original`, given: `${targets.length}` });
    }
    targets.forEach((target, i) => {
      const original = originals[i]!;
      const name = originals.length === 1 ? 'original' : `original${i}`;
      if (target.dtype !== original.dtype) {
        throw new DTypeError({ op, expected: `rightInverse to give ${name} its dtype ${original.dtype}`, given: target.dtype });
      }
      if (!sameShape(target.shape, original.shape)) {
        throw new ShapeError({ op, expected: `rightInverse to give ${name} its shape ${formatShape(original.shape)}`, given: formatShape(target.shape) });
      }
    });
    targets.forEach((target, i) => {
      const original = originals[i]!;
      if (target.data !== original.data) {
        original.data.set(target.data);
        original.bumpVersion();
      }
    });
  }
}

export interface RegisterParametrizationOptions {
  /** Skip the shape and dtype checks (PyTorch's `unsafe`): the parametrization may change them. */
  unsafe?: boolean;
}

export interface RemoveParametrizationsOptions {
  /**
   * true (default): the tensor keeps its current parametrized value, as a plain parameter.
   * false: the original comes back (only when there is one original).
   */
  leaveParametrized?: boolean;
}

let cacheDepth = 0;
let cache = new Map<Module, Map<string, Tensor>>();

/**
 * Runs `fn` with parametrized tensors cached, like `torch.nn.utils.parametrize.cached()`: within
 * `fn`, the first read of `module[name]` computes the chain and every later read of the same tensor
 * on the same module returns that same Tensor (one graph node, so the parametrization runs once
 * per forward even when a weight is read at every step of a loop). Assigning to the tensor or
 * removing its parametrization drops its cached value. The cache is cleared when the outermost
 * `cached` returns; nested calls share it. `fn` must be synchronous (the cache is gone by the time
 * an awaited continuation runs), and a value cached under `noGrad` stays without a graph for the
 * rest of the call.
 *
 * @example
 * const out = cached(() => rnn.forward(xs)); // the recurrent weight is parametrized once, not per step
 */
export function cached<T>(fn: () => T): T {
  cacheDepth++;
  try {
    return fn();
  } finally {
    cacheDepth--;
    if (cacheDepth === 0) cache = new Map();
  }
}

function dropCached(module: Module, tensorName: string): void {
  cache.get(module)?.delete(tensorName);
}

function containerOf(module: Module): ParametrizationDict | undefined {
  const container = module.getModule(CONTAINER_NAME);
  return container instanceof ParametrizationDict ? container : undefined;
}

/** The ParametrizationList of `module[tensorName]`, or undefined when it is not parametrized. */
export function parametrizationsOf(module: Module, tensorName: string): ParametrizationList | undefined {
  const list = containerOf(module)?.getModule(tensorName);
  return list instanceof ParametrizationList ? list : undefined;
}

/** True when `module[tensorName]` is parametrized, or (without a name) when any tensor of `module` is. */
export function isParametrized(module: Module, tensorName?: string): boolean {
  const container = containerOf(module);
  if (container === undefined) return false;
  if (tensorName === undefined) return !container.namedChildren().next().done;
  return parametrizationsOf(module, tensorName) !== undefined;
}

function readParametrized(module: Module, tensorName: string): Tensor {
  const list = parametrizationsOf(module, tensorName)!;
  if (cacheDepth === 0) return list.forward();
  let forModule = cache.get(module);
  if (forModule === undefined) cache.set(module, (forModule = new Map<string, Tensor>()));
  let value = forModule.get(tensorName);
  if (value === undefined) forModule.set(tensorName, (value = list.forward()));
  return value;
}

/** Marks the forward `guardForward` installs; holds the instance's own `forward` descriptor from before. */
const GUARDED_FORWARD = Symbol('normkit.parametrizedForward');
type GuardedForward = ((...args: never[]) => unknown) & { [GUARDED_FORWARD]: PropertyDescriptor | undefined };

/** The buffers the parametrizations of `module` keep (spectral norm's u and v), with copies of their values. */
function saveParametrizationBuffers(module: Module): Array<[Tensor['data'], Tensor['data']]> {
  const saved: Array<[Tensor['data'], Tensor['data']]> = [];
  for (const [, list] of containerOf(module)?.namedChildren() ?? []) {
    if (!(list instanceof ParametrizationList)) continue;
    for (let i = 0; i < list.length; i++) {
      for (const [, buffer] of (list.at(i) as Module).namedBuffers()) saved.push([buffer.data, buffer.data.slice()]);
    }
  }
  return saved;
}

/**
 * Makes the host's `forward` all or nothing for its parametrizations' state. A host reads its
 * parametrized weight when its forward runs, often before its own input checks (Linear, Conv2d,
 * Embedding, user modules), and a training read moves state (spectral norm's power iteration
 * updates u and v): a forward that throws restores those buffers, so it changes nothing.
 */
function guardForward(module: Module): void {
  const host = module as unknown as { forward: (...args: never[]) => unknown };
  // Already guarded: a second parametrized tensor (or a chained parametrization) needs nothing more.
  if (Object.prototype.hasOwnProperty.call(host.forward, GUARDED_FORWARD)) return;
  const previous = Object.getOwnPropertyDescriptor(module, 'forward');
  const inner = host.forward;
  const guarded = function (this: Module, ...args: never[]): unknown {
    const saved = saveParametrizationBuffers(this);
    try {
      return inner.apply(this, args);
    } catch (error) {
      for (const [data, copy] of saved) data.set(copy);
      cache.delete(this);
      throw error;
    }
  } as GuardedForward;
  guarded[GUARDED_FORWARD] = previous;
  Object.defineProperty(module, 'forward', { configurable: true, enumerable: false, writable: true, value: guarded });
}

/** Undoes `guardForward` once no tensor of the module is parametrized any more. */
function unguardForward(module: Module): void {
  const forward = (module as unknown as { forward: unknown }).forward;
  if (typeof forward !== 'function' || !Object.prototype.hasOwnProperty.call(forward, GUARDED_FORWARD)) return;
  const previous = (forward as GuardedForward)[GUARDED_FORWARD];
  if (previous === undefined) delete (module as unknown as Record<string, unknown>).forward;
  else Object.defineProperty(module, 'forward', previous);
}

function ownTensorNames(module: Module): { parameters: string[]; buffers: string[] } {
  return {
    parameters: [...module.namedParameters()].map(([name]) => name).filter((name) => !name.includes('.')),
    buffers: [...module.namedBuffers()].map(([name]) => name).filter((name) => !name.includes('.')),
  };
}

function checkParametrization(op: string, parametrization: Parametrization): void {
  if (!(parametrization instanceof Module) || typeof parametrization.forward !== 'function') {
    throw new ValueError({ op, expected: 'a parametrization: a Module with forward(...originals)', given: describeValue(parametrization) });
  }
  const rightInverse = (parametrization as { rightInverse?: unknown }).rightInverse;
  if (rightInverse !== undefined && typeof rightInverse !== 'function') {
    throw new ValueError({ op, expected: 'rightInverse to be a method when defined', given: typeof rightInverse });
  }
}

/**
 * Makes `module[tensorName]` computed by `parametrization` from the original tensor, like
 * `torch.nn.utils.parametrize.register_parametrization`. Weight norm, spectral norm and weight
 * standardization are all parametrizations.
 *
 * First registration on a tensor: the original parameter (or buffer) moves to
 * `module.parametrizations.<tensorName>` (a ParametrizationList) as `original` (the same Parameter
 * object, set to `rightInverse(value)` when the parametrization defines it, so an optimizer that
 * already holds it keeps working), or as new parameters `original0`, `original1`, ... when
 * rightInverse returns several tensors. The parametrization becomes child `0`, so state-dict keys are
 * PyTorch's: `parametrizations.weight.original`, `parametrizations.weight.0._u`.
 * Later registrations on the same tensor chain: they apply to the output of the previous ones
 * (child `1`, `2`, ...) and leave the originals as they are.
 *
 * Reading `module[tensorName]` (e.g. `this.weight` in forward) then computes the chain, through a
 * configurable getter defined on the instance; assigning to it runs the right inverses (see
 * `ParametrizationList.rightInverse`). The parametrization takes the module's training mode.
 * Unless `unsafe`, the parametrization is run once to check that it keeps the tensor's shape and
 * dtype (ShapeError / DTypeError), and so is its rightInverse when chaining. Nothing changes when a
 * check fails. The module's `forward` becomes all or nothing for the parametrizations' buffers: a
 * forward that throws (say on an input of the wrong shape, after a training read already ran spectral
 * norm's power iteration) restores them (the instance gets an own `forward`, removed with the last
 * parametrization).
 *
 * @example
 * class Symmetric extends Module implements Parametrization {
 *   forward(x: Tensor) { return add(mul(x, upper), transpose(mul(x, strictlyUpper))); }
 *   rightInverse(a: Tensor) { return [mul(a, upper)]; }
 * }
 * registerParametrization(layer, 'weight', new Symmetric());
 * layer.stateDict(); // { bias, 'parametrizations.weight.original' }
 */
export function registerParametrization<M extends Module>(
  module: M,
  tensorName: string,
  parametrization: Parametrization,
  options: RegisterParametrizationOptions = {},
): M {
  const op = 'registerParametrization';
  const unsafe = options.unsafe ?? false;
  if (!(module instanceof Module)) {
    throw new ValueError({ op, expected: 'a Module to parametrize', given: describeValue(module) });
  }
  checkParametrization(op, parametrization);
  const existing = parametrizationsOf(module, tensorName);
  if (existing !== undefined) {
    if (!unsafe) {
      noGrad(() => {
        const current = existing.forward();
        const next = parametrization.forward(current);
        const what = `${describeParametrization(parametrization, existing.length)}.forward`;
        checkForwardResult(op, next, current, what, `${module.constructor.name}.${tensorName}`);
        if (typeof parametrization.rightInverse === 'function') {
          const inverse = asTensorList(op, parametrization.rightInverse(next), describeParametrization(parametrization, existing.length));
          if (inverse.length !== 1) {
            throw new ValueError({ op, expected: 'a chained parametrization\'s rightInverse to return one tensor', given: `${inverse.length}` });
          }
          checkForwardResult(op, inverse[0], current, `${describeParametrization(parametrization, existing.length)}.rightInverse`, `${module.constructor.name}.${tensorName}`);
        }
      });
    }
    parametrization.train(module.training);
    existing.append(parametrization);
    existing.unsafe ||= unsafe;
    dropCached(module, tensorName);
    return module;
  }

  const parameter = module.getParameter(tensorName);
  const buffer = parameter === undefined ? module.getBuffer(tensorName) : undefined;
  const original = parameter ?? buffer;
  if (original === undefined || tensorName === CONTAINER_NAME) {
    const { parameters, buffers } = ownTensorNames(module);
    const parametrized = [...(containerOf(module)?.namedChildren() ?? [])].map(([name]) => name);
    throw new ValueError({
      op,
      expected: `the name of a parameter or buffer of ${module.constructor.name} (parameters: ${parameters.join(', ') || 'none'}; buffers: ${buffers.join(', ') || 'none'}${parametrized.length ? `; parametrized: ${parametrized.join(', ')}` : ''})`,
      given: `"${tensorName}"`,
    });
  }
  const container = module.getModule(CONTAINER_NAME);
  if (container !== undefined && !(container instanceof ParametrizationDict)) {
    throw new ValueError({
      op,
      expected: `no child module named "${CONTAINER_NAME}" besides the one registerParametrization makes`,
      given: `a ${container.constructor.name} child named "${CONTAINER_NAME}"`,
    });
  }
  const hostDescriptor = Object.getOwnPropertyDescriptor(module, tensorName);
  if (hostDescriptor !== undefined && !hostDescriptor.configurable) {
    throw new ValueError({ op, expected: `a configurable property ${tensorName} on the module`, given: 'a non-configurable one (frozen or sealed module?)' });
  }

  // Everything is computed and checked before anything changes.
  const kind: OriginalKind = parameter !== undefined ? 'parameter' : 'buffer';
  const candidates = noGrad(() =>
    typeof parametrization.rightInverse === 'function'
      ? asTensorList(op, parametrization.rightInverse(original), describeParametrization(parametrization, 0))
      : [original],
  );
  if (candidates.length === 1 && candidates[0]!.dtype !== original.dtype) {
    throw new DTypeError({ op, expected: `rightInverse to keep the dtype of ${tensorName} (${original.dtype}) when it returns one tensor`, given: candidates[0]!.dtype });
  }
  parametrization.train(module.training);
  if (!unsafe) {
    noGrad(() => {
      const value = parametrization.forward(...candidates);
      checkForwardResult(op, value, original, `${describeParametrization(parametrization, 0)}.forward`, `${module.constructor.name}.${tensorName}`);
    });
  }
  let originals: Tensor[];
  const [single] = candidates;
  if (candidates.length === 1 && sameShape(single!.shape, original.shape)) {
    // Keep the same object so optimizers and other references to it stay valid (PyTorch's set_).
    if (single!.data !== original.data) {
      original.data.set(single!.data);
      original.bumpVersion();
    }
    originals = [original];
  } else {
    originals = candidates.map((t) => {
      const copy = t.clone();
      return kind === 'parameter' ? new Parameter(copy).requireGrad(original.requiresGrad) : copy;
    });
  }
  const list = new ParametrizationList(tensorName, parametrization, originals, { unsafe, originalKind: kind, hostDescriptor });
  module.unregister(tensorName);
  list.train(module.training);
  const dict = container ?? module.registerModule(CONTAINER_NAME, new ParametrizationDict().train(module.training));
  dict.registerModule(tensorName, list);
  Object.defineProperty(module, tensorName, {
    configurable: true,
    enumerable: hostDescriptor?.enumerable ?? true,
    get: () => readParametrized(module, tensorName),
    set: (value: Tensor) => {
      dropCached(module, tensorName);
      parametrizationsOf(module, tensorName)!.rightInverse(value);
    },
  });
  guardForward(module);
  dropCached(module, tensorName);
  return module;
}

/**
 * Undoes `registerParametrization` for `module[tensorName]` (the whole chain), like
 * `torch.nn.utils.parametrize.remove_parametrizations`. With `leaveParametrized` (default) the
 * tensor becomes a plain parameter (or buffer) holding its current parametrized value; with one
 * original that is the original Parameter object itself, so optimizers keep working. With
 * `leaveParametrized: false` the original comes back unchanged (only possible with one original).
 * The `parametrizations` child is removed when no parametrized tensor remains.
 *
 * @example
 * removeParametrizations(layer, 'weight'); // layer.weight is a Parameter again, with the symmetric value
 */
export function removeParametrizations<M extends Module>(module: M, tensorName: string, options: RemoveParametrizationsOptions = {}): M {
  const op = 'removeParametrizations';
  const leaveParametrized = options.leaveParametrized ?? true;
  const list = parametrizationsOf(module, tensorName);
  if (list === undefined) {
    const parametrized = [...(containerOf(module)?.namedChildren() ?? [])].map(([name]) => `"${name}"`);
    throw new ValueError({
      op,
      expected: `a parametrized tensor of ${module.constructor.name} (parametrized: ${parametrized.join(', ') || 'none'})`,
      given: `"${tensorName}"`,
    });
  }
  const originals = list.originals;
  let restored: Tensor;
  if (!leaveParametrized) {
    if (originals.length !== 1) {
      throw new ValueError({
        op,
        expected: 'leaveParametrized: false only for a tensor parametrized from one original',
        given: `"${tensorName}" parametrized from ${originals.length} originals (original0 ... original${originals.length - 1})`,
      });
    }
    restored = originals[0]!;
  } else {
    const value = noGrad(() => list.forward());
    const [original] = originals;
    if (originals.length === 1 && value.dtype === original!.dtype && sameShape(value.shape, original!.shape)) {
      original!.data.set(value.data);
      original!.bumpVersion();
      restored = original!;
    } else {
      const copy = value.clone();
      restored = list.originalKind === 'parameter' ? new Parameter(copy).requireGrad(originals.some((o) => o.requiresGrad)) : copy;
    }
  }
  const container = containerOf(module)!;
  container.unregister(tensorName);
  dropCached(module, tensorName);
  const descriptor = list.hostDescriptor;
  if (descriptor === undefined) {
    delete (module as unknown as Record<string, unknown>)[tensorName];
  } else if ('value' in descriptor || 'writable' in descriptor) {
    Object.defineProperty(module, tensorName, { ...descriptor, value: restored });
  } else {
    Object.defineProperty(module, tensorName, descriptor);
  }
  if (list.originalKind === 'parameter') module.registerParameter(tensorName, restored);
  else module.registerBuffer(tensorName, restored);
  if (!isParametrized(module)) {
    module.unregister(CONTAINER_NAME);
    unguardForward(module);
  }
  return module;
}
