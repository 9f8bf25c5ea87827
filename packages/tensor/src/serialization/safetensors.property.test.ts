/**
 * Property-based and fuzz tests of the safetensors reader and writer, and of all-or-nothing state
 * loading. Seeded and bounded: each runs in well under a second or two in CI.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tensor } from '../creation';
import { shapeSize } from '../dtype';
import { isNormkitError } from '../errors';
import { Linear } from '../nn/linear';
import type { StateDict } from '../nn/module';
import { Sequential } from '../nn/sequential';
import type { Tensor } from '../tensor';
import { SafetensorsError, parseSafetensors, saveSafetensors } from './safetensors';

const RUNS = { seed: 20240917, numRuns: 120 };

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 });
const nameArb = fc.string({ unit: 'grapheme', minLength: 0, maxLength: 12 }).filter((n) => n !== '__metadata__');

/** A tensor with arbitrary bit patterns (NaN payloads, -0, infinities, subnormals). */
const tensorArb = fc.tuple(shapeArb, fc.boolean()).chain(([shape, f64]) => {
  const bytes = shapeSize(shape) * (f64 ? 8 : 4);
  return fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((raw) => {
    const buffer = new Uint8Array(raw).buffer;
    return tensor(f64 ? new Float64Array(buffer) : new Float32Array(buffer), { shape });
  });
});

const dictArb = fc.dictionary(nameArb, tensorArb, { maxKeys: 5 });
const metadataArb = fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), { nil: undefined });

function bytesOf(t: Tensor): number[] {
  return Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function withHeader(header: string, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function outcome(bytes: Uint8Array): 'ok' | Error {
  try {
    parseSafetensors(bytes);
    return 'ok';
  } catch (error) {
    return error as Error;
  }
}

describe('safetensors properties (fast-check, seeded)', () => {
  it('round-trips any dict of float32/float64 tensors bit for bit, with metadata, and rewrites identical bytes', () => {
    fc.assert(
      fc.property(dictArb, metadataArb, (dict, metadata) => {
        const bytes = saveSafetensors(dict, metadata);
        const file = parseSafetensors(bytes);
        expect(Object.keys(file.tensors).sort()).toEqual(Object.keys(dict).sort());
        for (const [name, t] of Object.entries(dict)) {
          const loaded = file.tensors[name]!;
          expect(loaded.shape).toEqual(t.shape);
          expect(loaded.dtype).toBe(t.dtype);
          expect(bytesOf(loaded)).toEqual(bytesOf(t));
        }
        expect(file.metadata).toEqual(metadata ?? null);
        expect(saveSafetensors(file.tensors, file.metadata ?? undefined)).toEqual(bytes);
      }),
      RUNS,
    );
  });

  it('refuses every generated malformed header with a SafetensorsError, and nothing else', () => {
    const entry = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
    const valid = `{"a":${entry}}`;
    const malformed = fc.oneof(
      // Something before the opening brace (space, tab, newline, BOM, another value).
      fc.constantFrom(' ', '\t', '\n', '\r', '\uFEFF', '[', '"', '0').map((prefix) => prefix + valid),
      // Anything but spaces after the closing brace.
      fc.string({ minLength: 1, maxLength: 4 }).filter((t) => /[^ ]/.test(t)).map((trailer) => valid + trailer),
      // Duplicate keys, at the top level, inside an entry, inside the metadata.
      fc.constantFrom(
        `{"a":${entry},"a":${entry}}`,
        '{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        `{"__metadata__":{"k":"1","k":"1"},"a":${entry}}`,
      ),
      // Nesting deeper than any header needs, anywhere.
      fc.integer({ min: 65, max: 3000 }).chain((depth) =>
        fc.constantFrom(
          `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":${'['.repeat(depth)}${']'.repeat(depth)}}}`,
          `{"__metadata__":{"k":${'{"k":'.repeat(depth)}1${'}'.repeat(depth)}},"a":${entry}}`,
        ),
      ),
      // Wrong types for the fields.
      fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.double(), { maxLength: 3 })).chain((junk) =>
        fc.constantFrom(
          `{"a":${JSON.stringify(junk)}}`,
          `{"a":{"dtype":"F32","shape":${JSON.stringify(junk)},"data_offsets":[0,4]}}`,
          `{"a":{"dtype":"F32","shape":[1],"data_offsets":${JSON.stringify(junk)}}}`,
          `{"__metadata__":{"k":${JSON.stringify(junk)}},"a":${entry}}`,
        ),
      ),
      // Truncated JSON.
      fc.integer({ min: 1, max: valid.length - 1 }).map((cut) => valid.slice(0, cut)),
    );
    fc.assert(
      fc.property(malformed, (header) => {
        const result = outcome(withHeader(header, new Uint8Array(4)));
        // A junk value may happen to be valid (shape [1] or [], offsets [0,4], metadata "k": "string"): only then may it load.
        if (result === 'ok') {
          expect(header).toMatch(/"k":"[^"]*"|"shape":\[1?\]|"data_offsets":\[0,4\]/);
          return;
        }
        expect(result).toBeInstanceOf(SafetensorsError);
      }),
      { ...RUNS, numRuns: 300 },
    );
  });

  it('a loadStateDict that throws changes nothing, one that returns loads everything', () => {
    const model = (): Sequential => new Sequential(new Linear({ inFeatures: 2, outFeatures: 3 }), new Linear({ inFeatures: 3, outFeatures: 1 }));
    const faults = fc.array(
      fc.record({
        key: fc.constantFrom('0.weight', '0.bias', '1.weight', '1.bias', 'extra'),
        fault: fc.constantFrom('drop', 'null', 'undefined', 'number', 'array', 'shape', 'short', 'dtype', 'none'),
      }),
      { maxLength: 3 },
    );
    fc.assert(
      fc.property(faults, fc.boolean(), (list, strict) => {
        const source = model();
        const target = model();
        const dict: Record<string, unknown> = { ...source.stateDict() };
        for (const { key, fault } of list) {
          const original = dict[key] as Tensor | undefined;
          const shape = original?.shape ?? [1];
          if (fault === 'drop') delete dict[key];
          else if (fault === 'null') dict[key] = null;
          else if (fault === 'undefined') dict[key] = undefined;
          else if (fault === 'number') dict[key] = 1;
          else if (fault === 'array') dict[key] = [1, 2];
          else if (fault === 'shape') dict[key] = tensor(new Float32Array(shapeSize(shape) + 1));
          else if (fault === 'short') dict[key] = Object.defineProperty(tensor(new Float32Array(shapeSize(shape)), { shape }), 'data', { value: new Float32Array(0) });
          else if (fault === 'dtype') dict[key] = tensor(new Float64Array(shapeSize(shape)).fill(0.25), { shape });
          else if (key === 'extra') dict[key] = tensor([1]);
        }
        const before = Object.entries(target.stateDict()).map(([k, t]) => [k, Array.from(t.data)]);
        let threw: unknown = null;
        try {
          target.loadStateDict(dict as StateDict, { strict });
        } catch (error) {
          threw = error;
        }
        if (threw !== null) {
          expect(isNormkitError(threw)).toBe(true);
          expect(Object.entries(target.stateDict()).map(([k, t]) => [k, Array.from(t.data)])).toEqual(before);
        } else {
          for (const [key, t] of Object.entries(target.stateDict())) {
            const given = dict[key] as Tensor | undefined;
            expect(Array.from(t.data)).toEqual(given === undefined ? before.find(([k]) => k === key)![1] : Array.from(given.data).map(Math.fround));
          }
        }
      }),
      { ...RUNS, numRuns: 200 },
    );
  });
});

