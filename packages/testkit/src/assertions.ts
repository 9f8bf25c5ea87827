import { expect } from 'vitest';
import { describeMismatch, findMismatch, type GradcheckResult, type Module, type Tensor, type TypedArray } from '@normkit/tensor';

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
