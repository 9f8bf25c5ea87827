import { show } from './analysis';
import { DEEP, DEEP_CONTROLS, deepPlacementAnalysis, deepPlacementPlan, type PlacementSubject } from './deep-transformer';
import { definePreset } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

const SUBJECT: PlacementSubject = { id: 'output', label: 'output-only norm', placement: 'output' };

/**
 * The output-only placement (x + norm(f(x)): OLMo 2's reordered norm, Swin V2's res-post-norm)
 * against Pre-LN and Post-LN in a 24-block Transformer without warmup.
 */
export const outputNormDeep = definePreset({
  name: 'output-norm-deep',
  title: 'Output-only normalization (OLMo 2 reordered norm) trains a deep Transformer stably',
  claim: {
    quote: 'Our modified model architecture and training recipe achieve both better training stability and improved per-token efficiency.',
    section: 'Abstract (the architecture change tested here is the reordered norm: the block normalises the outputs of attention and the MLP instead of their inputs)',
    source: 'Team OLMo et al., "2 OLMo 2 Furious", arXiv:2501.00656 (2024)',
  },
  method:
    `A Transformer encoder of ${DEEP.depth} blocks (width ${DEEP.dim}, 2 heads, LayerNorm) classifies padded token sequences (length 2-8, class signal ${DEEP.signal}), ` +
    `trained with Adam at lr ${DEEP.lr} from the first step (no warmup) for ${DEEP.steps} steps at batch 16, with the norms placed Pre-LN, Post-LN or ` +
    'output-only (x + norm(f(x)); a final LayerNorm after Pre-LN and output-only). OLMo 2 changed several things at once (RMSNorm, QK-norm, z-loss, ' +
    'initialisation); only the placement is tested, against both usual ones. Stability is the mean test accuracy over ' +
    `${DEEP.evals} evaluations (${DEEP.evalSamples} samples each) spread over training; a diverged run counts as chance. Pre-LN training is the positive ` +
    'control; Post-LN failing without warmup shows the regime is reached. The per-token efficiency part of the claim is not tested. Five seeds; each ' +
    'criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    ...DEEP_CONTROLS,
    {
      id: 'stable', kind: 'claim', statement: 'output-only is as stable as Pre-LN (within 5 points of mean test accuracy over training)',
      metric: 'mean test accuracy, output-only - Pre-LN', comparison: '>=', threshold: -0.05,
    },
    {
      id: 'beats-post', kind: 'claim', statement: 'output-only is at least 10 points more stable than Post-LN',
      metric: 'mean test accuracy, output-only - Post-LN', comparison: '>=', threshold: 0.1,
    },
  ],
  plan: (mode, seed = 0) => deepPlacementPlan(SUBJECT, mode, seed),
  analyze: (context) => {
    const { numbers: n, shown } = deepPlacementAnalysis(context);
    return {
      measured: {
        'pre-trains': n.final('pre'),
        'post-unstable': n.stability('pre') - n.stability('post'),
        stable: n.stability('output') - n.stability('pre'),
        'beats-post': n.stability('output') - n.stability('post'),
      },
      details: {
        'post-unstable': `${show(n.stability('pre'))} - ${show(n.stability('post'))}`,
        stable: `${show(n.stability('output'))} - ${show(n.stability('pre'))}`,
        'beats-post': `${show(n.stability('output'))} - ${show(n.stability('post'))}`,
      },
      ...shown,
    };
  },
});
