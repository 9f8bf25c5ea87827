import { Generator, noGrad, randn, saveSafetensors, type Tensor } from '@normkit/tensor';
import type { EncodedTensor } from './fixtures';
import { trainedParityModel } from './model';

export interface NormkitExport {
  /** The model's state dict as safetensors. */
  bytes: Uint8Array;
  /** An input and normkit's eval output on it, for the torch-side check. */
  expected: { description: string; input: EncodedTensor; output: EncodedTensor };
}

/** Everything `npm run export-normkit` writes, computed in memory (deterministic: seeded). */
export function exportNormkitModel(): NormkitExport {
  const model = trainedParityModel('float32', 2024);
  const input = randn([5, 4], { generator: new Generator(7) });
  const output = noGrad(() => model.forward(input));
  return {
    bytes: saveSafetensors(model.stateDict(), { format: 'pt', producer: '@normkit/torch-parity export-normkit' }),
    expected: {
      description: 'normkit eval output of normkit-model.safetensors on input (float32 computation)',
      input: encode(input),
      output: encode(output),
    },
  };
}

function encode(t: Tensor): EncodedTensor {
  const bytes = Buffer.alloc(t.size * 8);
  for (let i = 0; i < t.size; i++) bytes.writeDoubleLE(t.data[i]!, i * 8);
  return { shape: [...t.shape], data: bytes.toString('base64') };
}
