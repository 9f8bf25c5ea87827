import { DEEP_V2, deepMethodOpening, definePlacementPreset, stabilityClaims, stabilityMeasures } from './deep-transformer';
import { DEEP_NORM_CLAIM, deepNormMethodRest } from './deep-norm-deep';

/**
 * The second declared version of deep-norm-deep: the width 64 at 24 blocks and lr 0.003
 * (DEEP_V2), same claim, criteria, thresholds and seed rule. The first version is kept unchanged.
 */
export const deepNormDeepV2 = definePlacementPreset({
  name: 'deep-norm-deep-v2',
  title: "DeepNorm trains a deep Post-LN-style Transformer with Pre-LN's stability (v2: width 64, lr 0.003)",
  claim: DEEP_NORM_CLAIM,
  method: `The second declared version of deep-norm-deep. ${deepMethodOpening(DEEP_V2, '')}${deepNormMethodRest(DEEP_V2)}`,
  subject: { id: 'deepnorm', label: 'DeepNorm', placement: 'deepnorm' },
  setup: DEEP_V2,
  controls: 'both',
  claims: stabilityClaims('DeepNorm'),
  measure: (n) => stabilityMeasures(n, 'deepnorm'),
  notes: [
    'History: the first version (deep-norm-deep: width 16, lr 0.005, 160 steps) was partially reproduced over 5 seeds with a fragile Pre-LN control. ' +
      'It is kept unchanged; this version was declared after it and before its own first run.',
  ],
});
