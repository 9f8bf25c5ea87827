import { sameShape, type TypedArray } from '../dtype';
import { StateDictError, formatShape } from '../errors';
import { Tensor, checkTensor, describeValue, isTensor } from '../tensor';

/** A trainable tensor: a leaf that requires a gradient. Running averages are buffers, never parameters. */
export class Parameter extends Tensor {
  constructor(value: Tensor) {
    checkTensor('Parameter', value, 'value');
    super(value.data, value.shape, true);
  }
}

export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Refuse missing and unexpected keys (default true). Shape mismatches are always refused. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

interface BufferEntry {
  tensor: Tensor;
  persistent: boolean;
}

/**
 * Base class of every layer, like `torch.nn.Module`: parameters, buffers and child modules
 * registered by name, dotted PyTorch-style names (`0.weight`, `norm.running_mean`), train/eval,
 * and all-or-nothing state-dict loading.
 */
export abstract class Module {
  training = true;
  private readonly parameterEntries = new Map<string, Parameter>();
  private readonly bufferEntries = new Map<string, BufferEntry>();
  private readonly moduleEntries = new Map<string, Module>();

  abstract forward(...args: never[]): unknown;

  /** Registers (or replaces) a parameter under `name` and returns it. */
  registerParameter<P extends Parameter>(name: string, parameter: P): P {
    checkTensor(`${this.constructor.name}.registerParameter`, parameter, `parameter "${name}"`);
    this.parameterEntries.set(name, parameter);
    return parameter;
  }

  /** Registers (or replaces) a buffer; non-persistent buffers stay out of the state dict. */
  registerBuffer(name: string, tensor: Tensor, persistent = true): Tensor {
    checkTensor(`${this.constructor.name}.registerBuffer`, tensor, `buffer "${name}"`);
    this.bufferEntries.set(name, { tensor, persistent });
    return tensor;
  }

  registerModule<M extends Module>(name: string, module: M): M {
    this.moduleEntries.set(name, module);
    return module;
  }

  /** Removes a parameter, buffer or child registered under `name` (used by parametrizations). */
  unregister(name: string): void {
    this.parameterEntries.delete(name);
    this.bufferEntries.delete(name);
    this.moduleEntries.delete(name);
  }

  getParameter(name: string): Parameter | undefined {
    return this.parameterEntries.get(name);
  }

  getBuffer(name: string): Tensor | undefined {
    return this.bufferEntries.get(name)?.tensor;
  }

  /** Replaces a buffer's tensor (keeping its persistence), e.g. after a running-average update. */
  setBuffer(name: string, tensor: Tensor): void {
    checkTensor(`${this.constructor.name}.setBuffer`, tensor, `buffer "${name}"`);
    const entry = this.bufferEntries.get(name);
    if (!entry) throw new StateDictError(`${this.constructor.name}.setBuffer`, [`no buffer named "${name}"`]);
    entry.tensor = tensor;
  }

  getModule(name: string): Module | undefined {
    return this.moduleEntries.get(name);
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this.moduleEntries.entries();
  }

  *children(): Generator<Module> {
    yield* this.moduleEntries.values();
  }

