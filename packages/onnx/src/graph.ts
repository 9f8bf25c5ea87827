import { noGrad, type Module, type Tensor } from '@normkit/tensor';
import { OnnxExportError } from './errors';
import { attributeProto, tensorProto, type AttributeValue, type Dim, type NodeProto, type TensorProto } from './proto';

/** A tensor flowing through the graph being built: its ONNX name and its (partly symbolic) shape. */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly Dim[];
}

/** How a module becomes ONNX nodes; `inputs` are the module's forward arguments, lowered. */
export type LowerFunction<M extends Module = Module> = (module: M, inputs: readonly OnnxValue[], ctx: LoweringContext) => OnnxValue;

/** Finds the lowering for a module (the registry, then the built-in table); null when there is none. */
export type LoweringLookup = (module: Module) => LowerFunction | null;

/**
 * What a lowering builds with: nodes, initializers and the opset in force. Names are scoped by the
 * module's dotted path (`0.weight`, `2/Gemm`), so a graph reads like the state dict.
 */
export class LoweringContext {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private readonly usedNames = new Set<string>();
  private scopePath = '';
  private moduleClass = '';
  private contextValues: Readonly<Record<string, OnnxValue>>;

  constructor(
    readonly opset: number,
    private readonly lookup: LoweringLookup,
    private readonly describeMissing: (module: Module, path: string) => OnnxExportError,
    /** Graph inputs standing for the forward's context (`condition`, `labels`, `mask`, `key`, `value`), for the lowerings that read them. */
    context: Readonly<Record<string, OnnxValue>> = {},
    /** Static forward flags of the export (`causal` attention), fixed in the graph. */
    readonly flags: Readonly<{ causal?: boolean }> = {},
  ) {
    this.contextValues = context;
  }

  /** The values standing for the forward's context where the current module is lowered (see `withContext`). */
  get context(): Readonly<Record<string, OnnxValue>> {
    return this.contextValues;
  }

