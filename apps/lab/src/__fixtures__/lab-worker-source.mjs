// Test-only entry of the lab's pool worker from the TypeScript sources: a worker thread does not take
// `--import tsx` in its execArgv, so it registers tsx itself and then loads lab-worker.ts.
import { register } from 'tsx/esm/api';

register();
const worker = await import('../lab-worker.ts');
export default worker.default;
