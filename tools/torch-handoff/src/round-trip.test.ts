/**
 * The hand-off round trip through a training bundle: normkit trains the lab's `mlp` family (BatchNorm in
 * every hidden layer, Adam, warmup + cosine schedule) for 20 steps and writes a bundle; PyTorch continues
 * 20 steps under DDP (torchrun, 2 processes, gloo, each on half of every batch, batch statistics
 * synchronised) and writes a bundle back; normkit continues 20 more. The 60 losses must match, to
 * tolerance, those of one normkit run that never switched, and the final eval output of normkit must
 * match PyTorch's on the same final bundle. PyTorch's DDP stage is also compared with normkit's own
 * 2-worker data-parallel run (worker threads, SyncBatchNorm, averaged gradients) from the same bundle.
 *
 * The family's Linear layers are float32, so the two frameworks' Adam updates differ in rounding
 * (normkit updates in float64 and rounds once into the float32 parameter, PyTorch computes in float32)
 * and the BatchNorm statistics of two half-batches are reduced in another order: the tolerances are
 * float32 ones (see TOLERANCE below, measured margins in the comments).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadBundle, noGrad, parseSafetensors, readBundle, saveBundle, saveSafetensors, tensor, type BundleFiles, type StateDict, type Tensor,
} from '@normkit/tensor';
import { runWorkers } from '@normkit/tensor/node';
import type { Classifier } from '@normkit/experiments';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARCHITECTURE, STEPS, makeData, start, train, type Batch } from './round-trip-run';
import type { ReplicaData, ReplicaResult } from './round-trip.worker';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TRAIN_DDP = join(ROOT, 'python', 'normkit_torch', 'examples', 'train_ddp.py');
const WORKER = new URL('./round-trip.worker.ts', import.meta.url);

/**
 * |a - b| <= atol + rtol * |b|. Losses: the largest relative difference measured over the 60 steps
 * was 1.2e-7 (PyTorch's 20 steps) and 2.0e-7 (normkit's last 20); rtol 1e-5 leaves a 50x margin and is
 * far below what a wrong moment, step count or learning rate gives (checked: restarting Adam's step
 * count in PyTorch, or its schedule at step 0, or not synchronising its BatchNorm, fails this). Eval
 * output, same weights in both frameworks: float32 rounding only (4.3e-7 measured). Two trajectories
 * that trained apart (the final eval output vs the uninterrupted run's: 2.8e-5 measured; normkit's 2
 * workers vs PyTorch DDP: 5.1e-5) carry float32 drift, mostly through the biases before BatchNorm (see
 * the state comparison): `trajectory`, still far below a fault's effect (a missing synchronisation
 * moves the eval output by 0.25, a restarted Adam step count by 0.6). Parameters after normkit's own
 * 2-worker run vs PyTorch DDP's: float32 drift of 20 Adam steps.
 */
const TOLERANCE = {
  loss: { atol: 1e-7, rtol: 1e-5 },
  evalOutput: { atol: 1e-6, rtol: 1e-5 },
  trajectory: { atol: 3e-5, rtol: 3e-4 },
  parameters: { atol: 1e-5, rtol: 1e-4 },
};

function evalOutput(model: Classifier, x: Tensor): number[] {
  model.eval();
  return noGrad(() => Array.from(model.forward({ x }).data));
}

function writeBundle(dir: string, files: BundleFiles): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
}

function readBundleDir(dir: string): BundleFiles {
  return Object.fromEntries(readdirSync(dir).map((name) => [name, new Uint8Array(readFileSync(join(dir, name)))]));
}

function dataFile(batches: readonly Batch[], evalX: Tensor): Uint8Array {
  const tensors: StateDict = { 'eval.x': evalX };
  batches.forEach(({ x, y }, k) => {
    tensors[`x.${k}`] = x;
    tensors[`y.${k}`] = tensor(y, { shape: [y.length], dtype: 'float64' });
  });
  return saveSafetensors(tensors);
}

