import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared.ts';

// Two entries: the engine, and the MNIST loader kept apart so the engine's bundle never holds the digits.
export default defineConfig(packageBuild({ index: 'src/index.ts', mnist: 'src/mnist.ts' }));
