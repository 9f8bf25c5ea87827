import { defineConfig } from 'tsup';

// A published plugin's whole build: ESM and type declarations from src/index.ts.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'es2022',
  sourcemap: true,
  clean: true,
  // TypeScript 6 deprecates the `baseUrl` tsup's .d.ts build sets; this keeps that build working.
  dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  external: ['@normkit/tensor', '@normkit/onnx'],
});
