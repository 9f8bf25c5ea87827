import { zeros } from '../creation';
import type { DType } from '../dtype';
import { ContextError, checkNumberOption } from '../errors';
import { embedding } from '../ops/embedding';
import type { Generator } from '../random';
import type { Tensor } from '../tensor';
import { normal } from './init';
import { Module, Parameter } from './module';

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  /** Parameter dtype (default float32). */
  dtype?: DType;
  /** Drives the initialisation; the default generator otherwise. */
  generator?: Generator;
}

/**
 * A lookup table of `numEmbeddings` vectors of size `embeddingDim`, like `torch.nn.Embedding`:
 * integer indices of any shape map to `[...indicesShape, embeddingDim]`. The `weight`
 * `[numEmbeddings, embeddingDim]` is initialised N(0, 1) as in PyTorch; an index used several
 * times in a batch receives the sum of its rows' gradients.
 *
 * `forward` reads `this.weight` at call time, so a weight parametrization can replace it.
 *
 * @example
 * const tokens = new Embedding({ numEmbeddings: 1000, embeddingDim: 64 });
 * tokens.forward(tensor([[4, 7, 7]])).shape; // [1, 3, 64]
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly dtype: DType;
  /** `[numEmbeddings, embeddingDim]`. */
  weight: Tensor;

  constructor(options: EmbeddingOptions) {
    super();
    this.numEmbeddings = checkNumberOption('Embedding', 'numEmbeddings', options.numEmbeddings, { min: 1, integer: true });
    this.embeddingDim = checkNumberOption('Embedding', 'embeddingDim', options.embeddingDim, { min: 1, integer: true });
    this.dtype = options.dtype ?? 'float32';
    this.weight = this.registerParameter('weight', new Parameter(zeros([this.numEmbeddings, this.embeddingDim], { dtype: this.dtype })));
    this.resetParameters({ generator: options.generator });
  }

  /** Re-draws the registered weight from N(0, 1). */
  resetParameters(options: { generator?: Generator } = {}): void {
    const weight = this.getParameter('weight');
    if (!weight) {
      throw new ContextError({
        op: 'Embedding.resetParameters',
        expected: 'a plain `weight` parameter',
        given: 'a parametrized weight; initialise the parametrization originals instead',
      });
    }
    normal(weight, 0, 1, options);
  }

  /** `indices`: a tensor of integer values (any shape), a number array or an Int32Array. */
  override forward(indices: Tensor | readonly number[] | Int32Array): Tensor {
    return embedding(indices, this.weight);
  }
}
