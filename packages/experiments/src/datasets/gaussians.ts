import { defineDataset } from './dataset';
import { planarDataset, planarOptions } from './planar';

/**
 * Isotropic Gaussian blobs, one per class, centred on a circle of radius 1 at angles
 * pi / 4 + 2 pi k / numClasses (two classes: opposite corners, TensorFlow Playground's "gaussian").
 * Their spread is `noise` (default 0.3).
 */
export const gaussians = defineDataset({
  name: 'gaussians',
  task: 'classification',
  inputKind: 'vector',
  description: 'One Gaussian blob per class, centres on the unit circle',
  options: {
    ...planarOptions,
    noise: { ...planarOptions.noise, default: 0.3, max: 2, description: 'Standard deviation of each blob' },
    numClasses: { type: 'number', default: 2, integer: true, min: 2, max: 10, description: 'Number of blobs (classes)' },
  },
  build: (options, generator) =>
    planarDataset('gaussians', options.numClasses, options, generator, (label) => {
      const angle = Math.PI / 4 + (2 * Math.PI * label) / options.numClasses;
      return [Math.cos(angle), Math.sin(angle)];
    }),
});
