import { DEEP, deepMethodOpening, definePlacementPreset, stabilityClaims, stabilityMeasures, type DeepSetup, type PlacementSubject } from './deep-transformer';

const SUBJECT: PlacementSubject = { id: 'deepnorm', label: 'DeepNorm', placement: 'deepnorm' };

/** Wang et al.'s claim, shared by every version of the DeepNorm preset. */
export const DEEP_NORM_CLAIM = {
  quote:
    'Specifically, we introduce a new normalization function (DeepNorm) to modify the residual connection in Transformer, accompanying with theoretically derived initialization. ' +
    'In-depth theoretical analysis shows that model updates can be bounded in a stable way. The proposed method combines the best of two worlds, i.e., good performance of Post-LN and stable training of Pre-LN, making DeepNorm a preferred alternative.',
  section: 'Abstract',
  source: 'Wang et al., "DeepNet: Scaling Transformers to 1,000 Layers", arXiv:2203.00555 (2022)',
};

/** The part of the method after the opening, for every version. */
export function deepNormMethodRest(setup: DeepSetup): string {
  return (
    `DeepNorm (LN(alpha x + f(x)), alpha = (2N)^(1/4) and the MLP, value and output projections initialised with gain beta = (8N)^(-1/4), N = ${setup.depth}: ` +
    'the paper\'s encoder-only constants). Stability is the mean test accuracy over ' +
    `${setup.evals} evaluations (${setup.evalSamples} samples each) spread over training; a diverged run counts as chance. Pre-LN training is the positive ` +
    'control; Post-LN failing without warmup shows the regime is reached (DeepNorm is Post-LN with the scaled skip and initialisation, so the ' +
    'comparison isolates them). The "good performance of Post-LN" half is not tested (Post-LN does not train here). Five seeds; each criterion must hold on 4 of them.'
  );
}

/**
 * DeepNorm (LN(alpha x + f(x)) with beta-scaled initialisation, Wang et al., 2022) against Pre-LN
 * and Post-LN in a 24-block Transformer without warmup: Post-LN's form with Pre-LN's stability.
 */
export const deepNormDeep = definePlacementPreset({
  name: 'deep-norm-deep',
  title: "DeepNorm trains a deep Post-LN-style Transformer with Pre-LN's stability",
  claim: DEEP_NORM_CLAIM,
  method: deepMethodOpening(DEEP, '') + deepNormMethodRest(DEEP),
  subject: SUBJECT,
  setup: DEEP,
  controls: 'both',
  claims: stabilityClaims('DeepNorm'),
  measure: (n) => stabilityMeasures(n, 'deepnorm'),
});
