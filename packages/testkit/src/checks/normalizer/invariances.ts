import { describeMismatch, findMismatch, stridesOf, type Generator, type NormalizerPlugin, type Tensor } from '@normkit/tensor';
import { attempt, checkResult, type CheckResult } from '../../result';
import { NormalizerHarness, type InvarianceSpec, type NormalizerSuiteConfig } from './harness';

/**
 * The declared invariances of the family (see `InvarianceSpec`): shifting or scaling the input by
 * constants drawn per sample, channel, (sample, channel) or for the whole tensor leaves the output
 * unchanged within `tolerance.invariance`. Run in float64 on every declared input shape, with inputs
 * of standard deviation about 75 so that eps does not blur the comparison.
 */
export function checkInvariances(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const specs = config.invariances ?? [];
  const { atol, rtol } = config.tolerance?.invariance ?? { atol: 1e-4, rtol: 1e-4 };
  if (specs.length === 0) failures.push('no invariances declared: pass `invariances` or skip this check');
  const dtype = 'float64';
  for (const spec of specs) {
    const mode = spec.mode ?? 'train';
    for (const shape of config.inputShapes) {
      const label = `${spec.transform} per ${spec.per}, ${harness.describeCase(shape, dtype, mode)}`;
      attempt(failures, label, () => {
        const generator = harness.generator(43);
        const [first, second] = harness.warmedUpPair(shape, dtype, mode, generator);
        // Inputs with a standard deviation near 75: eps / var, which breaks scale invariance
        // slightly, stays far below the tolerance even for groups of two values.
        const x = harness.input(shape, dtype, generator);
        for (let i = 0; i < x.size; i++) x.data[i] = 50 * x.data[i]!;
        const transformed = transform(x, spec, harness.channelAxis(shape.length), generator);
        const context = harness.context(shape, dtype, generator);
        const mismatch = findMismatch(second.forward(transformed, context), first.forward(x, context), atol, rtol);
        if (mismatch) failures.push(`${label}: output changed, ${describeMismatch(mismatch, atol, rtol)}`);
      });
    }
  }
  return checkResult('invariances', failures, `${specs.map((s) => `${s.transform} per ${s.per}`).join(', ')} invariance held`);
}

/** x shifted by c ~ U(-3, 3) or scaled by s ~ U(0.5, 2), one constant per group of `spec.per`. */
function transform(x: Tensor, spec: InvarianceSpec, channelAxis: number, generator: Generator): Tensor {
  const shape = x.shape;
  const strides = stridesOf(shape);
  const samples = shape[0] ?? 1;
  const channels = shape[channelAxis] ?? 1;
  const groupCount = spec.per === 'tensor' ? 1 : spec.per === 'sample' ? samples : spec.per === 'channel' ? channels : samples * channels;
  const constants = new Float64Array(groupCount);
  for (let g = 0; g < groupCount; g++) constants[g] = spec.transform === 'shift' ? -3 + 6 * generator.uniform() : 0.5 + 1.5 * generator.uniform();
  const out = x.clone();
  for (let i = 0; i < x.size; i++) {
    const sample = Math.floor(i / strides[0]!) % samples;
    const channel = Math.floor(i / strides[channelAxis]!) % channels;
    const group = spec.per === 'tensor' ? 0 : spec.per === 'sample' ? sample : spec.per === 'channel' ? channel : sample * channels + channel;
    out.data[i] = spec.transform === 'shift' ? x.data[i]! + constants[group]! : x.data[i]! * constants[group]!;
  }
  return out;
}
