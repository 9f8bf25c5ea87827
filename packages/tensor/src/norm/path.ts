import type { Tensor } from '../tensor';
import type { NormalizeOptions, NormalizeResult } from './normalize';

/** What `normalize` has checked and resolved before it hands a call to a path. */
export interface ResolvedNormalize {
  /** The eps value used (fixed, or fixed + |learned|). */
  eps: number;
  /** The tensor that receives dL/deps, with d eps / d tensor (1 for a scalar eps, sign(learned) for FRN's). */
  epsInput: { tensor: Tensor; derivative: number } | null;
  weight: Tensor | null;
  bias: Tensor | null;
  threshold: Tensor | null;
}

/**
 * A specialised layout of `normalize`: it declares beside its loops which options it accepts, and
 * `normalize` takes the first path that accepts a call (the general loops take the rest). Each
 * path must match the general loops exactly (its own test compares them).
 */
export interface NormalizePath {
  readonly name: string;
  accepts(options: NormalizeOptions): boolean;
  run(x: Tensor, options: NormalizeOptions, resolved: ResolvedNormalize): NormalizeResult;
}
