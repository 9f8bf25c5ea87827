import { defineConfig } from 'tsup';

// A published plugin's whole build: ESM and type declarations from src/index.ts.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'es2022',
  sourcemap: true,
  clean: true,
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  external: ['@normkit/tensor'],
});
