import {
  describeMismatch, findMismatch, isNormkitError, type DType, type NormalizerContext, type NormalizerPlugin, type Tensor,
} from '@normkit/tensor';
import { attempt, checkResult, describeError, type CheckResult } from '../../result';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';
import { upstream } from '../shared';

/**
 * The context the traits declare:
 * - `needsCondition` / `needsLabels`: a forward without the condition (labels) throws a normkit
 *   ContextError whose message names what is missing;
 * - `acceptsMask`: a mask of all ones gives the same output and input gradient as no mask, in
 *   training and eval, in float32 and float64 (within `tolerance.float32` / `tolerance.float64`);
 * - `acceptsMask: false`: a forward with a mask throws a normkit ContextError naming the mask, in
 *   training and eval, instead of ignoring it (an ignored mask lets padding in silently).
 */
export function checkContext(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const { needsCondition, needsLabels, acceptsMask } = harness.traits;
  const verified: string[] = [];
  const shape = config.inputShapes[0];
  if (!shape) return checkResult('context', ['no inputShapes declared'], '');
  if ((needsCondition || needsLabels) && !config.context) {
    failures.push(`the plugin needs ${needsCondition ? 'a condition' : 'labels'}: give the testkit a \`context\` factory`);
  }
  const missing: { what: 'condition' | 'labels'; pattern: RegExp }[] = [];
  if (needsCondition) missing.push({ what: 'condition', pattern: /condition/i });
  if (needsLabels) missing.push({ what: 'labels', pattern: /label/i });
  for (const { what, pattern } of missing) {
    attempt(failures, `missing ${what}`, () => {
      const generator = harness.generator(61);
      const module = harness.create('float64');
      const context: NormalizerContext = { ...harness.context(shape, 'float64', generator) };
      delete context[what];
      let thrown: unknown = null;
      try {
        module.forward(harness.input(shape, 'float64', generator), context);
      } catch (error) {
        thrown = error;
      }
      if (thrown === null) failures.push(`missing ${what}: forward did not throw`);
      else if (!isNormkitError(thrown) || thrown.kind !== 'context') failures.push(`missing ${what}: expected a ContextError, got ${describeError(thrown)}`);
      else if (!pattern.test(thrown.message)) failures.push(`missing ${what}: the ContextError does not name the ${what}: "${thrown.message}"`);
      else verified.push(`missing ${what} refused`);
    });
  }
  if (acceptsMask) {
    for (const shapeCase of config.inputShapes) {
      for (const dtype of harness.dtypes) {
        for (const mode of ['train', 'eval'] as const) {
          const label = `mask of ones, ${harness.describeCase(shapeCase, dtype, mode)}`;
          attempt(failures, label, () => {
            const problem = compareOnesMask(harness, shapeCase, dtype, mode);
            if (problem) failures.push(`${label}: ${problem}`);
          });
        }
      }
    }
    verified.push('a mask of ones equals no mask');
  } else {
    for (const mode of ['train', 'eval'] as const) {
      const label = `a mask given to a plugin whose traits say acceptsMask: false, ${harness.describeCase(shape, 'float64', mode)}`;
      attempt(failures, label, () => {
        const problem = refusesMask(harness, shape, mode);
        if (problem) failures.push(`${label}: ${problem}`);
      });
    }
    if (failures.length === 0) verified.push('a mask is refused (acceptsMask: false)');
  }
  return checkResult('context', failures, verified.join('; '));
}

function compareOnesMask(harness: NormalizerHarness, shape: readonly number[], dtype: DType, mode: 'train' | 'eval'): string | null {
  const generator = harness.generator(67);
  const [plain, masked] = harness.warmedUpPair(shape, dtype, mode, generator);
  const x = harness.input(shape, dtype, generator);
  const xMasked = x.clone();
  const context = harness.context(shape, dtype, generator) ?? {};
  const run = (module: typeof plain, input: Tensor, ctx: NormalizerContext): Tensor => {
    input.requireGrad();
    const y = module.forward(input, ctx);
    if (y.requiresGrad) y.backward(upstream(y.size));
    return y;
  };
  const { mask: _ignored, ...withoutMask } = context;
  const expected = run(plain, x, withoutMask);
  const actual = run(masked, xMasked, { ...withoutMask, mask: harness.onesMask(shape, dtype) });
  const { atol, rtol } = harness.tolerance(dtype);
  const outputMismatch = findMismatch(actual, expected, atol, rtol);
  if (outputMismatch) return `output differs from no mask, ${describeMismatch(outputMismatch, atol, rtol)}`;
  if (x.grad && xMasked.grad) {
    const gradMismatch = findMismatch(xMasked.grad, x.grad, atol, rtol);
    if (gradMismatch) return `input gradient differs from no mask, ${describeMismatch(gradMismatch, atol, rtol)}`;
  } else if (x.grad !== xMasked.grad) {
    return `the input received a gradient ${x.grad ? 'without' : 'with'} the mask only`;
  }
  return null;
}

function refusesMask(harness: NormalizerHarness, shape: readonly number[], mode: 'train' | 'eval'): string | null {
  const generator = harness.generator(71);
  const module = harness.create('float64');
  module.train(mode === 'train');
  const context = { ...(harness.context(shape, 'float64', generator) ?? {}), mask: harness.onesMask(shape, 'float64') };
  try {
    module.forward(harness.input(shape, 'float64', generator), context);
  } catch (error) {
    if (!isNormkitError(error) || error.kind !== 'context') return `expected a ContextError, got ${describeError(error)}`;
    if (!/mask/i.test(error.message)) return `the ContextError does not name the mask: "${error.message}"`;
    return null;
  }
  return 'forward ignored the mask (it must throw a ContextError: the traits say acceptsMask: false)';
}
