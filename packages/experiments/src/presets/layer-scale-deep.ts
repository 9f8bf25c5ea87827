import { show } from './analysis';
import { DEEP, DEEP_CONTROLS, deepPlacementAnalysis, deepPlacementPlan, type PlacementSubject } from './deep-transformer';
import { definePreset } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

/** CaiT's initial LayerScale for 24 layers ("epsilon = 10^-5 for depth 24"). */
const INIT = 1e-5;
/** Two standard errors of a difference of mean test accuracies over 8 x 250 test predictions per run (about 1.1 points each). */
const MARGIN = 0.02;
const SUBJECT: PlacementSubject = { id: 'pre-ls', label: `Pre-LN + LayerScale (${INIT})`, placement: 'pre', layerScale: INIT };

/**
 * LayerScale (a learned per-channel scale on each residual branch, initialised small; Touvron et
 * al., 2021) on a 24-block Pre-LN Transformer, against Pre-LN alone (and Post-LN for reference).
 */
export const layerScaleDeep = definePreset({
  name: 'layer-scale-deep',
  title: 'LayerScale improves a deep Pre-LN Transformer',
  claim: {
    quote:
      'We make two transformers architecture changes that significantly improve the accuracy of deep transformers. This leads us to produce models whose ' +
      'performance does not saturate early with more depth',
    section: 'Abstract (the first of the two changes is LayerScale; the second, class-attention layers, does not apply to a sequence classifier without a class token)',
    source: 'Touvron et al., "Going deeper with Image Transformers" (CaiT), arXiv:2103.17239 (2021)',
  },
  method:
    `A Pre-LN Transformer encoder of ${DEEP.depth} blocks (width ${DEEP.dim}, 2 heads, LayerNorm, final LayerNorm) classifies padded token sequences ` +
    `(length 2-8, class signal ${DEEP.signal}), trained with Adam at lr ${DEEP.lr} from the first step for ${DEEP.steps} steps at batch 16, without and with ` +
    `LayerScale on both branches of every block (initialised to ${INIT}, CaiT's value at depth 24); Post-LN at the same depth is shown for reference. ` +
    `Accuracy is the mean test accuracy over ${DEEP.evals} evaluations (${DEEP.evalSamples} samples each) spread over training, so faster convergence counts; ` +
    `"significantly" is ${MARGIN * 100} points (two standard errors of that difference). Pre-LN training is the positive control. Five seeds; each criterion ` +
    'must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    DEEP_CONTROLS[0]!,
    {
      id: 'ls-improves', kind: 'claim', statement: `LayerScale adds at least ${MARGIN * 100} points of mean test accuracy over training to Pre-LN`,
      metric: 'mean test accuracy, Pre-LN + LayerScale - Pre-LN', comparison: '>=', threshold: MARGIN,
    },
  ],
  plan: (mode, seed = 0) => deepPlacementPlan(SUBJECT, mode, seed),
  analyze: (context) => {
    const { numbers: n, shown } = deepPlacementAnalysis(context);
    return {
      measured: { 'pre-trains': n.final('pre'), 'ls-improves': n.stability('pre-ls') - n.stability('pre') },
      details: { 'ls-improves': `${show(n.stability('pre-ls'))} - ${show(n.stability('pre'))}` },
      ...shown,
    };
  },
});
