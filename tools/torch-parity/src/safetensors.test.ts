import { createHash } from 'node:crypto';
import { Generator, loadSafetensors, noGrad, parseSafetensors, saveSafetensors } from '@normkit/tensor';
import { describe, expect, it } from 'vitest';
import { CaseTensors, FixtureError, decodeTensor, loadFixture, readFixtureBytes, type EncodedTensor } from './fixtures';
import { parityModel } from './model';
import { TOLERANCES, expectMatches } from './tolerance';

function readJson<T>(file: string): T {
  try {
    return JSON.parse(new TextDecoder().decode(readFixtureBytes(file))) as T;
  } catch (error) {
    if (error instanceof FixtureError) throw error;
    throw new FixtureError(file, `is not valid JSON (${(error as Error).message})`);
  }
}

describe('safetensors round trip with PyTorch', () => {
  it('a torch-trained model saved as safetensors (torch-model.safetensors) loads into normkit and gives torch outputs', () => {
    const bytes = readFixtureBytes('torch-model.safetensors');
    const fixtureCase = loadFixture('torch-model').cases[0]!;
    const tensors = new CaseTensors(fixtureCase, 'float32');
    const model = parityModel('float32', new Generator(0));
    model.loadStateDict(loadSafetensors(bytes)); // strict: every PyTorch key, every shape
    model.eval();
    const output = noGrad(() => model.forward(tensors.get('input')));
    expectMatches('model output', output, tensors.get('output'), TOLERANCES.float32.forward);
  });

  it("normkit's writer reproduces the file torch wrote byte for byte (same layout as the reference implementation)", () => {
    const bytes = readFixtureBytes('torch-model.safetensors');
    const { tensors, metadata } = parseSafetensors(bytes);
    expect(saveSafetensors(tensors, metadata ?? undefined)).toEqual(bytes);
  });

  it('the file normkit wrote (normkit-model.safetensors) was loaded by torch with the same outputs, and normkit still reads and writes it identically', () => {
    const bytes = readFixtureBytes('normkit-model.safetensors');
    const verdict = readJson<{ sha256: string; passed: boolean; maxAbsDifference: number; tolerance: number; keys: string[] }>('normkit-model.torch-check.json');
    // torch checked this very file (generate.py records its hash) and agreed with normkit's output.
    expect(createHash('sha256').update(bytes).digest('hex'), 'normkit-model.safetensors changed since torch checked it: run `npm run generate`').toBe(verdict.sha256);
    expect(verdict.passed).toBe(true);
    expect(verdict.maxAbsDifference).toBeLessThanOrEqual(verdict.tolerance);
    // normkit reads it into the same model, reproduces the output torch matched, and writes the same bytes.
    const { tensors, metadata } = parseSafetensors(bytes);
    expect(Object.keys(tensors).sort()).toEqual(verdict.keys);
    expect(saveSafetensors(tensors, metadata ?? undefined)).toEqual(bytes);
    const expected = readJson<{ input: EncodedTensor; output: EncodedTensor }>('normkit-model.json');
    const model = parityModel('float32', new Generator(0));
    model.loadStateDict(tensors);
    model.eval();
    const output = noGrad(() => model.forward(decodeTensor(expected.input, 'normkit-model.json input', 'float32')));
    expectMatches('normkit output on the exported model', output, decodeTensor(expected.output, 'normkit-model.json output'), TOLERANCES.float32.forward);
  });
});
