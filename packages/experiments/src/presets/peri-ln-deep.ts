import { show } from './analysis';
import { DEEP, DEEP_CONTROLS, deepPlacementAnalysis, deepPlacementPlan, type PlacementSubject } from './deep-transformer';
import { definePreset } from './preset';
import { DEFAULT_SEEDS, MOST_SEEDS } from './seed-rule';

const SUBJECT: PlacementSubject = { id: 'peri', label: 'Peri-LN', placement: 'peri' };

/**
 * Peri-LN (x + norm(f(norm(x))), Kim et al., 2025) against Pre-LN and Post-LN in a 24-block
 * Transformer without warmup: as stable as Pre-LN, more stable than Post-LN, and with a residual
 * stream that grows less through the stack than Pre-LN's.
 */
export const periLnDeep = definePreset({
  name: 'peri-ln-deep',
  title: 'Peri-LN (sandwich) trains a deep Transformer stably with balanced variance growth',
  claim: {
    quote:
      'Our in-depth analysis shows that Peri-LN strikes an ideal balance in variance growth -- unlike Pre-LN and Post-LN, which are prone to vanishing gradients and "massive activations." ' +
      'To validate our theoretical insight, we conduct large-scale experiments on Transformers up to 3.2B parameters, showing that Peri-LN consistently achieves more balanced variance growth, steadier gradient flow, and convergence stability.',
    section: 'Abstract',
    source: 'Kim et al., "Peri-LN: Revisiting Layer Normalization in the Transformer Architecture", arXiv:2502.02732 (2025)',
  },
  method:
    `A Transformer encoder of ${DEEP.depth} blocks (width ${DEEP.dim}, 2 heads, LayerNorm) classifies padded token sequences (length 2-8, class signal ${DEEP.signal}), ` +
    `trained with Adam at lr ${DEEP.lr} from the first step (no warmup) for ${DEEP.steps} steps at batch 16, with the norms placed Pre-LN, Post-LN or Peri-LN ` +
    '(x + norm(f(norm(x))) around attention and the MLP; a final LayerNorm after Pre-LN and Peri-LN). Stability is the mean test accuracy over ' +
    `${DEEP.evals} evaluations (${DEEP.evalSamples} samples each) spread over training; a diverged run counts as chance. Variance growth is the standard deviation of ` +
    `the residual stream after the last block over the one after the first, in the last evaluation's training step; "more balanced" is at least 2x less ` +
    'growth than Pre-LN. Pre-LN training is the positive control; Post-LN failing without warmup shows the regime is reached. The embedding norm and ' +
    'the gradient-flow part of the claim are not tested. Five seeds; each criterion must hold on 4 of them.',
  seed: 0,
  seeds: DEFAULT_SEEDS,
  seedRule: MOST_SEEDS,
  requires: { plugins: ['layer-norm'] },
  criteria: [
    ...DEEP_CONTROLS,
    {
      id: 'stable', kind: 'claim', statement: 'Peri-LN is as stable as Pre-LN (within 5 points of mean test accuracy over training)',
      metric: 'mean test accuracy, Peri-LN - Pre-LN', comparison: '>=', threshold: -0.05,
    },
    {
      id: 'beats-post', kind: 'claim', statement: 'Peri-LN is at least 10 points more stable than Post-LN',
      metric: 'mean test accuracy, Peri-LN - Post-LN', comparison: '>=', threshold: 0.1,
    },
    {
      id: 'balanced-variance', kind: 'claim', statement: "Peri-LN's residual stream grows at most half as much through the stack as Pre-LN's",
      metric: 'stream growth (std after last / first block), Peri-LN / Pre-LN', comparison: '<=', threshold: 0.5, unit: 'x',
    },
  ],
  plan: (mode, seed = 0) => deepPlacementPlan(SUBJECT, mode, seed),
  analyze: (context) => {
    const { numbers: n, shown } = deepPlacementAnalysis(context);
    return {
      measured: {
        'pre-trains': n.final('pre'),
        'post-unstable': n.stability('pre') - n.stability('post'),
        stable: n.stability('peri') - n.stability('pre'),
        'beats-post': n.stability('peri') - n.stability('post'),
        'balanced-variance': n.growth('peri') / n.growth('pre'),
      },
      details: {
        'post-unstable': `${show(n.stability('pre'))} - ${show(n.stability('post'))}`,
        stable: `${show(n.stability('peri'))} - ${show(n.stability('pre'))}`,
        'beats-post': `${show(n.stability('peri'))} - ${show(n.stability('post'))}`,
        'balanced-variance': `${show(n.growth('peri'))} / ${show(n.growth('pre'))}`,
      },
      ...shown,
    };
  },
});