  /**
   * Runs `lower` with `values` as the context (e.g. `condition`, `labels`) on top of the current one,
   * for a model whose forward builds its children's context itself (a one-hot condition from labels
   * it was given as an input); the outer context is restored afterwards.
   */
  withContext<T>(values: Readonly<Record<string, OnnxValue | undefined>>, lower: () => T): T {
    const outer = this.contextValues;
    const merged: Record<string, OnnxValue> = { ...outer };
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete merged[key];
      else merged[key] = value;
    }
    this.contextValues = merged;
    try {
      return lower();
    } finally {
      this.contextValues = outer;
    }
  }

  /** The dotted path of the module being lowered ('' for the root). */
  get scope(): string {
    return this.scopePath;
  }

  /** A name not used yet in this graph, from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  reserveName(name: string): void {
    if (this.usedNames.has(name)) throw new OnnxExportError({ op: 'exportOnnx', expected: 'distinct input and output names', given: `"${name}" twice` });
    this.usedNames.add(name);
  }

  private scoped(local: string): string {
    return this.scopePath ? `${this.scopePath}.${local}` : local;
  }

  /** A float32 initializer from a tensor (read under noGrad, so a parametrized weight is its eval value). */
  parameter(tensor: Tensor, localName: string): OnnxValue {
    const { data, shape } = noGrad(() => ({ data: Float32Array.from(tensor.data), shape: [...tensor.shape] }));
    return this.constant(data, shape, { name: localName });
  }

  /** A float32 (default) or int64 initializer named under the current scope. */
  constant(values: ArrayLike<number>, dims: readonly number[], options: { dtype?: 'float32' | 'int64'; name?: string } = {}): OnnxValue {
    const name = this.uniqueName(this.scoped(options.name ?? 'const'));
    this.initializers.push(tensorProto(name, dims, values, options.dtype ?? 'float32'));
    return { name, shape: [...dims] };
  }

  /** A float32 scalar initializer (broadcasts in arithmetic). */
  scalar(value: number, localName = 'const'): OnnxValue {
    return this.constant([value], [], { name: localName });
  }

  int64s(values: readonly number[], localName = 'shape'): OnnxValue {
    return this.constant(values, [values.length], { dtype: 'int64', name: localName });
  }

  /** One node with one output; `null` inputs are ONNX's omitted optional inputs. */
  node(opType: string, inputs: ReadonlyArray<OnnxValue | null>, shape: readonly Dim[], attributes: Record<string, AttributeValue> = {}): OnnxValue {
    const output = this.uniqueName(this.scoped(`${opType}_out`));
    this.nodes.push({
      name: this.uniqueName(this.scopePath ? `${this.scopePath}/${opType}` : opType),
      opType,
      input: inputs.map((v) => v?.name ?? ''),
      output: [output],
      attribute: Object.entries(attributes).map(([key, value]) => attributeProto(key, value)),
    });
    return { name: output, shape: [...shape] };
  }

  /** ReduceMean over `axes` with keepdims: axes are an attribute before opset 18 and an input from 18. */
  reduceMean(x: OnnxValue, axes: readonly number[]): OnnxValue {
    return this.reduce('ReduceMean', x, axes);
  }

  /**
   * A Reduce* op over `axes` with keepdims. ReduceSum takes its axes as an input (opset 13+); the
   * others take an attribute before opset 18 and an input from 18.
   */
  reduce(opType: 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceL1' | 'ReduceL2', x: OnnxValue, axes: readonly number[]): OnnxValue {
    const rank = x.shape.length;
    const resolved = axes.map((a) => (a < 0 ? a + rank : a));
    const shape = x.shape.map((d, i) => (resolved.includes(i) ? 1 : d));
    const keepdims = { keepdims: { type: 'int' as const, value: 1 } };
    if (this.opset >= 18 || opType === 'ReduceSum') return this.node(opType, [x, this.int64s(axes, 'axes')], shape, keepdims);
    return this.node(opType, [x], shape, { axes: { type: 'ints', value: axes }, ...keepdims });
  }

  /** Add, Sub, Mul, Div, Pow, Max, Min with numpy broadcasting. */
  binary(opType: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow' | 'Max' | 'Min', a: OnnxValue, b: OnnxValue): OnnxValue {
    return this.node(opType, [a, b], broadcastShape(a.shape, b.shape));
  }

  /** An elementwise op of one input (Relu, Sqrt, Erf, ...): the shape is kept. */
  unary(opType: string, x: OnnxValue, attributes: Record<string, AttributeValue> = {}): OnnxValue {
    return this.node(opType, [x], x.shape, attributes);
  }

  /** Lowers a child module under its name (the dotted path grows like the state dict's). */
  lower(module: Module, inputs: readonly OnnxValue[], childName?: string): OnnxValue {
    const lowering = this.lookup(module);
    const outerScope = this.scopePath;
    const outerClass = this.moduleClass;
    const path = childName === undefined ? outerScope : outerScope ? `${outerScope}.${childName}` : childName;
    if (!lowering) throw this.describeMissing(module, path);
    this.scopePath = path;
    this.moduleClass = module.constructor.name;
    try {
      return lowering(module, inputs, this);
    } finally {
      this.scopePath = outerScope;
      this.moduleClass = outerClass;
    }
  }

  /** An error naming the module being lowered, for an option its lowering cannot express. */
  unsupported(expected: string, given: string): OnnxExportError {
    const where = this.scopePath ? `module "${this.scopePath}" (${this.moduleClass})` : `the root module (${this.moduleClass})`;
    return new OnnxExportError({ op: `exportOnnx: ${where}`, expected, given });
  }
}

/** The shape of a broadcasting elementwise op's output (numpy rules; symbolic dims kept). */
export function broadcastShape(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    out.push(da === 1 ? db : da);
  }
  return out;
}
