import { defineConfig } from 'tsup';

// The CLI and the pool's worker (loaded by file name, so its own entry); normkit packages stay external and
// load from their built dist (the root script builds them first).
export default defineConfig({
  entry: { main: 'src/main.ts', 'lab-worker': 'src/lab-worker.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  clean: true,
});
