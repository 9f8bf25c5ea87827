// The page: computes on the main thread and in a module Web Worker, and publishes both results.
import { compute } from './compute.js';

type Result = ReturnType<typeof compute>;
type Report = { page: Result | { error: string }; worker: Result | { error: string } };

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

let page: Report['page'];
try {
  page = compute();
} catch (error) {
  page = { error: describe(error) };
}

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const fromWorker = new Promise<Report['worker']>((resolve) => {
  worker.onmessage = (event: MessageEvent<Report['worker']>) => resolve(event.data);
  worker.onerror = (event) => resolve({ error: `worker error: ${event.message}` });
});

void fromWorker.then((result) => {
  const report: Report = { page, worker: result };
  (globalThis as unknown as { __normkitReport: Report }).__normkitReport = report;
  const out = document.getElementById('report')!;
  out.textContent = JSON.stringify(report);
});
