import { defineConfig } from 'tsup';

// Two Node entries (the bench, and its normkit timer, which runs in a child process). Dependencies stay external (normkit loads from its built dist, tfjs from its Node
// bundles) except tfjs-core's gradient definitions, which exist only as ES modules meant for bundlers.
export default defineConfig({
  entry: { main: 'src/main.ts', 'normkit-timer': 'src/normkit-timer.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  noExternal: [/^@tensorflow\/tfjs-core\/dist\/register_all_gradients/],
});
