import { show } from './analysis';
import { DEEP, deepMethodOpening, definePlacementPreset, stabilityClaims, stabilityMeasures, type PlacementSubject } from './deep-transformer';

const SUBJECT: PlacementSubject = { id: 'peri', label: 'Peri-LN', placement: 'peri' };

/** Kim et al.'s claim, shared by every version of the Peri-LN preset. */
export const PERI_LN_CLAIM = {
  quote:
    'Our in-depth analysis shows that Peri-LN strikes an ideal balance in variance growth -- unlike Pre-LN and Post-LN, which are prone to vanishing gradients and "massive activations." ' +
    'To validate our theoretical insight, we conduct large-scale experiments on Transformers up to 3.2B parameters, showing that Peri-LN consistently achieves more balanced variance growth, steadier gradient flow, and convergence stability.',
  section: 'Abstract',
  source: 'Kim et al., "Peri-LN: Revisiting Layer Normalization in the Transformer Architecture", arXiv:2502.02732 (2025)',
};

/** The claim criteria of every version: as stable as Pre-LN, more than Post-LN, at most half Pre-LN's stream growth. */
export const PERI_LN_CLAIMS = [
  ...stabilityClaims('Peri-LN'),
  {
    id: 'balanced-variance', kind: 'claim', statement: "Peri-LN's residual stream grows at most half as much through the stack as Pre-LN's",
    metric: 'stream growth (std after last / first block), Peri-LN / Pre-LN', comparison: '<=', threshold: 0.5, unit: 'x',
  },
] as const;

/** The part of the method after the opening, for every version. */
export function periLnMethodRest(setup: { evals: number; evalSamples: number }): string {
  return (
    '(x + norm(f(norm(x))) around attention and the MLP; a final LayerNorm after Pre-LN and Peri-LN). Stability is the mean test accuracy over ' +
    `${setup.evals} evaluations (${setup.evalSamples} samples each) spread over training; a diverged run counts as chance. Variance growth is the standard deviation of ` +
    `the residual stream after the last block over the one after the first, in the last evaluation's training step; "more balanced" is at least 2x less ` +
    'growth than Pre-LN. Pre-LN training is the positive control; Post-LN failing without warmup shows the regime is reached. The embedding norm and ' +
    'the gradient-flow part of the claim are not tested. Five seeds; each criterion must hold on 4 of them.'
  );
}

/**
 * Peri-LN (x + norm(f(norm(x))), Kim et al., 2025) against Pre-LN and Post-LN in a 24-block
 * Transformer without warmup: as stable as Pre-LN, more stable than Post-LN, and with a residual
 * stream that grows less through the stack than Pre-LN's.
 */
export const periLnDeep = definePlacementPreset({
  name: 'peri-ln-deep',
  title: 'Peri-LN (sandwich) trains a deep Transformer stably with balanced variance growth',
  claim: PERI_LN_CLAIM,
  method: deepMethodOpening(DEEP, 'Peri-LN ') + periLnMethodRest(DEEP),
  subject: SUBJECT,
  setup: DEEP,
  controls: 'both',
  claims: PERI_LN_CLAIMS,
  measure: (n) => ({
    ...stabilityMeasures(n, 'peri'),
    'balanced-variance': [n.growth('peri') / n.growth('pre'), `${show(n.growth('peri'))} / ${show(n.growth('pre'))}`],
  }),
});
