import { defineDataset } from './dataset';
import { planarDataset, planarOptions } from './planar';

/**
 * Two interleaved spirals (Lang and Witbrock, 1988, the classic hard case for small MLPs, and a
 * TensorFlow Playground data set): class k at parameter t in [0, 1] sits at radius
 * r = 0.1 + 0.9 t and angle 2 pi turns t + k pi, so the arms are pi apart everywhere.
 *
 * @example
 * const data = twoSpirals.build({ trainSize: 1000, testSize: 500, noise: 0.05, turns: 1.5 }, new Generator(0), {});
 */
export const twoSpirals = defineDataset({
  name: 'two-spirals',
  task: 'classification',
  inputKind: 'vector',
  description: 'Two interleaved 2-D spirals, one per class',
  options: {
    ...planarOptions,
    noise: { ...planarOptions.noise, default: 0.02 },
    turns: { type: 'number', default: 1.5, min: 0.25, max: 4, description: 'Turns of each spiral arm (more is harder)' },
  },
  build: (options, generator) =>
    planarDataset('two-spirals', 2, options, generator, (label, g) => {
      const t = g.uniform();
      const radius = 0.1 + 0.9 * t;
      const angle = 2 * Math.PI * options.turns * t + label * Math.PI;
      return [radius * Math.cos(angle), radius * Math.sin(angle)];
    }),
});
