import { isTensor, noGrad, type Module, type NormalizerOnnxLowering, type NormalizerPlugin, type Tensor } from '@normkit/tensor';
import { attempt, checkResult, formatShapeList, type CheckResult } from '../../result';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';

/** What the check needs of `@normkit/onnx`'s exportOnnx (passed in: the testkit depends on no exporter). */
export type ExportOnnxFunction = (
  module: Module,
  options: {
    inputs: ReadonlyArray<{ shape: readonly number[] }>;
    opset: number;
    dynamicAxes: Readonly<Record<string, Readonly<Record<number, string>>>>;
    context?: { condition?: { shape: readonly number[] }; labels?: { shape: readonly [number] } };
    lowerings?: Iterable<NormalizerOnnxLowering>;
  },
) => Uint8Array;

/** What the check needs of onnxruntime (`import * as ort from 'onnxruntime-node'`, or onnxruntime-web). */
export interface OnnxRuntimeLike {
  InferenceSession: {
    create(bytes: Uint8Array): Promise<{
      readonly outputNames: readonly string[];
      run(feeds: Record<string, unknown>): Promise<Record<string, { readonly data: unknown; readonly dims: readonly number[] }>>;
      release(): Promise<void>;
    }>;
  };
  Tensor: {
    new (type: 'float32', data: Float32Array, dims: readonly number[]): unknown;
    new (type: 'int64', data: BigInt64Array, dims: readonly number[]): unknown;
  };
}

export interface OnnxExportCheckConfig extends NormalizerSuiteConfig {
  exportOnnx: ExportOnnxFunction;
  ort: OnnxRuntimeLike;
  /** Opsets to export at (default [17]). */
  opsets?: readonly number[];
  /** Batch sizes run through each file, whose batch axis is dynamic (default [1, 7]). */
  batchSizes?: readonly number[];
  /**
   * Lowerings for modules the plugin's `onnx` hook does not cover (a first-party family's, say);
   * the hook itself is always passed.
   */
  lowerings?: Iterable<NormalizerOnnxLowering>;
  /** |onnx - normkit| <= rtol * max|normkit| + atol (default rtol 1e-5, atol 1e-6: onnxruntime computes in float32). */
  onnxTolerance?: { rtol: number; atol: number };
}

/**
 * Exports the plugin's module (float32, after the suite's training steps, in eval) with `exportOnnx`
 * at each opset with a dynamic batch axis, runs the file in onnxruntime at each batch size and
 * compares with normkit's eval forward. A `condition` from the config's `context` becomes a float
 * graph input and `labels` an int64 one; masks are not exported. Async (onnxruntime is), and
 * optional: not part of `describeNormalizer`.
 *
 * @example
 * import { exportOnnx } from '@normkit/onnx';
 * import * as ort from 'onnxruntime-node';
 * it('exports and matches onnxruntime', async () => {
 *   const result = await checkOnnxExport(myNormPlugin, { slot: { numFeatures: 8 }, inputShapes: [[2, 5, 8]], exportOnnx, ort });
 *   expect(result.ok, result.message).toBe(true);
 * });
 */
