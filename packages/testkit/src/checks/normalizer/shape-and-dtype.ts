import type { NormalizerPlugin } from '@normkit/tensor';
import { attempt, checkResult, formatShapeList, type CheckResult } from '../../result';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';

/**
 * The output has the input's shape and dtype, for every declared input shape, in float32 and
 * float64, in training and in eval mode.
 */
export function checkShapeAndDType(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  let cases = 0;
  for (const shape of config.inputShapes) {
    for (const dtype of harness.dtypes) {
      const generator = harness.generator(11);
      const module = harness.create(dtype);
      for (const mode of ['train', 'eval'] as const) {
        const label = harness.describeCase(shape, dtype, mode);
        attempt(failures, label, () => {
          module.train(mode === 'train');
          const x = harness.input(shape, dtype, generator);
          const y = module.forward(x, harness.context(shape, dtype, generator));
          cases++;
          if (formatShapeList(y.shape) !== formatShapeList(shape)) failures.push(`${label}: output shape ${formatShapeList(y.shape)}, expected ${formatShapeList(shape)}`);
          if (y.dtype !== dtype) failures.push(`${label}: output dtype ${y.dtype}, expected ${dtype}`);
          if (y.data.length !== x.size) failures.push(`${label}: output holds ${y.data.length} values, expected ${x.size}`);
        });
      }
    }
  }
  if (config.inputShapes.length === 0) failures.push('no inputShapes declared');
  return checkResult('shape-and-dtype', failures, `${cases} forwards kept shape and dtype`);
}
