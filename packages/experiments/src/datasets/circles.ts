import { defineDataset } from './dataset';
import { planarDataset, planarOptions } from './planar';

/**
 * A disk inside a ring (TensorFlow Playground's "circle"): class 0 uniform over the disk of radius
 * 0.5, class 1 uniform over the ring 0.7 <= r <= 1 (uniform in area: r = sqrt(u) scaled).
 * Linearly inseparable in (x, y), separable in x^2 + y^2.
 */
export const circles = defineDataset({
  name: 'circles',
  task: 'classification',
  inputKind: 'vector',
  description: 'A disk (class 0) inside a ring (class 1)',
  options: planarOptions,
  build: (options, generator) =>
    planarDataset('circles', 2, options, generator, (label, g) => {
      const [inner, outer] = label === 0 ? [0, 0.5] : [0.7, 1];
      const radius = Math.sqrt(inner * inner + g.uniform() * (outer * outer - inner * inner));
      const angle = 2 * Math.PI * g.uniform();
      return [radius * Math.cos(angle), radius * Math.sin(angle)];
    }),
});
