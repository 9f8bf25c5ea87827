// Gradient-transform plugins written with the public API only: clip by global norm, and variants
// with one planted fault each.
import { SPECIFICATION_VERSION, defineGradientTransform, type GradientEntry, type GradientTransform, type GradientTransformPlugin } from '@normkit/tensor';

type ClipFault = 'none' | 'decays-parameters' | 'nan-on-zero' | 'crashes-on-missing' | 'always-halves' | 'no-apply';

function clipPlugin(name: string, fault: ClipFault): GradientTransformPlugin {
  return defineGradientTransform({
    specificationVersion: SPECIFICATION_VERSION,
    kind: 'gradient-transform',
    name,
    family: 'testkit-fixtures',
    description: `clip gradients by their global L2 norm (${fault === 'none' ? 'correct' : `planted fault: ${fault}`})`,
    options: { maxNorm: { type: 'number', default: 1, min: 0, minExclusive: true, description: 'largest allowed global norm' } },
    create: (options) => withFault(fault, {
      name,
      apply(entries: readonly GradientEntry[]) {
        let squares = 0;
        for (const { parameter } of entries) {
          // The planted crash: assumes every parameter has a gradient.
          if (!parameter.grad && fault !== 'crashes-on-missing') continue;
          for (const g of parameter.grad!.data) squares += g * g;
        }
        const totalNorm = Math.sqrt(squares);
        // PyTorch's clip_grad_norm_: coefficient max_norm / (norm + 1e-6), clamped to 1.
        let coefficient = Math.min(1, options.maxNorm / (totalNorm + 1e-6));
        if (fault === 'nan-on-zero') coefficient = Math.min(1, options.maxNorm / totalNorm) * (totalNorm / totalNorm);
        if (fault === 'always-halves') coefficient = 0.5;
        for (const { parameter } of entries) {
          if (!parameter.grad) continue;
          const grad = parameter.grad.data;
          for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! * coefficient;
          if (fault === 'decays-parameters') for (let i = 0; i < parameter.size; i++) parameter.data[i] = parameter.data[i]! * 0.999;
        }
        return { totalNorm, clipped: coefficient < 1 };
      },
    }),
  });
}

/** The planted fault 'no-apply': the method misnamed (`run`), which the registry refuses. */
function withFault(fault: ClipFault, transform: GradientTransform): GradientTransform {
  return fault === 'no-apply' ? ({ name: transform.name, run: transform.apply.bind(transform) } as unknown as GradientTransform) : transform;
}

export const referenceClip = clipPlugin('fixture-clip', 'none');
export const decaysParametersClip = clipPlugin('fixture-clip-decays', 'decays-parameters');
export const nanOnZeroClip = clipPlugin('fixture-clip-nan', 'nan-on-zero');
export const crashesOnMissingClip = clipPlugin('fixture-clip-crash', 'crashes-on-missing');
export const alwaysHalvesClip = clipPlugin('fixture-clip-halves', 'always-halves');
export const noApplyClip = clipPlugin('fixture-clip-no-apply', 'no-apply');
