// Shared by the tests: run exported bytes in onnxruntime-node and compare with normkit's eval forward.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, type Module, type Tensor } from '@normkit/tensor';
import { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { expect } from 'vitest';

/** Integer ids for an int64 graph input (labels, Embedding indices). */
export interface Int64Feed {
  int64: readonly number[];
  dims: readonly number[];
}

export async function runOnnx(bytes: Uint8Array, feeds: Record<string, Tensor | Int64Feed>): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await InferenceSession.create(bytes);
  try {
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = 'int64' in t
        ? new OrtTensor('int64', BigInt64Array.from(t.int64, (v) => BigInt(v)), [...t.dims])
        : new OrtTensor('float32', Float32Array.from(t.data), [...t.shape]);
    }
    const results = await session.run(ortFeeds);
    const output = results[session.outputNames[0]!]!;
    return { data: output.data as Float32Array, dims: output.dims };
  } finally {
    await session.release();
  }
}

/** |a - b| <= rtol * max|ref| + atol elementwise; reports the worst element. */
export function expectClose(actual: ArrayLike<number>, reference: ArrayLike<number>, rtol: number, atol: number): void {
  expect(actual.length).toBe(reference.length);
  let scale = 0;
  for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i]!));
  const tolerance = rtol * scale + atol;
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < reference.length; i++) {
    const diff = Math.abs(actual[i]! - reference[i]!);
    if (!(diff <= worst)) {
      worst = diff;
      worstIndex = i;
    }
  }
  expect(worst, `worst |a - b| = ${worst} at ${worstIndex} (ref ${reference[worstIndex]}, onnx ${actual[worstIndex]}), tolerance ${tolerance}`).toBeLessThanOrEqual(tolerance);
}

/** The module's eval output for x, restoring its training flags. */
export function evalForward(module: Module, ...inputs: Tensor[]): Tensor {
  const modes = [...module.namedModules()].map(([, m]) => [m, m.training] as const);
  module.eval();
  try {
    return noGrad(() => (module.forward as (...args: Tensor[]) => Tensor)(...inputs));
  } finally {
    for (const [m, training] of modes) m.training = training;
  }
}

/** Runs the module in normkit (eval) and the bytes in onnxruntime on the same input; compares. */
export async function expectOnnxMatches(module: Module, bytes: Uint8Array, x: Tensor, tolerance: { rtol: number; atol: number }): Promise<void> {
  const reference = evalForward(module, x);
  const { data, dims } = await runOnnx(bytes, { input: x });
  expect([...dims]).toEqual(reference.shape);
  expectClose(data, reference.data, tolerance.rtol, tolerance.atol);
}

export const NORMALIZER_TOLERANCE = { rtol: 1e-5, atol: 1e-6 };
export const MODEL_TOLERANCE = { rtol: 1e-4, atol: 0 };

// Overridable only to try the missing-checker paths by hand (turbo does not pass it through).
const PYTHON = process.env.NORMKIT_ONNX_PYTHON ?? '/usr/bin/python3';

/** Whether Debian's python3-onnx is importable (the checker used below). */
export function onnxCheckerAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs onnx.checker.check_model(full_check=True) on each model; throws with the checker's message. */
export function checkWithOnnxChecker(models: ReadonlyArray<{ name: string; bytes: Uint8Array }>): void {
  const dir = mkdtempSync(join(tmpdir(), 'normkit-onnx-'));
  try {
    const paths = models.map(({ name, bytes }, i) => {
      const path = join(dir, `${i}-${name.replace(/[^\w.-]+/g, '_')}.onnx`);
      writeFileSync(path, bytes);
      return path;
    });
    const script = [
      'import sys, onnx',
      'failed = []',
      'for path in sys.argv[1:]:',
      '    try:',
      '        onnx.checker.check_model(onnx.load(path), full_check=True)',
      '    except Exception as e:',
      '        failed.append(f"{path}: {e}")',
      'print("\\n".join(failed))',
      'sys.exit(1 if failed else 0)',
    ].join('\n');
    execFileSync(PYTHON, ['-c', script, ...paths], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const out = (error as { stdout?: string; stderr?: string }).stdout ?? '';
    const err = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`onnx.checker rejected a model:\n${out}\n${err}`, { cause: error });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
