import { LayerNorm } from '@normkit/layer';
import { describe, expect, it } from 'vitest';
import { FixtureError, TECHNIQUES, configValue, decodeTensor, loadFixture, readFixtureBytes, type FixtureCase } from './fixtures';
import { runNormalizerCase } from './normalizer-parity';

describe('fixtures', () => {
  it.each(TECHNIQUES)('%s.json is present, well-formed, and every tensor decodes', (technique) => {
    const fixture = loadFixture(technique);
    expect(fixture.technique).toBe(technique);
    expect(fixture.cases.length).toBeGreaterThan(0);
    expect(fixture.torch).toMatch(/^1\.13/);
  });

  it('a missing fixture is an error, never a skip', () => {
    expect(() => readFixtureBytes('no-such-technique.json')).toThrow(FixtureError);
    expect(() => loadFixture('no-such-technique' as never)).toThrow(/cannot be read .* Regenerate with `npm run generate -w @normkit\/torch-parity`/);
  });

  it('a truncated tensor is refused', () => {
    expect(() => decodeTensor({ shape: [2, 2], data: Buffer.alloc(24).toString('base64') }, 'sample')).toThrow(/holds 24 bytes for shape \[2, 2\] \(expected 32\)/);
    expect(decodeTensor({ shape: [], data: Buffer.alloc(8).toString('base64') }, 'scalar').shape).toEqual([]);
  });

  it('the comparison fails for a wrong implementation (it is not vacuous)', () => {
    const fixtureCase: FixtureCase = loadFixture('layer-norm').cases[0]!;
    const wrongEps = new LayerNorm({ normalizedShape: configValue(fixtureCase, 'normalizedShape'), eps: 1e-3, dtype: 'float64' });
    expect(() => runNormalizerCase(fixtureCase, 'float64', wrongEps)).toThrow(/train\.0 output: element \d+: got/);
  });
});
