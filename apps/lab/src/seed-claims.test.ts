import { presets, type PresetResult } from '@normkit/experiments';
import { describe, expect, it } from 'vitest';
import { perSeedSummary } from './html-report';
import { SEED_CLAIMS } from './seed-claims';

describe('the seed-document claim table', () => {
  const names = new Set(presets.map((p) => p.name));

  it('names only presets that exist, and every claim without one says why', () => {
    for (const entry of SEED_CLAIMS) {
      for (const name of entry.presets) expect(names.has(name), `${entry.claim}: unknown preset ${name}`).toBe(true);
      if (entry.presets.length === 0) expect(entry.note?.length ?? 0, entry.claim).toBeGreaterThan(20);
    }
  });

  it('maps every preset to at least one claim of the document', () => {
    const mapped = new Set(SEED_CLAIMS.flatMap((e) => e.presets));
    expect(presets.map((p) => p.name).filter((n) => !mapped.has(n))).toEqual([]);
  });
});

describe("the seed-document table's per-seed column", () => {
  it('lists every criterion with its value at each seed, the range and on how many seeds it held', () => {
    const criteria = [
      { id: 'control', kind: 'control', comparison: '>=', threshold: 0.85, perSeed: [0.915, 0.918, 0.84], heldOn: 2, spread: { min: 0.84, max: 0.918 } },
      { id: 'drop', kind: 'claim', comparison: '<=', threshold: 0.02, perSeed: [-0.019, Number.NaN, 0.007], heldOn: 2, spread: { min: -0.019, max: 0.007 } },
    ];
    const lines = perSeedSummary({ criteria } as unknown as PresetResult).split('<br>');
    expect(lines).toEqual([
      'control control: 0.915, 0.918, 0.84 (0.84 – 0.918; 2 of 3 ≥ 0.85)',
      'drop: -0.019, n/a, 0.007 (-0.019 – 0.007; 2 of 3 ≤ 0.02)',
    ]);
    expect(perSeedSummary({ criteria: [{ ...criteria[0], perSeed: [0.9], heldOn: 1, spread: { min: 0.9, max: 0.9 } }] } as unknown as PresetResult)).toBe('control control: 0.9 (1 of 1 ≥ 0.85)');
  });
});
