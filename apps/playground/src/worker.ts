// A run's Web Worker (a module worker, started by run-handle.ts): registers the plugins in this
// worker's own registry and hands every message from the page to a RunSession.
import { loadMnist } from '@normkit/experiments/mnist';
import { registerPlugins } from './plugins';
import type { FromWorker, ToWorker } from './protocol';
import { RunSession } from './session';

registerPlugins();

const scope = self as unknown as {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
};

const session = new RunSession({
  post: (message, transfer) => scope.postMessage(message, transfer ?? []),
  schedule: (callback) => setTimeout(callback, 0),
  loadMnist,
});

// Messages are handled one after another: a configure that waits for MNIST finishes before the
// next message is looked at, so a play sent right after it is not lost.
let queue: Promise<void> = Promise.resolve();
scope.onmessage = (event) => {
  queue = queue
    .then(() => session.handle(event.data))
    .catch((error: unknown) => {
      // A bug outside the trainer (which reports its own failures as events): say so in the page.
      const message = error instanceof Error ? error.message : String(error);
      scope.postMessage({ type: 'error', error: { name: 'WorkerError', message } });
    });
};