/** mulberry32: a tiny seeded PRNG, so the fuzz corpus is the same on every run. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('safetensors fuzz (seeded, fixed budget)', () => {
  it('mutated valid files either load or throw a typed normkit error, never anything else', () => {
    const random = prng(0x5afe);
    const seeds = [
      saveSafetensors({ w: tensor([[1, 2, 3], [4, 5, 6]]), b: tensor([0.5], { dtype: 'float64' }) }, { format: 'pt' }),
      saveSafetensors({ 'layer.0.weight': tensor([1, 2, 3, 4], { shape: [2, 2] }), empty: tensor(new Float32Array(0), { shape: [0, 3] }) }),
      saveSafetensors({}),
    ];
    const interesting = [0x00, 0x20, 0x22, 0x2c, 0x30, 0x3a, 0x5b, 0x5d, 0x7b, 0x7d, 0xef, 0xff, 0x5c, 0x2d];
    const BUDGET = 3000;
    const outcomes = { loaded: 0, refused: 0 };
    for (let run = 0; run < BUDGET; run++) {
      const base = seeds[run % seeds.length]!;
      let bytes: Uint8Array = base.slice();
      const mutations = 1 + Math.floor(random() * 4);
      for (let m = 0; m < mutations; m++) {
        const at = Math.floor(random() * bytes.length);
        const kind = random();
        if (kind < 0.4) bytes[at] = interesting[Math.floor(random() * interesting.length)]!;
        else if (kind < 0.6) bytes[at] = Math.floor(random() * 256);
        else if (kind < 0.75) bytes = bytes.slice(0, at); // truncate
        else if (kind < 0.9) {
          // duplicate a slice of the header in place (keys, brackets)
          const length = 1 + Math.floor(random() * 12);
          const chunk = bytes.slice(at, at + length);
          const grown = new Uint8Array(bytes.length + chunk.length);
          grown.set(bytes.subarray(0, at));
          grown.set(chunk, at);
          grown.set(bytes.subarray(at), at + chunk.length);
          bytes = grown;
        } else if (bytes.length >= 8) {
          // rewrite the declared header length
          new DataView(bytes.buffer, bytes.byteOffset).setUint32(0, Math.floor(random() * (bytes.length + 16)), true);
        }
      }
      const result = outcome(bytes);
      if (result === 'ok') outcomes.loaded++;
      else {
        if (!isNormkitError(result)) throw new Error(`run ${run}: ${String(result)} for bytes ${Array.from(bytes).join(',')}`);
        outcomes.refused++;
      }
    }
    expect(outcomes.loaded + outcomes.refused).toBe(BUDGET);
    expect(outcomes.refused).toBeGreaterThan(BUDGET / 2);
  });
});
