import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The engine runs unchanged inside a browser Web Worker: bundling it for the browser must not
// need any Node built-in (esbuild refuses `fs`, `worker_threads`, ... on platform 'browser'),
// and the MNIST digits must stay out of the engine's bundle, in a chunk loaded on demand.
describe('browser bundle', () => {
  it('bundles for the browser with no Node built-ins, MNIST split into its own lazy chunk', async () => {
    const result = await build({
      entryPoints: { index: 'src/index.ts', mnist: 'src/mnist.ts' },
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      conditions: ['source'],
      outdir: 'bundle-check',
      write: false,
      logLevel: 'silent',
      loader: { '.json': 'json' },
    });
    expect(result.errors).toEqual([]);
    const files = new Map(result.outputFiles.map((f) => [f.path.split('/').pop()!, f.text]));
    const engine = files.get('index.js')!;
    const loader = files.get('mnist.js')!;
    // The engine itself: small, and no trace of the digit images.
    expect(engine.length).toBeLessThan(1_000_000);
    expect(engine).not.toMatch(/digits\/0\.json/);
    // The loader reaches the digits only through a dynamic import of a separate chunk.
    expect(loader).toMatch(/import\("\.\/[^"]+\.js"\)/);
    const chunks = [...files.entries()].filter(([name]) => name !== 'index.js' && name !== 'mnist.js');
    expect(chunks.some(([, text]) => text.length > 10_000_000)).toBe(true);
  }, 120_000);
});
