import { isTensor, noGrad, ones, zeros, type Module, type NormalizerOnnxLowering, type Tensor } from '@normkit/tensor';
import { OnnxExportError } from './errors';
import { LoweringContext, type LowerFunction, type OnnxValue } from './graph';
import { coreLowerings } from './lowerings/index';
import { encodeModel, valueInfoProto, type Dim } from './proto';
import { getLowering, getPluginLowering, type AnyLowering, type ModuleClass } from './registry';

/** An input given by shape only (the export runs the eval forward on zeros of that shape). */
export interface OnnxInputSpec {
  shape: readonly number[];
  /** 'int64' for integer ids (Embedding's indices): the graph input is int64, the example forward gets index 0 everywhere. Default 'float32'. */
  dtype?: 'float32' | 'int64';
}

export interface ExportOnnxOptions {
  /** One example per forward argument: a tensor, or `{ shape }`. */
  inputs: ReadonlyArray<Tensor | OnnxInputSpec>;
  /** ai.onnx opset, 17 to 23 (default 17). Lowerings choose ops by it (e.g. Gelu from 20). */
  opset?: number;
  /** Graph input names (default `input`, or `input_0`, `input_1`, ... for several). */
  inputNames?: readonly string[];
  /** Graph output name (default `output`); an array for symmetry with inputNames, one entry. */
  outputNames?: readonly string[];
  /**
   * Symbolic axes per input name: `{ input: { 0: 'batch' } }`, or `{ input: [0] }` for names
   * `input_dim0`. Output dims follow through the lowerings.
   */
  dynamicAxes?: Readonly<Record<string, Readonly<Record<number, string>> | readonly number[]>>;
  /**
   * The forward's context as extra graph inputs, named by key: `{ condition: { shape: [1, 64] } }`
   * exports `forward(x, { condition })` with a float `condition` input (dynamicAxes apply to it too);
   * `labels: { shape: [N] }` an int64 `labels` input of class ids (ConditionalBatchNorm); `mask`
   * ([N, S], 1 real / 0 padding), `key` and `value` ([N, S, E], cross-attention) float inputs for
   * attention; `causal: true` a causal mask fixed in the graph (not an input).
   */
  context?: Readonly<{
    condition?: Tensor | OnnxInputSpec;
    labels?: { shape: readonly [number] };
    mask?: Tensor | OnnxInputSpec;
    key?: Tensor | OnnxInputSpec;
    value?: Tensor | OnnxInputSpec;
    causal?: boolean;
  }>;
  /**
   * Lowerings for this export only, consulted first; then `registerLowering`'s registry, then the
   * `onnx` hooks of registered normalizer plugins, then the built-in ones.
   */
  lowerings?: Iterable<AnyLowering | NormalizerOnnxLowering>;
  /** Graph name (default `normkit`). */
  graphName?: string;
}

export const MIN_OPSET = 17;
export const MAX_OPSET = 23;

