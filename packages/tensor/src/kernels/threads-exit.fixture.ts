// Run by threads.test.ts in a child process: uses the thread pool, waits until a worker has run a
// task, then returns from the script. The process must exit on its own (the pool's workers are
// unref'd), which the test checks with a timeout.
import { kernelsOf } from './backend';
import { wasmThreadPoolStatistics } from './wasm/backend';

const wasm = kernelsOf('wasm');
const a = Float32Array.from({ length: 256 * 256 }, (_, i) => Math.sin(i));
const c = new Float32Array(256 * 256);
const deadline = Date.now() + 30_000;
function step(): void {
  wasm.gemm({ a, aOffset: 0, transA: false, b: a, bOffset: 0, transB: false, c, cOffset: 0, m: 256, k: 256, n: 256 });
  const statistics = wasmThreadPoolStatistics();
  if (statistics !== null && statistics.workerTasks > 0) {
    console.log(`worker tasks: ${statistics.workerTasks}`);
    return;
  }
  if (Date.now() < deadline) setTimeout(step, 10);
  else console.log('worker tasks: 0');
}
step();
