import { presets } from '@normkit/experiments';
import { describe, expect, it } from 'vitest';
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
