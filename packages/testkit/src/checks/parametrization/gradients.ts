import { gradcheck, type WeightParametrizationPlugin } from '@normkit/tensor';
import { attempt, checkResult, type CheckResult } from '../../result';
import { ParametrizationHarness, type ParametrizationSuiteConfig } from './harness';

/**
 * Gradcheck in float64 of the parametrized tensor with respect to every original, in eval mode
 * after a few training reads, and in training mode too when the parametrization holds no buffers
 * (a power iteration updating buffers at every read makes finite differences meaningless, as in PyTorch).
 */
export function checkParametrizationGradients(plugin: WeightParametrizationPlugin, config: ParametrizationSuiteConfig): CheckResult {
  const failures: string[] = [];
  const harness = new ParametrizationHarness(plugin, config);
  const tolerance = config.tolerance?.gradcheck ?? {};
  let checked = 0;
  for (const mode of ['eval', 'train'] as const) {
    attempt(failures, mode, () => {
      const target = harness.parametrize('float64');
      if (mode === 'train' && [...target.list.at(0).namedBuffers()].length > 0) return;
      harness.warmUp(target);
      target.module.train(mode === 'train');
      const originals = target.list.originals;
      const wrong = originals.filter((o) => o.dtype !== 'float64');
      if (wrong.length > 0) {
        failures.push(`${mode}: originals are ${wrong[0]!.dtype} for a float64 host: the parametrization must keep the host's dtype`);
        return;
      }
      for (const original of originals) original.requireGrad();
      const result = gradcheck(() => target.read(), originals, tolerance);
      checked++;
      if (!result.ok) {
        const worst = result.failures.slice(0, 3).map((f) => `original ${f.input} [${f.index}] analytic ${f.analytic} vs numeric ${f.numeric}`);
        failures.push(`${mode}: gradcheck failed on ${result.failures.length} element(s), max error ${result.maxError}: ${worst.join('; ')}`);
      }
    });
  }
  return checkResult('gradients', failures, `${checked} gradchecks of the tensor w.r.t. its originals passed`);
}
