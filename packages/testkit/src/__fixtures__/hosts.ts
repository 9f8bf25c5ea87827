import { Linear, type Module } from '@normkit/tensor';
import type { HostRequest } from '../checks/parametrization/harness';

/** A Linear(3 -> 4) host, the usual target of weight parametrizations. */
export function linearHost({ dtype, generator }: HostRequest): Module {
  return new Linear({ inFeatures: 3, outFeatures: 4, dtype, generator });
}
