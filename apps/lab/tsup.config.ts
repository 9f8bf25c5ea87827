import { defineConfig } from 'tsup';

// One Node entry; normkit packages stay external and load from their built dist (the root script builds them first).
export default defineConfig({
  entry: { main: 'src/main.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
});