/** The IR version that introduced each opset (the fields written here exist from IR 8 on). */
function irVersionFor(opset: number): number {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

/** Which package ships the lowering of a first-party class, for the error message. */
const FAMILY_HINTS: Record<string, string> = {
  BatchNorm: 'batch', GhostBatchNorm: 'batch', SyncBatchNorm: 'batch',
  LayerNorm: 'layer', RMSNorm: 'layer', AdaLN: 'layer', AdaLNZero: 'layer',
  GroupNorm: 'group', InstanceNorm: 'group', FilterResponseNorm: 'group', FilterResponseNormTLU: 'group', TLU: 'group',
  SwitchableNorm: 'switchable', NormalizerMixture: 'switchable', BatchRenorm: 'batch', WSConv2d: 'weight', WSLinear: 'weight',
  FiLM: 'conditional', ConditionalBatchNorm: 'conditional', SPADE: 'conditional',
  FrozenBatchNorm: 'batch', LocalResponseNorm: 'group', EvoNormS0: 'group', EvoNormB0: 'group',
  L2Norm: 'layer', ScaleNorm: 'layer', LayerScale: 'layer', DynamicTanh: 'layer', Residual: 'layer',
  ScaledStdConv2d: 'norm-free', ScaledStdLinear: 'norm-free', SkipInit: 'norm-free', NFResidualBlock: 'norm-free',
};

/** 'norm-free' -> 'normFreeLowerings'. */
function exportName(family: string): string {
  return `${family.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Lowerings`;
}

function missingLowering(module: Module, path: string): OnnxExportError {
  const className = module.constructor.name;
  const where = path ? `module "${path}" (class ${className})` : `the root module (class ${className})`;
  const family = FAMILY_HINTS[className];
  const how = family
    ? `import { ${exportName(family)} } from '@normkit/onnx/${family}' and pass it as exportOnnx(model, { lowerings: ${exportName(family)}, ... }) or call registerLowerings(${exportName(family)})`
    : `add one with registerLowering(defineLowering({ loweringVersion: 'v1', module: ${className}, lower(module, [x], ctx) { ... } })) from '@normkit/onnx', or give the normalizer plugin that creates it an \`onnx\` field and register the plugin (see the package README, "Adding a lowering")`;
  return new OnnxExportError({ op: 'exportOnnx', expected: `a lowering for every module on the forward path`, given: `no ONNX lowering for ${where}` }, `To export it, ${how}`);
}

function resolveOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new OnnxExportError({ op: 'exportOnnx', expected: `an opset from ${MIN_OPSET} to ${MAX_OPSET}`, given: `opset ${String(opset)}` });
  }
  return opset;
}

function dynamicNames(spec: Readonly<Record<number, string>> | readonly number[] | undefined, inputName: string): Map<number, string> {
  const names = new Map<number, string>();
  if (!spec) return names;
  if (Array.isArray(spec)) for (const axis of spec as readonly number[]) names.set(axis, `${inputName}_dim${axis}`);
  else for (const [axis, name] of Object.entries(spec as Record<number, string>)) names.set(Number(axis), name);
  return names;
}

/**
 * Exports `module` in eval mode as an ONNX model (the bytes of a ModelProto). Each module on the
 * forward path is lowered by the lowering registered for its exact class; the eval forward is run
 * once on the example inputs to check that the lowered output shape is the module's. Training
 * flags are restored afterwards.
 *
 * @example
 * const bytes = exportOnnx(model, { inputs: [{ shape: [1, 3, 32, 32] }], dynamicAxes: { input: { 0: 'batch' } } });
 * const session = await InferenceSession.create(bytes); // onnxruntime-node / onnxruntime-web
 */
