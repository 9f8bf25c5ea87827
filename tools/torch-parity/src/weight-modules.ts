import { Conv2d, Generator, Linear, type DType, type Module, type Tensor } from '@normkit/tensor';
import { FixtureError, configValue, type FixtureCase } from './fixtures';

/** A host layer as generate.py's weight cases build it: Linear(4, 3), Linear(5, 4), Conv2d(2, 3, 3) with or without padding. */
export type HostLayer = Module & { forward(x: Tensor): Tensor; weight: Tensor };

export function hostLayer(fixtureCase: FixtureCase, dtype: DType, shape: { linear: [number, number]; convPadding: number }): HostLayer {
  const kind = configValue<string>(fixtureCase, 'module');
  const generator = new Generator(0);
  if (kind === 'Linear') return new Linear({ inFeatures: shape.linear[0], outFeatures: shape.linear[1], dtype, generator });
  if (kind === 'Conv2d') return new Conv2d({ inChannels: 2, outChannels: 3, kernelSize: 3, padding: shape.convPadding, dtype, generator });
  throw new FixtureError(fixtureCase.name, `has an unknown module ${kind}`);
}
