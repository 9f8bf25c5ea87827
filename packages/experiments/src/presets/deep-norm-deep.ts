import { show } from './analysis';
import { DEEP, DEEP_CONTROLS, deepPlacementAnalysis, deepPlacementPlan, type PlacementSubject } from './deep-transformer';
import { definePreset } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

const SUBJECT: PlacementSubject = { id: 'deepnorm', label: 'DeepNorm', placement: 'deepnorm' };

/**
 * DeepNorm (LN(alpha x + f(x)) with beta-scaled initialisation, Wang et al., 2022) against Pre-LN
 * and Post-LN in a 24-block Transformer without warmup: Post-LN's form with Pre-LN's stability.
 */
export const deepNormDeep = definePreset({
  name: 'deep-norm-deep',
  title: "DeepNorm trains a deep Post-LN-style Transformer with Pre-LN's stability",
  claim: {
    quote:
      'Specifically, we introduce a new normalization function (DeepNorm) to modify the residual connection in Transformer, accompanying with theoretically derived initialization. ' +
      'In-depth theoretical analysis shows that model updates can be bounded in a stable way. The proposed method combines the best of two worlds, i.e., good performance of Post-LN and stable training of Pre-LN, making DeepNorm a preferred alternative.',
    section: 'Abstract',
    source: 'Wang et al., "DeepNet: Scaling Transformers to 1,000 Layers", arXiv:2203.00555 (2022)',
  },
  method:
    `A Transformer encoder of ${DEEP.depth} blocks (width ${DEEP.dim}, 2 heads, LayerNorm) classifies padded token sequences (length 2-8, class signal ${DEEP.signal}), ` +
    `trained with Adam at lr ${DEEP.lr} from the first step (no warmup) for ${DEEP.steps} steps at batch 16, with the norms placed Pre-LN, Post-LN or ` +
    `DeepNorm (LN(alpha x + f(x)), alpha = (2N)^(1/4) and the MLP, value and output projections initialised with gain beta = (8N)^(-1/4), N = ${DEEP.depth}: ` +
    'the paper\'s encoder-only constants). Stability is the mean test accuracy over ' +
    `${DEEP.evals} evaluations (${DEEP.evalSamples} samples each) spread over training; a diverged run counts as chance. Pre-LN training is the positive ` +
    'control; Post-LN failing without warmup shows the regime is reached (DeepNorm is Post-LN with the scaled skip and initialisation, so the ' +
    'comparison isolates them). The "good performance of Post-LN" half is not tested (Post-LN does not train here). Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    ...DEEP_CONTROLS,
    {
      id: 'stable', kind: 'claim', statement: 'DeepNorm is as stable as Pre-LN (within 5 points of mean test accuracy over training)',
      metric: 'mean test accuracy, DeepNorm - Pre-LN', comparison: '>=', threshold: -0.05,
    },
    {
      id: 'beats-post', kind: 'claim', statement: 'DeepNorm is at least 10 points more stable than Post-LN',
      metric: 'mean test accuracy, DeepNorm - Post-LN', comparison: '>=', threshold: 0.1,
    },
  ],
  plan: (mode, seed = 0) => deepPlacementPlan(SUBJECT, mode, seed),
  analyze: (context) => {
    const { numbers: n, shown } = deepPlacementAnalysis(context);
    return {
      measured: {
        'pre-trains': n.final('pre'),
        'post-unstable': n.stability('pre') - n.stability('post'),
        stable: n.stability('deepnorm') - n.stability('pre'),
        'beats-post': n.stability('deepnorm') - n.stability('post'),
      },
      details: {
        'post-unstable': `${show(n.stability('pre'))} - ${show(n.stability('post'))}`,
        stable: `${show(n.stability('deepnorm'))} - ${show(n.stability('pre'))}`,
        'beats-post': `${show(n.stability('deepnorm'))} - ${show(n.stability('post'))}`,
      },
      ...shown,
    };
  },
});
