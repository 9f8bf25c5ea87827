/**
 * A pool worker (Node worker_threads or a Web Worker): instantiates the threaded kernel module on
 * the shared memory it is given, says it is ready, then runs tasks of every job until its thread
 * exits. It blocks in Atomics.wait between jobs, which costs nothing and (the worker being
 * unref'd in Node) never keeps a process alive. Bundled by scripts/build-wasm.mjs into
 * worker-source.ts; not imported by the package itself.
 */
import { GEN, POOL_KERNELS, READY, runClaims } from './pool-protocol';

interface Start {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  thread: number;
}

function serve({ module, memory, control: buffer, thread }: Start): void {
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort: () => {
        throw new Error('normkit wasm backend: abort');
      },
    },
  });
  const exports = instance.exports as Record<string, (...args: number[]) => void>;
  const kernels = POOL_KERNELS.map((name) => exports[name]!);
  const control = new Int32Array(buffer);
  Atomics.add(control, READY, 1);
  for (;;) {
    const seen = Atomics.load(control, GEN);
    // runClaims decides whether this thread takes part (ACTIVE), from the job it claims in.
    runClaims(control, memory, kernels, thread);
    Atomics.wait(control, GEN, seen);
  }
}

declare const require: (name: string) => unknown;
declare const process: { versions?: { node?: string } } | undefined;
declare const self: { onmessage: ((event: { data: Start }) => void) | null } | undefined;

// Node is recognised by process.versions.node, never by `typeof require`: the bundler turns `require`
// into a helper that is a function everywhere, and that helper throws in a browser.
if (typeof process === 'object' && process !== null && process.versions?.node !== undefined) {
  const { workerData } = require('node:worker_threads') as { workerData: Start };
  serve(workerData);
} else if (typeof self === 'object' && self !== null) {
  self.onmessage = (event) => serve(event.data);
}
