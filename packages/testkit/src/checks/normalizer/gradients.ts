import { gradcheck, type NormalizerContext, type NormalizerPlugin, type Tensor } from '@normkit/tensor';
import { attempt, checkResult, type CheckResult } from '../../result';
import { NormalizerHarness, type NormalizerSuiteConfig } from './harness';

/**
 * Gradcheck in float64: the analytic gradients of the output with respect to the input, every
 * parameter and (when the context has one) the condition tensor match central finite differences,
 * in training and, after a few training steps, in eval mode.
 */
export function checkGradients(plugin: NormalizerPlugin, config: NormalizerSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new NormalizerHarness(plugin, config);
  const tolerance = config.tolerance?.gradcheck ?? {};
  let checked = 0;
  for (const shape of config.inputShapes) {
    for (const mode of ['train', 'eval'] as const) {
      const label = harness.describeCase(shape, 'float64', mode);
      attempt(failures, label, () => {
        const generator = harness.generator(23);
        const module = harness.create('float64');
        harness.warmUp(module, shape, 'float64', generator);
        module.train(mode === 'train');
        const parameters = [...module.namedParameters()];
        const wrongDType = parameters.filter(([, p]) => p.dtype !== 'float64').map(([name]) => name);
        if (wrongDType.length > 0) {
          failures.push(
            `${label}: parameters ${wrongDType.join(', ')} are not float64 when built for float64; ` +
              'give the plugin a `dtype` option or pass `options: (dtype) => ({ ... })` to the testkit',
          );
          return;
        }
        const x = harness.input(shape, 'float64', generator).requireGrad();
        const baseContext = harness.context(shape, 'float64', generator);
        const condition = differentiableCondition(baseContext);
        const context: NormalizerContext | undefined = condition ? { ...baseContext, condition } : baseContext;
        const inputs: Tensor[] = [x, ...parameters.map(([, p]) => p)];
        if (condition) inputs.push(condition);
        const names = ['input', ...parameters.map(([name]) => `parameter ${name}`), ...(condition ? ['condition'] : [])];
        const result = gradcheck((input) => module.forward(input, context), inputs, tolerance);
        checked++;
        if (!result.ok) {
          const worst = result.failures.slice(0, 3).map((f) => `${names[f.input]}[${f.index}] analytic ${f.analytic} vs numeric ${f.numeric}`);
          failures.push(`${label}: gradcheck failed on ${result.failures.length} element(s), max error ${result.maxError}: ${worst.join('; ')}`);
        }
      });
    }
  }
  return checkResult('gradients', failures, `${checked} gradchecks passed (input, parameters${config.context ? ', condition' : ''})`);
}

/** A float64 leaf copy of the context's condition that requires a gradient, or null. */
function differentiableCondition(context: NormalizerContext | undefined): Tensor | null {
  const condition = context?.condition;
  if (!condition || condition.dtype !== 'float64') return null;
  return condition.clone().requireGrad();
}