export function exportOnnx(module: Module, options: ExportOnnxOptions): Uint8Array {
  const opset = resolveOpset(options.opset ?? 17);
  if (!options.inputs || options.inputs.length === 0) {
    throw new OnnxExportError({ op: 'exportOnnx', expected: 'at least one example input (a tensor or { shape })', given: 'no inputs' });
  }
  const inputNames = options.inputNames ?? (options.inputs.length === 1 ? ['input'] : options.inputs.map((_, i) => `input_${i}`));
  if (inputNames.length !== options.inputs.length) {
    throw new OnnxExportError({ op: 'exportOnnx', expected: `${options.inputs.length} input name(s), one per input`, given: `${inputNames.length}` });
  }
  const outputName = options.outputNames?.[0] ?? 'output';

  const extra = new Map<ModuleClass, LowerFunction>();
  for (const lowering of options.lowerings ?? []) extra.set(lowering.module, lowering.lower as LowerFunction);
  const builtIn = new Map<ModuleClass, LowerFunction>(coreLowerings.map((l) => [l.module, l.lower as LowerFunction]));
  const lookup = (m: Module): LowerFunction | null => {
    const cls = m.constructor as ModuleClass;
    return extra.get(cls) ?? getLowering(cls)?.lower ?? getPluginLowering(cls)?.lower ?? builtIn.get(cls) ?? null;
  };

  const examples = options.inputs.map((input) => (isTensor(input) ? input : zeros([...input.shape])));
  const dtypes = new Map<string, 'float32' | 'int64'>();
  const graphInputs: OnnxValue[] = examples.map((example, i) => {
    const name = inputNames[i]!;
    const input = options.inputs[i]!;
    if (!isTensor(input) && input.dtype === 'int64') dtypes.set(name, 'int64');
    const dynamic = dynamicNames(options.dynamicAxes?.[name], name);
    return { name, shape: example.shape.map((d, axis): Dim => dynamic.get(axis) ?? d) };
  });

  const { labels, causal, ...floatContext } = options.context ?? {};
  if (causal !== undefined && typeof causal !== 'boolean') {
    throw new OnnxExportError({ op: 'exportOnnx', expected: 'context.causal to be true or false', given: String(causal) });
  }
  // A mask given by shape is all ones (every key real), so the example forward attends everywhere.
  const contextExamples = Object.entries(floatContext)
    .filter((entry): entry is [string, Tensor | OnnxInputSpec] => entry[1] !== undefined)
    .map(([name, input]) => [name, isTensor(input) ? input : name === 'mask' ? ones([...input.shape]) : zeros([...input.shape])] as [string, unknown]);
  const contextInputs: Record<string, OnnxValue> = {};
  for (const [name, example] of contextExamples) {
    const dynamic = dynamicNames(options.dynamicAxes?.[name], name);
    contextInputs[name] = { name, shape: (example as Tensor).shape.map((d, axis): Dim => dynamic.get(axis) ?? d) };
  }
  if (labels !== undefined) {
    if (!Array.isArray(labels.shape) || labels.shape.length !== 1 || !Number.isInteger(labels.shape[0]) || labels.shape[0] < 1) {
      throw new OnnxExportError({ op: 'exportOnnx', expected: 'context.labels as { shape: [N] } (one class id per sample)', given: JSON.stringify(labels) });
    }
    const dynamic = dynamicNames(options.dynamicAxes?.labels, 'labels');
    contextInputs.labels = { name: 'labels', shape: [dynamic.get(0) ?? labels.shape[0]] };
    dtypes.set('labels', 'int64');
    contextExamples.push(['labels', new Array<number>(labels.shape[0]).fill(0)]);
  }
  if (causal) contextExamples.push(['causal', true]);

  const modes = [...module.namedModules()].map(([, m]) => [m, m.training] as const);
  module.eval();
  try {
    const ctx = new LoweringContext(opset, lookup, missingLowering, contextInputs, { causal: causal ?? false });
    for (const name of [...inputNames, ...Object.keys(contextInputs), outputName]) ctx.reserveName(name);
    const last = ctx.lower(module, graphInputs);
    // Identity gives the output its requested name whatever produced it (ORT removes it).
    ctx.nodes.push({ name: ctx.uniqueName('output/Identity'), opType: 'Identity', input: [last.name], output: [outputName] });

    const forwardArgs: unknown[] = contextExamples.length > 0 ? [...examples, Object.fromEntries(contextExamples)] : examples;
    const reference = noGrad(() => (module.forward as (...args: unknown[]) => unknown)(...forwardArgs));
    if (!isTensor(reference)) {
      throw new OnnxExportError({ op: 'exportOnnx', expected: 'a module whose forward returns one tensor', given: `a forward returning ${typeof reference}` });
    }
    const mismatch = reference.ndim !== last.shape.length || last.shape.some((d, i) => typeof d === 'number' && d !== reference.shape[i]);
    if (mismatch) {
      throw new OnnxExportError({
        op: 'exportOnnx',
        expected: `the lowered output shape to match the eval forward's [${reference.shape.join(', ')}]`,
        given: `[${last.shape.map((d) => (d === '' ? '?' : d)).join(', ')}]`,
      }, 'A lowering computes the wrong shape: this is a bug in that lowering');
    }
    return encodeModel({
      irVersion: irVersionFor(opset),
      producerName: '@normkit/onnx',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: opset }],
      graph: {
        name: options.graphName ?? 'normkit',
        node: ctx.nodes,
        initializer: ctx.initializers,
        input: [...graphInputs, ...Object.values(contextInputs)].map((v) => valueInfoProto(v.name, v.shape, dtypes.get(v.name))),
        output: [valueInfoProto(outputName, last.shape)],
      },
    });
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}
