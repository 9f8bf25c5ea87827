import { ContextError, ShapeError, formatShape } from '../errors';
import { flatten } from '../ops/shape';
import { normalizeAxis } from '../ops/reduce';
import { checkTensor, type Tensor } from '../tensor';
import { Module } from './module';

/** A module mapping one tensor to one tensor: what Sequential chains and what hooks like `qkNorm` build. */
export type TensorModule = Module & { forward(x: Tensor): Tensor };

function resolveIndex(op: string, index: number, length: number): number {
  const resolved = index < 0 ? index + length : index;
  if (!Number.isInteger(index) || resolved < 0 || resolved >= length) {
    throw new ShapeError({ op, expected: `an index in [${-length}, ${length - 1}]`, given: `${index}` });
  }
  return resolved;
}

/**
 * Chains modules, feeding each one's output to the next, like `torch.nn.Sequential`. Children are
 * named '0', '1', ... so state-dict keys are PyTorch's (`0.weight`, `2.bias`).
 *
 * @example
 * const mlp = new Sequential(new Linear({ inFeatures: 4, outFeatures: 8 }), new ReLU(), new Linear({ inFeatures: 8, outFeatures: 2 }));
 * Object.keys(mlp.stateDict()); // ['0.weight', '0.bias', '2.weight', '2.bias']
 */
export class Sequential extends Module {
  private readonly layers: TensorModule[] = [];

  constructor(...modules: TensorModule[]) {
    super();
    for (const module of modules) this.append(module);
  }

  get length(): number {
    return this.layers.length;
  }

  /** Adds a module at the end, named by its position. */
  append(module: TensorModule): this {
    this.registerModule(String(this.layers.length), module);
    this.layers.push(module);
    return this;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): TensorModule {
    return this.layers[resolveIndex('Sequential.at', index, this.layers.length)]!;
  }

  [Symbol.iterator](): Iterator<TensorModule> {
    return this.layers[Symbol.iterator]();
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Sequential.forward', x, 'x');
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}

/**
 * Holds modules in a list so their parameters are registered (names '0', '1', ...), like
 * `torch.nn.ModuleList`. It has no forward of its own: iterate and call the modules yourself.
 *
 * @example
 * const blocks = new ModuleList([new Linear({ inFeatures: 4, outFeatures: 4 }), new Linear({ inFeatures: 4, outFeatures: 4 })]);
 * for (const block of blocks) x = block.forward(x);
 */
export class ModuleList<M extends Module = Module> extends Module {
  private readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const module of modules) this.append(module);
  }

  get length(): number {
    return this.items.length;
  }

  append(module: M): this {
    this.registerModule(String(this.items.length), module);
    this.items.push(module);
    return this;
  }

  extend(modules: Iterable<M>): this {
    for (const module of modules) this.append(module);
    return this;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): M {
    return this.items[resolveIndex('ModuleList.at', index, this.items.length)]!;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }

  /** A ModuleList is a container, not a layer (PyTorch raises here too). */
  override forward(): never {
    throw new ContextError({
      op: 'ModuleList.forward',
      expected: 'the modules to be called one by one (a ModuleList has no forward)',
      given: `a call to forward on a list of ${this.items.length} modules`,
    });
  }
}

/** Returns its input unchanged (a placeholder layer, like `torch.nn.Identity`). */
export class Identity extends Module {
  override forward(x: Tensor): Tensor {
    checkTensor('Identity.forward', x, 'x');
    return x;
  }
}

/**
 * Flattens dims `startDim..endDim` into one, like `torch.nn.Flatten` (defaults 1 and -1, so
 * `[N, C, H, W]` becomes `[N, C * H * W]`).
 */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(options: { startDim?: number; endDim?: number } = {}) {
    super();
    this.startDim = options.startDim ?? 1;
    this.endDim = options.endDim ?? -1;
  }

  override forward(x: Tensor): Tensor {
    checkTensor('Flatten.forward', x, 'x');
    const start = normalizeAxis('Flatten.forward', this.startDim, Math.max(x.ndim, 1));
    const end = normalizeAxis('Flatten.forward', this.endDim, Math.max(x.ndim, 1));
    if (start > end) {
      throw new ShapeError({
        op: 'Flatten.forward',
        expected: `startDim <= endDim after resolving against rank ${x.ndim}`,
        given: `startDim ${this.startDim} -> ${start}, endDim ${this.endDim} -> ${end} for input ${formatShape(x.shape)}`,
      });
    }
    return flatten(x, start, end);
  }
}
