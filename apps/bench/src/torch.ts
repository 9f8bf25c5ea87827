// PyTorch as a comparator: one Python process times every case's TorchSpec on one thread and
// answers with JSON. Its progress goes to our stderr as it runs.
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Outcome, TimingOptions, TorchSpec } from './harness';

/** Debian's python3-torch lives in the system Python; NORMKIT_BENCH_PYTHON points elsewhere. */
export const pythonExecutable = process.env.NORMKIT_BENCH_PYTHON ?? '/usr/bin/python3';

const script = fileURLToPath(new URL('../python/torch_bench.py', import.meta.url));

/** The torch version, or null with the reason when `import torch` fails. */
export function probeTorch(): { version: string } | { version: null; reason: string } {
  const probe = spawnSync(pythonExecutable, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error) return { version: null, reason: `${pythonExecutable} not runnable (${probe.error.message})` };
  if (probe.status !== 0) {
    const lastLine = probe.stderr.trim().split('\n').pop() ?? '';
    return { version: null, reason: `import torch failed in ${pythonExecutable}: ${lastLine}` };
  }
  return { version: probe.stdout.trim() };
}

export interface TorchRequest {
  name: string;
  spec: TorchSpec;
  timing: TimingOptions;
}

interface TorchReply {
  results: Record<string, { status: 'ok'; median: number; q1: number; q3: number; iqr: number; runs: number } | { status: 'failed'; reason: string }>;
  threads: number;
}

/** Runs all requests in one Python process (timed one after another) and maps each case name to its outcome. */
export async function runTorch(
  requests: readonly TorchRequest[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ outcomes: Map<string, Outcome>; threads: number }> {
  const child = spawn(pythonExecutable, [script], { stdio: ['pipe', 'pipe', 'inherit'], env });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  child.stdin.end(JSON.stringify({ cases: requests }));
  const code = await exit;
  if (code !== 0) throw new Error(`${script} exited with code ${code}`);
  const reply = JSON.parse(stdout) as TorchReply;
  const outcomes = new Map<string, Outcome>();
  for (const [name, result] of Object.entries(reply.results)) {
    outcomes.set(name, result.status === 'ok'
      ? { status: 'ok', timing: { median: result.median, q1: result.q1, q3: result.q3, iqr: result.iqr, runs: result.runs } }
      : { status: 'failed', reason: result.reason });
  }
  return { outcomes, threads: reply.threads };
}
