import { DEEP_V2, deepMethodOpening, definePlacementPreset, stabilityClaims, stabilityMeasures } from './deep-transformer';
import { OUTPUT_NORM_CLAIM, outputNormMethodRest } from './output-norm-deep';

/**
 * The second declared version of output-norm-deep: the width 64 at 24 blocks and lr 0.003
 * (DEEP_V2), same claim, criteria, thresholds and seed rule. The first version is kept unchanged.
 */
export const outputNormDeepV2 = definePlacementPreset({
  name: 'output-norm-deep-v2',
  title: 'Output-only normalization (OLMo 2 reordered norm) trains a deep Transformer stably (v2: width 64, lr 0.003)',
  claim: OUTPUT_NORM_CLAIM,
  method: `The second declared version of output-norm-deep. ${deepMethodOpening(DEEP_V2, '')}${outputNormMethodRest(DEEP_V2)}`,
  subject: { id: 'output', label: 'output-only norm', placement: 'output' },
  setup: DEEP_V2,
  controls: 'both',
  claims: stabilityClaims('output-only'),
  measure: (n) => stabilityMeasures(n, 'output'),
  notes: [
    'History: the first version (output-norm-deep: width 16, lr 0.005, 160 steps) was partially reproduced over 5 seeds with a fragile Pre-LN control. ' +
      'It is kept unchanged; this version was declared after it and before its own first run.',
  ],
});
