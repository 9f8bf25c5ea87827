// Writes src/__fixtures__/normkit-model.safetensors (a normkit-trained model, float32) and
// normkit-model.json (an input and normkit's eval output on it). `npm run generate` then loads the
// file into the equivalent torch module and records the verdict in normkit-model.torch-check.json.
//
//   npm run export-normkit -w @normkit/torch-parity && npm run generate -w @normkit/torch-parity
import { writeFileSync } from 'node:fs';
import { fixturePath } from './fixtures';
import { exportNormkitModel } from './normkit-export';

const { bytes, expected } = exportNormkitModel();
writeFileSync(fixturePath('normkit-model.safetensors'), bytes);
writeFileSync(fixturePath('normkit-model.json'), `${JSON.stringify(expected, null, 1)}\n`);
console.log(`wrote normkit-model.safetensors (${bytes.length} bytes) and normkit-model.json`);
