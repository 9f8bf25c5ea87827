import { describe, expect, it } from 'vitest';
import { accuracyOf, classConditionalMmd, scoreMixture } from './metrics';
import type { MixtureModes } from './datasets/dataset';

describe('metrics', () => {
  it('accuracyOf takes the argmax of each row', () => {
    // Rows pick 1, 0, 1 against labels 1, 0, 0.
    expect(accuracyOf([0, 1, 5, 2, 3, 3.5], [1, 0, 0], 2)).toBeCloseTo(2 / 3, 12);
  });

  // Two classes, two modes each: class 0 at (1, 0) and (-1, 0), class 1 at (0, 1) and (0, -1).
  const modes: MixtureModes = { centers: Float64Array.from([1, 0, 0, 1, -1, 0, 0, -1]), classOf: Int32Array.from([0, 1, 0, 1]), std: 0.05 };

  it('scoreMixture: perfect samples score 1; the wrong class counts as off-mode; collapse loses coverage', () => {
    const labels = [0, 0, 1, 1];
    expect(scoreMixture([1, 0, -1, 0, 0, 1, 0, -1], labels, modes)).toEqual({ quality: 1, modeCoverage: 1 });
    // Class 1's points on class 0's modes: half the points off-mode, class 1's modes uncovered.
    expect(scoreMixture([1, 0, -1, 0, 1, 0, -1, 0], labels, modes)).toEqual({ quality: 0.5, modeCoverage: 0.5 });
    // Mode collapse: every class-0 point on one mode.
    expect(scoreMixture([1, 0, 1, 0, 0, 1, 0, -1], labels, modes)).toEqual({ quality: 1, modeCoverage: 0.75 });
  });

  it('classConditionalMmd is 0 for identical sets and grows as they part', () => {
    const points = [1, 0, -1, 0, 0, 1, 0, -1];
    const labels = [0, 0, 1, 1];
    expect(classConditionalMmd(points, labels, points, labels, 0.1)).toBeCloseTo(0, 12);
    const near = classConditionalMmd(points.map((v) => v + 0.05), labels, points, labels, 0.1);
    const far = classConditionalMmd(points.map((v) => v + 0.5), labels, points, labels, 0.1);
    expect(near).toBeGreaterThan(0);
    expect(far).toBeGreaterThan(near);
  });
});
