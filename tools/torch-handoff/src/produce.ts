/** Writes normkit's hand-off fixtures, `<case>.<dtype>.safetensors`, into the directory given (pytest runs this). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveSafetensors } from '@normkit/tensor';
import { dtypesOf, fixtureName, loadCases, produce } from './cases';

const outDir = process.argv[2];
if (!outDir) {
  console.error('usage: tsx --conditions=source src/produce.ts OUT_DIR');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const spec = loadCases();
spec.cases.forEach((c, index) => {
  dtypesOf(c).forEach((dtype, d) => {
    const tensors = produce(c, dtype, 2000 + 10 * index + d, spec.lr);
    const metadata = { producer: 'normkit', case: JSON.stringify(c), dtype };
    writeFileSync(join(outDir, fixtureName(c, dtype)), saveSafetensors(tensors, metadata));
  });
});
