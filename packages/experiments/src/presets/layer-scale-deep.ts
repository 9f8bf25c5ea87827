import { show } from './analysis';
import { DEEP, definePlacementPreset, type DeepSetup, type PlacementSubject } from './deep-transformer';
import type { Criterion } from './preset';

/** CaiT's initial LayerScale for 24 layers ("epsilon = 10^-5 for depth 24"). */
export const LAYER_SCALE_INIT = 1e-5;
/** Two standard errors of a difference of mean test accuracies over 8 x 250 test predictions per run (about 1.1 points each). */
const MARGIN = 0.02;
export const LAYER_SCALE_SUBJECT: PlacementSubject = { id: 'pre-ls', label: `Pre-LN + LayerScale (${LAYER_SCALE_INIT})`, placement: 'pre', layerScale: LAYER_SCALE_INIT };

/** Touvron et al.'s claim, shared by every version of the LayerScale preset. */
export const LAYER_SCALE_CLAIM = {
  quote:
    'We make two transformers architecture changes that significantly improve the accuracy of deep transformers. This leads us to produce models whose ' +
    'performance does not saturate early with more depth',
  section: 'Abstract (the first of the two changes is LayerScale; the second, class-attention layers, does not apply to a sequence classifier without a class token)',
  source: 'Touvron et al., "Going deeper with Image Transformers" (CaiT), arXiv:2103.17239 (2021)',
};

/** The method of a version at `setup` whose "significantly" is `margin` (`marginWhy` says where it comes from). */
export function layerScaleMethod(setup: DeepSetup, margin: number, marginWhy: string): string {
  return (
    `A Pre-LN Transformer encoder of ${setup.depth} blocks (width ${setup.dim}, 2 heads, LayerNorm, final LayerNorm) classifies padded token sequences ` +
    `(length 2-8, class signal ${setup.signal}), trained with Adam at lr ${setup.lr} from the first step for ${setup.steps} steps at batch 16, without and with ` +
    `LayerScale on both branches of every block (initialised to ${LAYER_SCALE_INIT}, CaiT's value at depth 24); Post-LN at the same depth is shown for reference. ` +
    `Accuracy is the mean test accuracy over ${setup.evals} evaluations (${setup.evalSamples} samples each) spread over training, so faster convergence counts; ` +
    `"significantly" is ${margin * 100} points (${marginWhy}). Pre-LN training is the positive control. Five seeds; each criterion ` +
    'must hold on 4 of them.'
  );
}

/** The claim criterion of a version whose "significantly" is `margin`. */
export function layerScaleClaims(margin: number): Criterion[] {
  return [
    {
      id: 'ls-improves', kind: 'claim', statement: `LayerScale adds at least ${margin * 100} points of mean test accuracy over training to Pre-LN`,
      metric: 'mean test accuracy, Pre-LN + LayerScale - Pre-LN', comparison: '>=', threshold: margin,
    },
  ];
}

/**
 * LayerScale (a learned per-channel scale on each residual branch, initialised small; Touvron et
 * al., 2021) on a 24-block Pre-LN Transformer, against Pre-LN alone (and Post-LN for reference).
 */
export const layerScaleDeep = definePlacementPreset({
  name: 'layer-scale-deep',
  title: 'LayerScale improves a deep Pre-LN Transformer',
  claim: LAYER_SCALE_CLAIM,
  method: layerScaleMethod(DEEP, MARGIN, 'two standard errors of that difference'),
  subject: LAYER_SCALE_SUBJECT,
  setup: DEEP,
  controls: 'pre',
  claims: layerScaleClaims(MARGIN),
  measure: (n) => ({ 'ls-improves': [n.stability('pre-ls') - n.stability('pre'), `${show(n.stability('pre-ls'))} - ${show(n.stability('pre'))}`] }),
});
