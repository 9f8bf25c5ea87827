import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchNorm } from '@normkit/batch';
import { parseSafetensors } from '@normkit/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let dir = '';

// torch's own nn.BatchNorm1d after 4 training batches, saved twice by normkit_torch: as PyTorch keeps
// it (num_batches_tracked I64) and for normkit (for_normkit: the counter as F64), with an eval output.
const SCRIPT = `
import sys, torch
from normkit_torch import safetensors as st
torch.manual_seed(0)
bn = torch.nn.BatchNorm1d(3, dtype=torch.float64)
for _ in range(4):
    bn(torch.randn(5, 3, dtype=torch.float64))
bn.eval()
x = torch.randn(2, 3, dtype=torch.float64)
state = dict(bn.state_dict(), **{"eval.input": x, "eval.output": bn(x).detach()})
st.save_file(state, sys.argv[1] + "/torch.safetensors")
st.save_file(st.for_normkit(state), sys.argv[1] + "/for-normkit.safetensors")
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'torch-handoff-int-'));
  execFileSync('/usr/bin/python3', ['-c', SCRIPT, dir], { env: { ...process.env, PYTHONPATH: join(ROOT, 'python', 'normkit_torch') }, stdio: 'pipe' });
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('integer buffers between PyTorch (int64) and normkit (float64 counters)', () => {
  it("normkit reads PyTorch's raw file (I64 counter) as float64 and gives torch's eval output, as after for_normkit", () => {
    const raw = parseSafetensors(readFileSync(join(dir, 'torch.safetensors'))).tensors;
    const converted = parseSafetensors(readFileSync(join(dir, 'for-normkit.safetensors'))).tensors;
    expect(raw.num_batches_tracked!.dtype).toBe('float64');
    expect(Array.from(raw.num_batches_tracked!.data)).toEqual([4]);
    expect(Object.keys(raw).sort()).toEqual(Object.keys(converted).sort());
    for (const [name, t] of Object.entries(converted)) expect(Array.from(raw[name]!.data), name).toEqual(Array.from(t.data));
    const bn = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    const { 'eval.input': x, 'eval.output': expected, ...state } = raw;
    bn.loadStateDict(state);
    bn.eval();
    const y = bn.forward(x!);
    Array.from(y.data).forEach((v, i) => expect(Math.abs(v - expected!.data[i]!)).toBeLessThanOrEqual(1e-12 + 1e-10 * Math.abs(expected!.data[i]!)));
  });

  it("after for_normkit, torch's BatchNorm state loads strictly into normkit's BatchNorm and gives torch's eval output", () => {
    const { tensors } = parseSafetensors(readFileSync(join(dir, 'for-normkit.safetensors')));
    expect(tensors.num_batches_tracked!.dtype).toBe('float64');
    expect(Array.from(tensors.num_batches_tracked!.data)).toEqual([4]);
    const bn = new BatchNorm({ numFeatures: 3, dtype: 'float64' });
    const { 'eval.input': x, 'eval.output': expected, ...state } = tensors;
    bn.loadStateDict(state);
    bn.eval();
    const y = bn.forward(x!);
    Array.from(y.data).forEach((v, i) => expect(Math.abs(v - expected!.data[i]!)).toBeLessThanOrEqual(1e-12 + 1e-10 * Math.abs(expected!.data[i]!)));
  });
});
