import { defineDataset } from './dataset';
import { planarDataset, planarOptions } from './planar';

/**
 * XOR of the signs: points uniform in [-1, 1]^2 away from the axes by `margin`; class 0 where
 * x and y have the same sign (first and third quadrants), class 1 where they differ.
 */
export const xor = defineDataset({
  name: 'xor',
  task: 'classification',
  inputKind: 'vector',
  description: 'Class = whether x and y have different signs',
  options: {
    ...planarOptions,
    margin: { type: 'number', default: 0.05, min: 0, max: 0.9, description: 'Gap left empty on each side of the axes' },
  },
  build: (options, generator) =>
    planarDataset('xor', 2, options, generator, (label, g) => {
      const magnitude = (): number => options.margin + (1 - options.margin) * g.uniform();
      const sx = g.uniform() < 0.5 ? -1 : 1;
      const sy = label === 0 ? sx : -sx;
      return [sx * magnitude(), sy * magnitude()];
    }),
});