  /** This module and every descendant, with dotted names ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    // Collected by a plain recursion, then yielded once: nested `yield*` passes every module through
    // one generator per level above it (a training step walks the model for train(), the optimizer
    // and buffer snapshots).
    const found: Array<[string, Module]> = [];
    const visit = (module: Module, name: string): void => {
      found.push([name, module]);
      for (const [childName, child] of module.moduleEntries) visit(child, name ? `${name}.${childName}` : childName);
    };
    visit(this, prefix);
    yield* found;
  }

  *namedParameters(prefix = ''): Generator<[string, Parameter]> {
    const seen = new Set<Parameter>();
    for (const [modulePrefix, module] of this.namedModules(prefix)) {
      for (const [name, parameter] of module.parameterEntries) {
        if (seen.has(parameter)) continue;
        seen.add(parameter);
        yield [modulePrefix ? `${modulePrefix}.${name}` : name, parameter];
      }
    }
  }

  parameters(): Parameter[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  *namedBuffers(prefix = '', options: { persistentOnly?: boolean } = {}): Generator<[string, Tensor]> {
    for (const [modulePrefix, module] of this.namedModules(prefix)) {
      for (const [name, entry] of module.bufferEntries) {
        if (options.persistentOnly && !entry.persistent) continue;
        yield [modulePrefix ? `${modulePrefix}.${name}` : name, entry.tensor];
      }
    }
  }

  buffers(): Tensor[] {
    return [...this.namedBuffers()].map(([, t]) => t);
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, module] of this.namedModules()) module.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Calls `fn` on every module, children first (like `nn.Module.apply`). */
  apply(fn: (module: Module) => void): this {
    for (const child of this.moduleEntries.values()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Parameters and persistent buffers by dotted name; the tensors are shared, not copied. */
  stateDict(): StateDict {
    // No prototype: a key such as `__proto__` is stored like any other name.
    const dict = Object.create(null) as StateDict;
    for (const [name, module] of this.namedModules()) {
      const prefix = name ? `${name}.` : '';
      for (const [key, p] of module.parameterEntries) dict[prefix + key] = p;
      for (const [key, entry] of module.bufferEntries) if (entry.persistent) dict[prefix + key] = entry.tensor;
    }
    return dict;
  }

  /**
   * Copies values from `dict` into the module's parameters and buffers. All or nothing: every
   * problem (missing key, unexpected key, a value that is not a tensor, null or undefined, a
   * shape mismatch, data that disagrees with its own shape) is found first and reported
   * together, and nothing changes when there is one. Tensors of another copy of
   * @normkit/tensor are accepted here: only their shape and data are read.
   */
  loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const op = `${this.constructor.name}.loadStateDict`;
    if (typeof dict !== 'object' || dict === null) {
      throw new StateDictError(op, [`the state dict is ${describeValue(dict)}, expected an object of tensors by name`]);
    }
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const problems: string[] = [];
    const missingKeys = Object.keys(own).filter((k) => !Object.hasOwn(dict, k));
    const unexpectedKeys = Object.keys(dict).filter((k) => !(k in own));
    if (strict) {
      for (const key of missingKeys) problems.push(`missing key "${key}"`);
      for (const key of unexpectedKeys) problems.push(`unexpected key "${key}"`);
    }
    const copies: Array<[Tensor, TypedArray]> = [];
    for (const [key, target] of Object.entries(own)) {
      if (!Object.hasOwn(dict, key)) continue;
      const source: unknown = dict[key];
      // A key that is present counts, whatever its value: null and undefined are refused, as in PyTorch.
      if (!isTensor(source)) {
        problems.push(`"${key}" is ${describeValue(source)}, expected a Tensor`);
        continue;
      }
      const data: unknown = source.data;
      const shape: unknown = source.shape;
      if (!(data instanceof Float32Array || data instanceof Float64Array)) {
        problems.push(`"${key}" holds ${describeValue(data)} as data, expected a Float32Array or a Float64Array`);
        continue;
      }
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
        problems.push(`"${key}" has shape ${describeValue(shape)}, expected an array of non-negative integers`);
        continue;
      }
      if (!sameShape(shape as number[], target.shape)) {
        problems.push(`shape mismatch for "${key}": expected ${formatShape(target.shape)}, got ${formatShape(shape as number[])}`);
        continue;
      }
      if (data.length !== target.size) {
        problems.push(`"${key}" has ${data.length} element(s) of data for shape ${formatShape(target.shape)} (${target.size} elements)`);
        continue;
      }
      copies.push([target, data]);
    }
    if (problems.length > 0) throw new StateDictError(op, problems);
    for (const [target, data] of copies) {
      target.data.set(data);
      target.bumpVersion();
    }
    return { missingKeys, unexpectedKeys };
  }
}
