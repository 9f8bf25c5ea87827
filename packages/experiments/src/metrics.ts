import type { MixtureModes } from './datasets/dataset';

/** Fraction of rows of `logits` [N, C] whose argmax is the label. */
export function accuracyOf(logits: ArrayLike<number>, labels: ArrayLike<number>, numClasses: number): number {
  const n = labels.length;
  if (n === 0) return Number.NaN;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (logits[i * numClasses + c]! > logits[i * numClasses + best]!) best = c;
    if (best === labels[i]) correct++;
  }
  return correct / n;
}

/** How well generated points match a class-conditional mixture. */
export interface MixtureScore {
  /** Fraction of points within 3 std of a mode of their own class. */
  quality: number;
  /** Fraction of modes that received at least a fifth of their fair share of their class's points. */
  modeCoverage: number;
}

/**
 * Scores points [N, 2] generated for `labels` against the mixture: each point is matched to the
 * nearest mode of its class and counts as on-mode within 3 std (98.9% of a true 2-D Gaussian mode's
 * samples are). A mode whose class put fewer than 1/5 of the points a uniform split would give it
 * there is missed, which is how mode collapse shows.
 */
export function scoreMixture(points: ArrayLike<number>, labels: ArrayLike<number>, modes: MixtureModes): MixtureScore {
  const numModes = modes.classOf.length;
  const perMode = new Array<number>(numModes).fill(0);
  const perClass = new Map<number, number>();
  const modesOfClass = new Map<number, number>();
  for (let j = 0; j < numModes; j++) modesOfClass.set(modes.classOf[j]!, (modesOfClass.get(modes.classOf[j]!) ?? 0) + 1);
  const radius2 = (3 * modes.std) ** 2;
  let onMode = 0;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    perClass.set(label, (perClass.get(label) ?? 0) + 1);
    let best = -1;
    let bestDistance = Infinity;
    for (let j = 0; j < numModes; j++) {
      if (modes.classOf[j] !== label) continue;
      const dx = points[2 * i]! - modes.centers[2 * j]!;
      const dy = points[2 * i + 1]! - modes.centers[2 * j + 1]!;
      const d = dx * dx + dy * dy;
      if (d < bestDistance) {
        bestDistance = d;
        best = j;
      }
    }
    if (best >= 0 && bestDistance <= radius2) {
      onMode++;
      perMode[best]!++;
    }
  }
  let covered = 0;
  for (let j = 0; j < numModes; j++) {
    const c = modes.classOf[j]!;
    const fairShare = (perClass.get(c) ?? 0) / modesOfClass.get(c)!;
    if (fairShare > 0 && perMode[j]! >= fairShare / 5) covered++;
  }
  return { quality: labels.length ? onMode / labels.length : Number.NaN, modeCoverage: covered / numModes };
}

/**
 * Squared maximum mean discrepancy (Gretton et al., 2012) between two 2-D point sets with a
 * Gaussian kernel exp(-|a - b|^2 / (2 h^2)), computed per class and averaged weighted by the
 * number of generated points: 0 when the distributions match, growing as they part.
 */
export function classConditionalMmd(
  generated: ArrayLike<number>,
  generatedLabels: ArrayLike<number>,
  real: ArrayLike<number>,
  realLabels: ArrayLike<number>,
  bandwidth: number,
): number {
  const gamma = 1 / (2 * bandwidth * bandwidth);
  const rowsOf = (labels: ArrayLike<number>): Map<number, number[]> => {
    const rows = new Map<number, number[]>();
    for (let i = 0; i < labels.length; i++) {
      const list = rows.get(labels[i]!) ?? [];
      list.push(i);
      rows.set(labels[i]!, list);
    }
    return rows;
  };
  const meanKernel = (a: ArrayLike<number>, rowsA: number[], b: ArrayLike<number>, rowsB: number[]): number => {
    let total = 0;
    for (const i of rowsA) {
      for (const j of rowsB) {
        const dx = a[2 * i]! - b[2 * j]!;
        const dy = a[2 * i + 1]! - b[2 * j + 1]!;
        total += Math.exp(-gamma * (dx * dx + dy * dy));
      }
    }
    return total / (rowsA.length * rowsB.length);
  };
  const generatedRows = rowsOf(generatedLabels);
  const realRows = rowsOf(realLabels);
  let weighted = 0;
  let weight = 0;
  for (const [label, g] of generatedRows) {
    const r = realRows.get(label);
    if (!r) continue;
    const mmd = meanKernel(generated, g, generated, g) + meanKernel(real, r, real, r) - 2 * meanKernel(generated, g, real, r);
    weighted += g.length * mmd;
    weight += g.length;
  }
  return weight ? weighted / weight : Number.NaN;
}
