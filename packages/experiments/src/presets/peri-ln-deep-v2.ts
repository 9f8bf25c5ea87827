import { show } from './analysis';
import { DEEP_V2, deepMethodOpening, definePlacementPreset, stabilityMeasures } from './deep-transformer';
import { PERI_LN_CLAIM, PERI_LN_CLAIMS, periLnMethodRest } from './peri-ln-deep';

/**
 * The second declared version of peri-ln-deep: the width 64 at 24 blocks and lr 0.003
 * (DEEP_V2), same claim, criteria, thresholds and seed rule. The first version is kept unchanged.
 */
export const periLnDeepV2 = definePlacementPreset({
  name: 'peri-ln-deep-v2',
  title: 'Peri-LN (sandwich) trains a deep Transformer stably with balanced variance growth (v2: width 64, lr 0.003)',
  claim: PERI_LN_CLAIM,
  method: `The second declared version of peri-ln-deep. ${deepMethodOpening(DEEP_V2, 'Peri-LN ')}${periLnMethodRest(DEEP_V2)}`,
  subject: { id: 'peri', label: 'Peri-LN', placement: 'peri' },
  setup: DEEP_V2,
  controls: 'both',
  claims: PERI_LN_CLAIMS,
  measure: (n) => ({
    ...stabilityMeasures(n, 'peri'),
    'balanced-variance': [n.growth('peri') / n.growth('pre'), `${show(n.growth('peri'))} / ${show(n.growth('pre'))}`],
  }),
  notes: [
    'History: the first version (peri-ln-deep: width 16, lr 0.005, 160 steps) was partially reproduced over 5 seeds with a fragile Pre-LN control ' +
      '(a core rebuild flipped it on 4 of 5 seeds). It is kept unchanged; this version was declared after it and before its own first run.',
  ],
});