export async function checkOnnxExport(plugin: NormalizerPlugin, config: OnnxExportCheckConfig): Promise<CheckResult> {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const tolerance = config.onnxTolerance ?? { rtol: 1e-5, atol: 1e-6 };
  const lowerings = [...(plugin.onnx ? [plugin.onnx] : []), ...(config.lowerings ?? [])];
  let runs = 0;
  let worst = 0;
  for (const shape of config.inputShapes) {
    for (const opset of config.opsets ?? [17]) {
      const label = `${formatShapeList(shape)} opset ${opset}`;
      let module: Module | undefined;
      let bytes: Uint8Array | undefined;
      let conditionShape: readonly number[] | undefined;
      let withLabels = false;
      attempt(failures, `${label}: export`, () => {
        const generator = harness.generator(97);
        const m = harness.create('float32');
        harness.warmUp(m, shape, 'float32', generator);
        const context = harness.context(shape, 'float32', generator);
        if (context?.mask !== undefined) throw new Error('masks are not exportable by this check; give a condition or labels only');
        conditionShape = context?.condition?.shape;
        withLabels = context?.labels !== undefined;
        const dynamicAxes: Record<string, Record<number, string>> = { input: { 0: 'batch' } };
        if (conditionShape) dynamicAxes.condition = { 0: 'batch' };
        if (withLabels) dynamicAxes.labels = { 0: 'batch' };
        bytes = config.exportOnnx(m, {
          inputs: [{ shape }],
          opset,
          dynamicAxes,
          context: { ...(conditionShape ? { condition: { shape: conditionShape } } : {}), ...(withLabels ? { labels: { shape: [shape[0]!] as const } } : {}) },
          lowerings,
        });
        module = m;
      });
      if (!module || !bytes) continue;
      for (const n of config.batchSizes ?? [1, 7]) {
        const batchShape = [n, ...shape.slice(1)];
        const caseLabel = `${label}, batch ${n}`;
        try {
          const generator = harness.generator(101 + n);
          const x = harness.input(batchShape, 'float32', generator);
          const context = conditionShape || withLabels ? harness.context(batchShape, 'float32', generator) : undefined;
          const condition = conditionShape ? context?.condition : undefined;
          const labels = withLabels && context?.labels !== undefined ? Array.from(isTensor(context.labels) ? context.labels.data : context.labels) : undefined;
          const reference = evalForward(module, x, { ...(condition ? { condition } : {}), ...(labels ? { labels } : {}) });
          const actual = await runInOrt(config.ort, bytes, { input: x, ...(condition ? { condition } : {}) }, labels);
          runs++;
          if (actual.dims.join(',') !== reference.shape.join(',')) {
            failures.push(`${caseLabel}: onnxruntime output shape ${formatShapeList(actual.dims)}, normkit ${formatShapeList(reference.shape)}`);
            continue;
          }
          const { diff, index, allowed } = compare(actual.data, reference.data, tolerance);
          worst = Math.max(worst, diff);
          if (!(diff <= allowed)) {
            failures.push(`${caseLabel}: |onnx - normkit| = ${diff} at element ${index} (onnx ${actual.data[index]}, normkit ${reference.data[index]}) > ${allowed}`);
          }
        } catch (error) {
          failures.push(`${caseLabel}: threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
        }
      }
    }
  }
  return checkResult('onnx-export', failures, `${runs} onnxruntime runs match normkit's eval output (worst |a - b| = ${worst.toExponential(2)})`);
}

function evalForward(module: Module, x: Tensor, context: { condition?: Tensor; labels?: number[] }): Tensor {
  const training = module.training;
  module.eval();
  try {
    return noGrad(() => (module.forward as (x: Tensor, context?: object) => Tensor)(x, context.condition || context.labels ? context : undefined));
  } finally {
    module.train(training);
  }
}

async function runInOrt(
  ort: OnnxRuntimeLike, bytes: Uint8Array, feeds: Record<string, Tensor>, labels: readonly number[] | undefined,
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const ortFeeds: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', Float32Array.from(t.data), [...t.shape]);
    if (labels) ortFeeds.labels = new ort.Tensor('int64', BigInt64Array.from(labels, (v) => BigInt(v)), [labels.length]);
    const output = (await session.run(ortFeeds))[session.outputNames[0]!]!;
    return { data: output.data as Float32Array, dims: output.dims };
  } finally {
    await session.release();
  }
}

/** The worst |a - b| and the tolerance rtol * max|ref| + atol. */
function compare(actual: ArrayLike<number>, reference: ArrayLike<number>, tolerance: { rtol: number; atol: number }): { diff: number; index: number; allowed: number } {
  let scale = 0;
  for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i]!));
  let diff = 0;
  let index = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(actual[i]! - reference[i]!);
    if (!(d <= diff)) {
      diff = d;
      index = i;
    }
  }
  return { diff, index, allowed: tolerance.rtol * scale + tolerance.atol };
}
