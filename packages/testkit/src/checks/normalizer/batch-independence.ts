import type { NormalizerPlugin, Tensor } from '@normkit/tensor';
import { attempt, checkResult, describeDifference, firstDifference, type CheckResult } from '../../result';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';

/**
 * Batch (in)dependence, by changing sample 0 of a batch and comparing every other sample's output.
 * - `batchDependent: false`: the other samples' outputs are bit-identical, in training and in eval.
 * - `batchDependent: true`: in training some other sample's output changes; if none does, the
 *   declaration is reported as wrong (users would avoid a batch-independent normalizer for nothing).
 * Two instances with the same state run the two batches, so running statistics cannot interfere.
 */
export function checkBatchIndependence(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const { batchDependent } = harness.traits;
  const shapes = harness.batchedShapes();
  if (shapes.length === 0) failures.push('no input shape has a batch of 2 or more samples: declare one in inputShapes');
  const dtype = 'float64';
  for (const shape of shapes) {
    const modes = batchDependent ? (['train'] as const) : (['train', 'eval'] as const);
    for (const mode of modes) {
      const label = harness.describeCase(shape, dtype, mode);
      attempt(failures, label, () => {
        const generator = harness.generator(41);
        const [first, second] = harness.warmedUpPair(shape, dtype, mode, generator);
        const x = harness.input(shape, dtype, generator);
        const changed = x.clone();
        const sampleSize = x.size / shape[0]!;
        for (let i = 0; i < sampleSize; i++) changed.data[i] = 3 * generator.normal() - 1;
        const context = harness.context(shape, dtype, generator);
        const y = first.forward(x, context);
        const yChanged = second.forward(changed, context);
        const differing = otherSamplesThatDiffer(y, yChanged, shape[0]!);
        if (!batchDependent && differing.length > 0) {
          failures.push(
            `${label}: declares batchDependent: false, but changing sample 0 changed the output of sample(s) ` +
              `${differing.map((d) => d.sample).join(', ')} (sample ${differing[0]!.sample} ${differing[0]!.where})`,
          );
        }
        if (batchDependent && differing.length === 0) {
          failures.push(`${label}: declares batchDependent: true, but changing sample 0 left every other sample's output bit-identical`);
        }
      });
    }
  }
  return checkResult(
    'batch-independence',
    failures,
    batchDependent ? 'training outputs depend on the other samples, as declared' : 'other samples bit-identical when one changes',
  );
}

function otherSamplesThatDiffer(a: Tensor, b: Tensor, samples: number): { sample: number; where: string }[] {
  const size = a.size / samples;
  const differing: { sample: number; where: string }[] = [];
  for (let s = 1; s < samples; s++) {
    const sliceA = a.data.subarray(s * size, (s + 1) * size);
    const sliceB = b.data.subarray(s * size, (s + 1) * size);
    const index = firstDifference(sliceA, sliceB);
    if (index !== -1) differing.push({ sample: s, where: describeDifference(index, sliceA, sliceB) });
  }
  return differing;
}
