// Typed access to torch-weight.json, written by tools/torch-parity/weight_fixtures.py (PyTorch 1.13, float64).
import { readFileSync } from 'node:fs';
import { Tensor, type StateDict } from '@normkit/tensor';

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

/** One read of a module: forward of `x`, backward of sum(output * upstream); in training an SGD step followed. */
export interface FixtureStep {
  mode: 'train' | 'eval';
  x: FixtureTensor;
  output: FixtureTensor;
  upstream: FixtureTensor;
  gradX: FixtureTensor;
  /** Gradients by PyTorch parameter name, e.g. `parametrizations.weight.original`. */
  grads: Record<string, FixtureTensor>;
  /** The state dict after the read (u and v moved in training), before the SGD step. */
  stateAfter: Record<string, FixtureTensor>;
}

export interface SpectralFixture {
  nPowerIterations: number;
  dim: number;
  stateDictKeys: string[];
  initialState: Record<string, FixtureTensor>;
  steps: FixtureStep[];
}

export interface WeightNormFixture {
  dim: number | null;
  /** The module's state dict before weight norm was registered (`weight`, `bias`). */
  plainState: Record<string, FixtureTensor>;
  stateDictKeys: string[];
  step: FixtureStep;
}

export interface ChainFixture {
  stateDictKeys: string[];
  initialState: Record<string, FixtureTensor>;
  steps: FixtureStep[];
}

export interface StandardizationFixture {
  weight: FixtureTensor;
  bias: FixtureTensor;
  gain: FixtureTensor;
  x: FixtureTensor;
  standardized: FixtureTensor;
  output: FixtureTensor;
  upstream: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  options: { stride: number; padding: number };
  gamma?: number;
}

export interface WeightFixtures {
  meta: { torch: string; learningRate: number };
  spectralLinear: SpectralFixture;
  spectralConv2d: SpectralFixture;
  spectralConvTranspose2d: SpectralFixture;
  spectralBias: SpectralFixture;
  weightNormLinear: WeightNormFixture;
  weightNormConv2d: WeightNormFixture;
  weightNormConv2dDim1: WeightNormFixture;
  weightNormWhole: WeightNormFixture;
  chainWeightNormSpectralNorm: ChainFixture;
  wsPlain: StandardizationFixture;
  wsTimmScaled: StandardizationFixture;
  wsDeepMind: StandardizationFixture;
}

export const torchFixtures = JSON.parse(readFileSync(new URL('./torch-weight.json', import.meta.url), 'utf8')) as WeightFixtures;

/** A float64 tensor from a fixture entry. */
export function fixtureTensor(entry: FixtureTensor, requiresGrad = false): Tensor {
  return new Tensor(Float64Array.from(entry.data), entry.shape, requiresGrad);
}

/** A state dict of float64 tensors from fixture entries (PyTorch's key names). */
export function fixtureStateDict(entries: Record<string, FixtureTensor>): StateDict {
  const dict: StateDict = {};
  for (const [key, value] of Object.entries(entries)) dict[key] = fixtureTensor(value);
  return dict;
}
