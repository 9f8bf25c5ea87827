import { defaultClientConditions, defineConfig } from 'vite';

/**
 * Cross-origin isolation (COOP + COEP): browsers give SharedArrayBuffer, and so @normkit/tensor's
 * intra-op threads, only to isolated pages. `npm start` (vite preview) and the dev server send
 * them; a static host without them gets one thread per run, and the page says so. Everything the
 * app loads is its own (same origin), so require-corp blocks nothing.
 */
export const isolationHeaders = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/**
 * The playground is a static site: `vite build` writes dist/, `vite preview` serves it.
 *
 * A production build (`npm start`, `npm run build`) resolves the sibling packages through their
 * built `dist` (turbo builds them first: `^build`). The dev server and `--mode source` (used by the
 * browser test) resolve them through the `source` export condition instead, so they run the
 * current TypeScript of every package without building anything.
 */
export default defineConfig(({ command, mode }) => {
  const fromSource = mode === 'source' || (command === 'serve' && mode === 'development');
  // Error classes name themselves after their constructor (`new.target.name` in @normkit/tensor),
  // and the page shows `error.name`: keep class names through minification, or a ValueError would
  // read "E".
  const output = { keepNames: true };
  return {
    base: './',
    resolve: { conditions: fromSource ? ['source', ...defaultClientConditions] : [...defaultClientConditions] },
    // Module workers with code splitting: the MNIST digits (21 MB) are a chunk the worker imports
    // only when MNIST is chosen.
    worker: { format: 'es', rolldownOptions: { output } },
    build: {
      target: 'es2022',
      // The worker's bundle takes most of the build's time (it carries the MNIST chunk): known, not news.
      rolldownOptions: { output, checks: { bundlerTimings: false } },
      // The MNIST chunk is large on purpose (see @normkit/experiments/mnist); everything else is small.
      chunkSizeWarningLimit: 30_000,
    },
    server: { headers: isolationHeaders },
    preview: { host: 'localhost', headers: isolationHeaders },
    // onnxruntime-web (the Export ONNX check) loads its .wasm itself, through ort.env.wasm.wasmPaths; keep it out of pre-bundling.
    optimizeDeps: { exclude: ['onnxruntime-web'] },
  };
});
