// A module Web Worker importing @normkit/tensor on its own.
import { compute } from './compute.js';

try {
  postMessage(compute());
} catch (error) {
  postMessage({ error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
}
