// Typed access to nn-layers.json, written by tools/torch-parity/nn_layers.py (PyTorch 1.13, float64; the conv sweep from
// float32-representable operands).
import { readFileSync } from 'node:fs';
import { Tensor } from '../tensor';

export interface FixtureTensor {
  shape: number[];
  data: number[];
}

export interface FixtureCase {
  inputs: Record<string, FixtureTensor>;
  output: FixtureTensor;
  /** The loss was sum(output * upstream). */
  upstream: FixtureTensor;
  grads: Record<string, FixtureTensor>;
  options?: Record<string, number | boolean>;
  indices?: FixtureTensor;
  mask?: FixtureTensor;
  stateDictKeys?: string[];
}

/** A convolution in float64 from float32-representable operands (stored to 9 significant digits: read them through Math.fround). */
export interface ConvSweepCase extends Omit<FixtureCase, 'options'> {
  kind: 'conv2d' | 'convTranspose2d';
  outChannels: number;
  kernel: [number, number];
  options: { stride: number | [number, number]; padding: number | [number, number]; dilation: number | [number, number]; groups: number; output_padding?: number };
}

export interface NnLayerFixtures {
  linear: FixtureCase;
  conv2d: FixtureCase;
  convTranspose2d: FixtureCase;
  embedding: FixtureCase;
  attention: FixtureCase;
  attentionCross: FixtureCase;
  attentionMaskedCausal: FixtureCase;
  sequentialStateDictKeys: string[];
  /** Convolutions large enough for the wasm backend's module, over the geometries its kernels choose between. */
  convSweep: ConvSweepCase[];
}

export const nnLayerFixtures = JSON.parse(readFileSync(new URL('./nn-layers.json', import.meta.url), 'utf8')) as NnLayerFixtures;

/** A float64 tensor from a fixture entry. */
export function fixtureTensor(entry: FixtureTensor, requiresGrad = false): Tensor {
  return new Tensor(Float64Array.from(entry.data), entry.shape, requiresGrad);
}

/** The bytes of a binary fixture file in this folder. */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`./${name}`, import.meta.url)));
}
