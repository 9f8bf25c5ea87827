// Typed access to nn-modules.json, written by tools/torch-parity/nn_modules.py (PyTorch 1.13, float64),
// and the replay every parameter-free module test runs against it.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { Module } from '../nn/module';
import { Tensor } from '../tensor';
import { expectClose } from '../test-utils';

interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface ModuleFixtureCase {
  /** The module's options in normkit's names; PyTorch's module was built with the same values. */
  options: Record<string, unknown>;
  x: FixtureTensor;
  output: FixtureTensor;
  /** The loss was sum(output * upstream). */
  upstream: FixtureTensor;
  gx: FixtureTensor;
}

const fixtures = JSON.parse(readFileSync(new URL('./nn-modules.json', import.meta.url), 'utf8')) as { cases: Record<string, ModuleFixtureCase[]> };

export function moduleFixtureCases(name: string): ModuleFixtureCase[] {
  const cases = fixtures.cases[name];
  if (!cases || cases.length === 0) throw new Error(`no PyTorch fixture cases for ${name} in nn-modules.json`);
  return cases;
}

/** Runs `module` on the case's float64 input and checks its output and input gradient against PyTorch's. */
export function expectMatchesTorch(module: Module, fixture: ModuleFixtureCase, tolerance = 1e-12): void {
  const x = new Tensor(Float64Array.from(fixture.x.data), fixture.x.shape, true);
  const y = (module.forward as (x: Tensor) => Tensor)(x);
  expect(y.shape).toEqual(fixture.output.shape);
  expectClose(y, fixture.output.data, tolerance, 0);
  y.backward(Float64Array.from(fixture.upstream.data));
  expectClose(x.grad!, fixture.gx.data, tolerance, 0);
}
