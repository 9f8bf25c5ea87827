import { DEEP, deepMethodOpening, definePlacementPreset, stabilityClaims, stabilityMeasures, type PlacementSubject } from './deep-transformer';

const SUBJECT: PlacementSubject = { id: 'output', label: 'output-only norm', placement: 'output' };

/** OLMo 2's claim, shared by every version of the output-only preset. */
export const OUTPUT_NORM_CLAIM = {
  quote: 'Our modified model architecture and training recipe achieve both better training stability and improved per-token efficiency.',
  section: 'Abstract (the architecture change tested here is the reordered norm: the block normalises the outputs of attention and the MLP instead of their inputs)',
  source: 'Team OLMo et al., "2 OLMo 2 Furious", arXiv:2501.00656 (2024)',
};

/** The part of the method after the opening, for every version. */
export function outputNormMethodRest(setup: { evals: number; evalSamples: number }): string {
  return (
    'output-only (x + norm(f(x)); a final LayerNorm after Pre-LN and output-only). OLMo 2 changed several things at once (RMSNorm, QK-norm, z-loss, ' +
    'initialisation); only the placement is tested, against both usual ones. Stability is the mean test accuracy over ' +
    `${setup.evals} evaluations (${setup.evalSamples} samples each) spread over training; a diverged run counts as chance. Pre-LN training is the positive ` +
    'control; Post-LN failing without warmup shows the regime is reached. The per-token efficiency part of the claim is not tested. Five seeds; each ' +
    'criterion must hold on 4 of them.'
  );
}

/**
 * The output-only placement (x + norm(f(x)): OLMo 2's reordered norm, Swin V2's res-post-norm)
 * against Pre-LN and Post-LN in a 24-block Transformer without warmup.
 */
export const outputNormDeep = definePlacementPreset({
  name: 'output-norm-deep',
  title: 'Output-only normalization (OLMo 2 reordered norm) trains a deep Transformer stably',
  claim: OUTPUT_NORM_CLAIM,
  method: deepMethodOpening(DEEP, '') + outputNormMethodRest(DEEP),
  subject: SUBJECT,
  setup: DEEP,
  controls: 'both',
  claims: stabilityClaims('output-only'),
  measure: (n) => stabilityMeasures(n, 'output'),
});
