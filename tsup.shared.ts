import type { Options } from 'tsup';

/** The one build recipe every package uses: ESM + .d.ts from src/index.ts. */
export function packageBuild(entry: Record<string, string> = { index: 'src/index.ts' }): Options {
  return {
    entry,
    format: ['esm'],
    target: 'es2022',
    platform: 'neutral',
    sourcemap: true,
    clean: true,
    treeshake: true,
    dts: { compilerOptions: { ignoreDeprecations: '6.0' } },
  };
}
