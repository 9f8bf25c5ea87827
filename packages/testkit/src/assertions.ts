import { expect } from 'vitest';
import {
  Generator, describeMismatch, findMismatch, randn, tensor, type GradcheckResult, type Module, type Tensor, type TypedArray,
} from '@normkit/tensor';

/** Asserts two tensors (or arrays) agree elementwise within atol + rtol * |expected|, naming the worst element. */
export function expectClose(actual: Tensor | ArrayLike<number>, expected: Tensor | ArrayLike<number>, atol = 1e-6, rtol = 1e-6): void {
  const mismatch = findMismatch(actual, expected, atol, rtol);
  if (mismatch) expect.fail(describeMismatch(mismatch, atol, rtol));
}

/** Asserts a gradcheck passed, printing the first failures when it did not. */
export function expectGradcheck(result: GradcheckResult): void {
  if (!result.ok) expect.fail(`gradcheck failed (max error ${result.maxError}): ${JSON.stringify(result.failures.slice(0, 5))}`);
}

function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function stateBytes(module: Module): Map<string, Uint8Array> {
  const state = new Map<string, Uint8Array>();
  for (const [name, p] of module.namedParameters()) state.set(`parameter ${name} ${p.dtype} [${p.shape.join(', ')}]`, bytesOf(p.data));
  for (const [name, b] of module.namedBuffers()) state.set(`buffer ${name} ${b.dtype} [${b.shape.join(', ')}]`, bytesOf(b.data));
  return state;
}

/**
 * Asserts that `act` throws (matching `expected`, a class or a message pattern, when given) and
 * leaves every parameter and buffer of `module` bit-identical: a forward that throws changes no
 * state. Compares bytes, so -0 versus 0 and NaN payloads count as changes too.
 */
export function expectThrowsWithoutStateChange(
  module: Module,
  act: () => unknown,
  expected?: RegExp | (abstract new (...args: never[]) => Error),
): void {
  const before = stateBytes(module);
  let thrown: unknown;
  let threw = false;
  try {
    act();
  } catch (error) {
    threw = true;
    thrown = error;
  }
  if (!threw) expect.fail('expected the call to throw, it returned');
  if (expected instanceof RegExp) expect(String((thrown as Error)?.message ?? thrown)).toMatch(expected);
  else if (expected) expect(thrown).toBeInstanceOf(expected);
  const after = stateBytes(module);
  const changes: string[] = [];
  for (const [name, bytes] of before) {
    const now = after.get(name);
    if (!now) changes.push(`${name} disappeared`);
    else if (now.length !== bytes.length || now.some((byte, i) => byte !== bytes[i])) changes.push(`${name} changed`);
  }
  for (const name of after.keys()) if (!before.has(name)) changes.push(`${name} appeared`);
  if (changes.length > 0) expect.fail(`the call threw (${String((thrown as Error)?.message ?? thrown)}) but changed state: ${changes.join('; ')}`);
}

export interface ScaleInvarianceOptions {
  /** How far x is scaled up (default 1e200: a variance of 1e400, beyond float64). */
  scale?: number;
  /** Put every other element at x * 1e-200 instead of x * scale: 1e200 and 1e-200 mixed in one slot. */
  mixed?: boolean;
  /** Tolerance relative to each compared array's largest magnitude (default 1e-9). */
  tol?: number;
  /** Seed of the parameters and of the output gradient (default 17). */
  seed?: number;
}

/**
 * Asserts a float64 normalizer stays correct beyond float64's square range (issue 17 item 10): a
 * module with eps = 1e-5 on x * scale gives the output of one with eps = 1e-300 on x, the same
 * parameter gradients and dL/dx times 1 / scale. Both eps are negligible against their variances
 * (1e-5 against 1e400, 1e-300 against x's O(1) one), so the two problems are the same problem.
 * `make(eps)` builds a fresh float64 module; its parameters are set to seeded random values, copied
 * to the reference.
 */
export function expectScaleInvariant(
  make: (eps: number) => Module & { forward(x: Tensor): Tensor },
  x: Tensor,
  options: ScaleInvarianceOptions = {},
): void {
  const scale = options.scale ?? 1e200;
  const tol = options.tol ?? 1e-9;
  const generator = new Generator(options.seed ?? 17);
  const big = make(1e-5);
  const ref = make(1e-300);
  for (const [, p] of big.namedParameters()) p.data.set(randn(p.shape, { dtype: p.dtype, generator }).data);
  ref.loadStateDict(big.stateDict());
  const data = Float64Array.from(x.data, (v, i) => (options.mixed && i % 2 === 1 ? v * 1e-200 : v * scale));
  const run = (module: Module & { forward(x: Tensor): Tensor }, values: Float64Array, g: Tensor | null) => {
    const input = tensor(values, { dtype: 'float64', shape: x.shape, requiresGrad: true });
    const output = module.forward(input);
    const seed = g ?? randn(output.shape, { dtype: 'float64', generator });
    output.backward(seed);
    return { input, output, seed };
  };
  const scaled = run(big, data, null);
  const reference = run(ref, data.map((v) => v / scale), scaled.seed);
  const compare = (what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, factor: number): void => {
    const values = Array.from(actual, (v) => v * factor);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) expect.fail(`${what}: element ${bad} is ${values[bad]} on the scaled input`);
    const top = Math.max(Number.MIN_VALUE, ...Array.from(expected, Math.abs));
    const mismatch = findMismatch(values, expected, tol * top, tol);
    if (mismatch) expect.fail(`${what}: ${describeMismatch(mismatch, tol * top, tol)}`);
  };
  compare('output', scaled.output.data, reference.output.data, 1);
  compare('dL/dx * scale', scaled.input.grad!.data, reference.input.grad!.data, scale);
  const refParams = new Map(ref.namedParameters());
  for (const [name, p] of big.namedParameters()) {
    const q = refParams.get(name)!;
    if (q.grad === null) continue;
    compare(`dL/d${name}`, p.grad!.data, q.grad.data, 1);
  }
}