/** A free local port for torchrun's rendezvous (as python/tests/test_ddp.py picks one). */
function freePort(): number {
  const script = 'import socket\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\nprint(s.getsockname()[1])';
  return Number(execFileSync('/usr/bin/python3', ['-c', script]).toString().trim());
}

function python(args: string[], distributed: boolean): void {
  const launcher = distributed
    ? ['-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_addr=127.0.0.1', `--master_port=${freePort()}`, '--redirects', '1', '--tee', '1']
    : [];
  execFileSync('/usr/bin/python3', [...launcher, TRAIN_DDP, ...args], { stdio: 'pipe', timeout: 120_000, env: { ...process.env, OMP_NUM_THREADS: '1' } });
}

function expectClose(label: string, ours: readonly number[], theirs: readonly number[], tol: { atol: number; rtol: number }): number {
  expect(ours.length, label).toBe(theirs.length);
  let worst = 0;
  ours.forEach((a, i) => {
    const b = theirs[i]!;
    worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(b), 1e-30));
    expect(Math.abs(a - b), `${label}[${i}]: ${a} vs ${b}`).toBeLessThanOrEqual(tol.atol + tol.rtol * Math.abs(b));
  });
  return worst;
}

let dir = '';
const { batches, evalX } = makeData();
const result = {
  straight: [] as number[],
  straightEval: [] as number[],
  first: [] as number[],
  torch: [] as number[],
  last: [] as number[],
  normkitEval: [] as number[],
  torchEval: [] as number[],
  torchSteps: [] as number[],
  workers: [] as number[],
  workerState: {} as StateDict,
  torchState: {} as StateDict,
  workerEval: [] as number[],
  torchStateEval: [] as number[],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'torch-handoff-round-trip-'));
  const straight = start();
  result.straight = train(straight, batches);
  result.straightEval = evalOutput(straight.model, evalX);

  const first = start();
  result.first = train(first, batches.slice(0, STEPS));
  writeBundle(join(dir, 'a'), saveBundle({ model: first.model, optimizer: first.optimizer, scheduler: first.scheduler, architecture: ARCHITECTURE }));
  writeFileSync(join(dir, 'data-torch.safetensors'), dataFile(batches.slice(STEPS, 2 * STEPS), evalX));
  python(['--bundle', join(dir, 'a'), '--data', join(dir, 'data-torch.safetensors'), '--steps', String(STEPS), '--out-bundle', join(dir, 'b'),
    '--losses', join(dir, 'torch-losses.json')], true);
  result.torch = JSON.parse(readFileSync(join(dir, 'torch-losses.json'), 'utf8')) as number[];
  result.torchState = readBundle(readBundleDir(join(dir, 'b'))).stateDict;

  // normkit's own data-parallel continuation from the same bundle: 2 worker threads, SyncBatchNorm.
  const replicas = await runWorkers<ReplicaResult, ReplicaData>({ size: 2, module: WORKER, data: { bundle: readBundleDir(join(dir, 'a')) } });
  result.workers = replicas[0]!.losses.map((loss, k) => (loss + replicas[1]!.losses[k]!) / 2);
  result.workerState = readBundle(replicas[0]!.bundle).stateDict;
  for (const [files, key] of [[replicas[0]!.bundle, 'workerEval'], [readBundleDir(join(dir, 'b')), 'torchStateEval']] as const) {
    const run = start();
    loadBundle(files, run);
    result[key] = evalOutput(run.model, evalX);
  }

  const last = start();
  const manifest = loadBundle(readBundleDir(join(dir, 'b')), last);
  expect(manifest.producer).toBe('normkit_torch');
  result.torchSteps = Object.values(manifest.optimizer!.state).map((s) => s.step!);
  result.last = train(last, batches.slice(2 * STEPS));
  result.normkitEval = evalOutput(last.model, evalX);
  writeBundle(join(dir, 'c'), saveBundle({ model: last.model, optimizer: last.optimizer, scheduler: last.scheduler, architecture: ARCHITECTURE }));
  python(['--bundle', join(dir, 'c'), '--data', join(dir, 'data-torch.safetensors'), '--steps', '0', '--eval-out', join(dir, 'eval.safetensors')], false);
  result.torchEval = Array.from(parseSafetensors(readFileSync(join(dir, 'eval.safetensors'))).tensors.output!.data);
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('round trip normkit (20 Adam steps) -> PyTorch DDP, 2 processes (20) -> normkit (20)', () => {
  it('PyTorch resumed the optimizer: every parameter comes back with 40 Adam steps', () => {
    expect(result.torchSteps.length).toBe(10); // per hidden layer Linear and BatchNorm weight and bias, and the head's
    expect(new Set(result.torchSteps)).toEqual(new Set([2 * STEPS]));
  });

  it('the losses of the 60 steps match the run that never switched', () => {
    const worst = [
      expectClose('normkit first 20', result.first, result.straight.slice(0, STEPS), { atol: 0, rtol: 0 }),
      expectClose('PyTorch DDP 20', result.torch, result.straight.slice(STEPS, 2 * STEPS), TOLERANCE.loss),
      expectClose('normkit last 20', result.last, result.straight.slice(2 * STEPS), TOLERANCE.loss),
    ];
    console.log(`round trip: worst relative loss difference per stage ${worst.map((w) => w.toExponential(2)).join(', ')}`);
    // Training happened: the loss fell.
    expect(result.straight[3 * STEPS - 1]!).toBeLessThan(result.straight[0]! * 0.8);
  });

  it("PyTorch DDP's 20 steps (2 processes) match normkit's own 2-worker data-parallel run from the same bundle", () => {
    const worst = expectClose('normkit 2 workers vs PyTorch DDP', result.workers, result.torch, TOLERANCE.loss);
    let parameters = 0;
    for (const [name, t] of Object.entries(result.torchState)) {
      // The bias of a Linear right before BatchNorm has a zero gradient in exact arithmetic (BatchNorm
      // subtracts it again), so Adam, which divides by the gradient's own scale, turns rounding noise
      // into O(lr) steps: it differs between any two implementations (3.6e-5 absolute measured) and has
      // no effect on the output. Those biases are compared through the eval outputs below instead.
      // BatchNorm's running_mean averages the Linear's output, bias included, so it carries the same
      // noise (2.2e-5 absolute measured): compared with an absolute 1e-4.
      if (/^layers\.\d+\.linear\.bias$/.test(name)) continue;
      const tolerance = name.endsWith('running_mean') ? { atol: 1e-4, rtol: 0 } : TOLERANCE.parameters;
      parameters = Math.max(parameters, expectClose(`state ${name}`, Array.from(result.workerState[name]!.data), Array.from(t.data), tolerance));
    }
    expect(Object.keys(result.workerState).sort()).toEqual(Object.keys(result.torchState).sort());
    const outputs = expectClose('eval output, 2-worker state vs PyTorch DDP state', result.workerEval, result.torchStateEval, TOLERANCE.trajectory);
    expect(Array.from(result.workerState['layers.0.norm.batch-norm.num_batches_tracked']!.data)).toEqual([2 * STEPS]);
    console.log(`round trip: normkit 2 workers vs PyTorch DDP, worst relative difference: losses ${worst.toExponential(2)}, state ${parameters.toExponential(2)}, eval output ${outputs.toExponential(2)}`);
  });

  it("normkit's final eval output matches PyTorch's on the same final bundle, and the uninterrupted run's", () => {
    const worst = expectClose('eval vs PyTorch', result.normkitEval, result.torchEval, TOLERANCE.evalOutput);
    const drift = expectClose('eval vs uninterrupted', result.normkitEval, result.straightEval, TOLERANCE.trajectory);
    console.log(`round trip: eval output worst relative difference normkit vs PyTorch ${worst.toExponential(2)}, vs uninterrupted ${drift.toExponential(2)}`);
  });
});
