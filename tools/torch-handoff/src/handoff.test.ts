import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@normkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { check, dtypesOf, fixtureName, loadCases } from './cases';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const spec = loadCases();
let dir = '';

// normkit_torch writes the fixtures in this run (about 4 s), so none can go stale; a failure to run
// Python fails every case below, it never skips.
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'torch-handoff-'));
  execFileSync('/usr/bin/python3', [join(ROOT, 'python', 'tests', 'handoff_harness.py'), 'produce', dir], { stdio: 'pipe', timeout: 120_000 });
}, 150_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('normkit replays fixtures written by normkit_torch (PyTorch)', () => {
  for (const c of spec.cases) {
    for (const dtype of dtypesOf(c)) {
      it(`${c.name} (${dtype})`, () => {
        const file = parseSafetensors(readFileSync(join(dir, fixtureName(c, dtype))));
        expect(file.metadata?.producer).toBe('normkit_torch');
        expect(JSON.parse(file.metadata!.case!)).toEqual(c);
        check(c, dtype, file.tensors, spec.lr);
      });
    }
  }
});
