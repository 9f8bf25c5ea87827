import { defineConfig } from 'tsup';

// One Node entry. Dependencies stay external (normkit loads from its built dist, tfjs from its Node
// bundles) except tfjs-core's gradient definitions, which exist only as ES modules meant for bundlers.
export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
  noExternal: [/^@tensorflow\/tfjs-core\/dist\/register_all_gradients/],
});
