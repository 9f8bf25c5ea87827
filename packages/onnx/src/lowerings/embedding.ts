import { Embedding, noGrad } from '@normkit/tensor';
import { defineLowering } from '../registry';

/**
 * Embedding: `Gather(weight, indices, axis=0)`, [...indices, embeddingDim]. Export the indices as an
 * int64 graph input: `exportOnnx(embedding, { inputs: [{ shape: [N, L], dtype: 'int64' }] })`. The
 * weight is read through `module.weight` under noGrad (a parametrized weight exports as its eval value).
 */
export const embeddingLowering = defineLowering({
  loweringVersion: 'v1',
  module: Embedding,
  lower: (module, [indices], ctx) => ctx.node('Gather', [ctx.parameter(noGrad(() => module.weight), 'weight'), indices!], [...indices!.shape, module.embeddingDim], { axis: { type: 'int', value: 0 } }),
});
