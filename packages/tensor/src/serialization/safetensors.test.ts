import { describe, expect, it } from 'vitest';
import { fixtureBytes } from '../__fixtures__/nn-layers';
import { randn, tensor, zeros } from '../creation';
import { DTypeError, isNormkitError } from '../errors';
import { Linear } from '../nn/linear';
import { Sequential } from '../nn/sequential';
import type { Tensor } from '../tensor';
import { SafetensorsError, loadSafetensors, parseSafetensors, saveSafetensors } from './safetensors';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A file from a header string (padded as given) and raw data bytes, with the length prefix. */
function buildFile(header: string, data: Uint8Array = new Uint8Array(0), declaredLength?: number): Uint8Array {
  const json = encode(header);
  const bytes = new Uint8Array(8 + json.length + data.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(declaredLength ?? json.length), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.length);
  return bytes;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function headerOf(bytes: Uint8Array): string {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return new TextDecoder().decode(bytes.subarray(8, 8 + length));
}

describe('saveSafetensors', () => {
  it('writes the exact bytes of the format for a tiny tensor (length, JSON, space padding, little-endian data)', () => {
    const bytes = saveSafetensors({ attn0: tensor([0, 1, 2, 3, 4, 5], { shape: [1, 1, 2, 3] }) });
    const json = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}';
    expect(json.length).toBe(65); // padded with 7 spaces to 72, a multiple of 8
    const expected = [
      72, 0, 0, 0, 0, 0, 0, 0,
      ...encode(json), 32, 32, 32, 32, 32, 32, 32,
      0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    ];
    expect([...bytes]).toEqual(expected);
  });

  it('writes an empty dict as "{}" padded to 8 bytes, and metadata first', () => {
    expect([...saveSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMetadata = saveSafetensors({}, { framework: 'pt' });
    expect(headerOf(withMetadata)).toBe('{"__metadata__":{"framework":"pt"}}     ');
  });

  it('lays out F64 before F32, then by name, in the header and the data alike (integer-like names too)', () => {
    const bytes = saveSafetensors({ b: tensor([1]), '10': tensor([2]), a: tensor([3], { dtype: 'float64' }), '2': tensor([4]) });
    const header = JSON.parse(headerOf(bytes)) as Record<string, { data_offsets: number[] }>;
    expect(headerOf(bytes).indexOf('"a"')).toBeLessThan(headerOf(bytes).indexOf('"10"'));
    expect(headerOf(bytes).indexOf('"10"')).toBeLessThan(headerOf(bytes).indexOf('"2"'));
    expect(headerOf(bytes).indexOf('"2"')).toBeLessThan(headerOf(bytes).indexOf('"b"'));
    expect(header.a!.data_offsets).toEqual([0, 8]);
    expect(header['10']!.data_offsets).toEqual([8, 12]);
    expect(header['2']!.data_offsets).toEqual([12, 16]);
    expect(header.b!.data_offsets).toEqual([16, 20]);
  });

  it('refuses non-string metadata, the reserved name and non-tensors', () => {
    expect(() => saveSafetensors({}, { step: 3 as unknown as string })).toThrow(SafetensorsError);
    expect(() => saveSafetensors({}, { step: 3 as unknown as string })).toThrow(/metadata values that are strings/);
    expect(() => saveSafetensors({ __metadata__: tensor([1]) })).toThrow(/reserved "__metadata__"/);
    expect(() => saveSafetensors({ w: [1, 2] as unknown as Tensor })).toThrow(/a Tensor for every key/);
  });
});

describe('loadSafetensors', () => {
  it('round-trips float32 and float64 tensors of every rank exactly, with metadata', () => {
    const dict = {
      'layer.weight': randn([3, 4]),
      'layer.bias': randn([4], { dtype: 'float64' }),
      scalar: tensor(Math.PI, { dtype: 'float64' }),
      empty: zeros([0, 5]),
      special: tensor([Infinity, -Infinity, -0, 1e-40], { dtype: 'float32' }),
      nan: tensor([Number.NaN], { dtype: 'float64' }),
    };
    const file = parseSafetensors(saveSafetensors(dict, { format: 'pt', note: 'héllo ✓' }));
    expect(file.metadata).toEqual({ format: 'pt', note: 'héllo ✓' });
    expect(Object.keys(file.tensors).sort()).toEqual(Object.keys(dict).sort());
    for (const [name, t] of Object.entries(dict)) {
      const loaded = file.tensors[name]!;
      expect(loaded.dtype).toBe(t.dtype);
      expect(loaded.shape).toEqual(t.shape);
      expect([...loaded.data]).toEqual([...t.data]);
      expect(loaded.requiresGrad).toBe(false);
    }
    expect(Object.is(file.tensors.special!.data[2], -0)).toBe(true);
    expect(parseSafetensors(saveSafetensors(dict)).metadata).toBeNull();
  });

  it('round-trips a model state dict into a fresh model', () => {
    const model = new Sequential(new Linear({ inFeatures: 3, outFeatures: 4 }), new Linear({ inFeatures: 4, outFeatures: 2 }));
    const fresh = new Sequential(new Linear({ inFeatures: 3, outFeatures: 4 }), new Linear({ inFeatures: 4, outFeatures: 2 }));
    fresh.loadStateDict(loadSafetensors(saveSafetensors(model.stateDict())));
    const x = randn([5, 3]);
    expect([...fresh.forward(x).data]).toEqual([...model.forward(x).data]);
  });

  it('reads a file written by safetensors.torch.save_file, and rewrites it byte for byte', () => {
    const bytes = fixtureBytes('torch.safetensors');
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({ format: 'pt' });
    const { tensors } = file;
    expect(tensors['layer.weight']!.dtype).toBe('float32');
    expect(tensors['layer.weight']!.shape).toEqual([2, 3]);
    expect([...tensors['layer.weight']!.data]).toEqual([...Float32Array.from([1, -2, 3.5, 0.25, 1e-8, -0])]);
    expect([...tensors['layer.bias']!.data]).toEqual([...Float32Array.from([0.1, -0.2])]);
    expect(tensors.scale!.shape).toEqual([]);
    expect(tensors.scale!.item()).toBe(2);
    expect(tensors.running!.dtype).toBe('float64');
    expect([...tensors.running!.data]).toEqual([1 / 3, 2 ** -60, 1e300]);
    expect(tensors.empty!.shape).toEqual([0, 3]);
    expect([...saveSafetensors(tensors, { format: 'pt' })]).toEqual([...bytes]);
  });

  it('reads from a Node Buffer at an unaligned offset inside a shared pool', () => {
    const bytes = saveSafetensors({ w: tensor([1.5, -2.5], { dtype: 'float64' }), v: tensor([3, 4]) });
    const unaligned = Buffer.concat([Buffer.from([9, 9, 9]), Buffer.from(bytes)]).subarray(3);
    expect(unaligned.byteOffset % 8).not.toBe(0);
    const tensors = loadSafetensors(unaligned);
    expect([...tensors.w!.data]).toEqual([1.5, -2.5]);
    expect([...tensors.v!.data]).toEqual([3, 4]);
  });

  it('accepts tensors listed in any order in the header as long as their offsets tile the data', () => {
    const header = '{"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
    const tensors = loadSafetensors(buildFile(header, f32Bytes([1, 2])));
    expect(tensors.a!.item()).toBe(1);
    expect(tensors.b!.item()).toBe(2);
  });

  describe('refuses malformed files with a typed error saying what is wrong', () => {
    const valid = saveSafetensors({ w: tensor([1, 2, 3]) });
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['fewer than 8 bytes', new Uint8Array([1, 0, 0]), /at least 8 bytes.*got 3 bytes; the file is truncated/],
      ['a header longer than the file', valid.subarray(0, 20), /header bytes after the 8-byte length.*truncated/],
      ['a huge declared header', buildFile('{}', undefined, 2 ** 40), /a header of at most 100000000 bytes/],
      ['a header that is not JSON', buildFile('{"w": nope}'), /a UTF-8 JSON header/],
      ['a header that is not an object', buildFile('[1, 2]  '), /a JSON object header/],
      ['invalid UTF-8 in the header', (() => { const b = buildFile('{"w":1} '); b[10] = 0xff; return b; })(), /a UTF-8 JSON header/],
      ['truncated data', valid.subarray(0, valid.length - 4), /12 bytes of tensor data.*got 8 bytes; the file is truncated/],
      ['trailing bytes', new Uint8Array([...valid, 0, 0, 0, 0]), /longer than its header says/],
      ['a gap between tensors', buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes([1, 2])), /start at byte 0/],
      [
        'overlapping tensors',
        buildFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', f32Bytes([1, 2])),
        /tensor "b" to start at byte 8/,
      ],
      ['offsets that disagree with the shape', buildFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32Bytes([1, 2])), /span 12 bytes.*got data_offsets \[0, 8\]/],
      ['reversed offsets', buildFile('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', f32Bytes([1])), /start at byte 0/],
      ['non-integer offsets', buildFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,"4"]}}', f32Bytes([1])), /data_offsets \[begin, end\]/],
      ['a bad shape', buildFile('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', f32Bytes([1])), /a shape of non-negative integers/],
      ['a non-object entry', buildFile('{"a":3}'), /tensor "a" to have an object/],
      ['non-string metadata', buildFile('{"__metadata__":{"step":3}}'), /__metadata__ to be a map of strings to strings/],
    ];
    for (const [name, bytes, message] of cases) {
      it(name, () => {
        let error: unknown;
        try {
          loadSafetensors(bytes);
        } catch (caught) {
          error = caught;
        }
        expect(error).toBeInstanceOf(SafetensorsError);
        expect(isNormkitError(error)).toBe(true);
        expect((error as Error).message).toMatch(/^loadSafetensors: expected /);
        expect((error as Error).message).toMatch(message);
      });
    }
  });

  describe('follows the header rules of the format specification', () => {
    const catchError = (bytes: Uint8Array): unknown => {
      try {
        loadSafetensors(bytes);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const deep = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);

    it.each([
      ['a dtype', (d: string) => `{"a":{"dtype":${d},"shape":[0],"data_offsets":[0,0]}}`],
      ['a shape', (d: string) => `{"a":{"dtype":"F32","shape":${d},"data_offsets":[0,0]}}`],
      ['data_offsets', (d: string) => `{"a":{"dtype":"F32","shape":[0],"data_offsets":${d}}}`],
      ['a metadata value', (d: string) => `{"__metadata__":{"k":${d}}}`],
      ['an unknown field', (d: string) => `{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0],"x":${d}}}`],
    ])('refuses thousands of nesting levels inside %s with a SafetensorsError, not a stack overflow', (_where, header) => {
      const error = catchError(buildFile(header(deep(20_000))));
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message).toMatch(/nested at most/);
    });

    it('refuses a header that does not begin with "{" (leading space, BOM, newline)', () => {
      for (const prefix of [' ', '\uFEFF', '\n', '\t']) {
        const error = catchError(buildFile(`${prefix}{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, f32Bytes([1])));
        expect(error).toBeInstanceOf(SafetensorsError);
        expect((error as Error).message).toMatch(/begins with "\{"/);
      }
    });

    it('refuses duplicate keys at any level, also when spelled with escapes', () => {
      const headers = [
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        '{"a":{"dtype":"F64","dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        '{"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
        '{"__metadata__":{},"__metadata__":{},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
      ];
      for (const header of headers) {
        const error = catchError(buildFile(header, f32Bytes([1])));
        expect(error, header).toBeInstanceOf(SafetensorsError);
        expect((error as Error).message).toMatch(/no duplicate keys.*duplicate key "(a|dtype|k|__metadata__)"/);
      }
    });

    it('accepts trailing space padding, and nothing else after the object', () => {
      const header = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}';
      expect(loadSafetensors(buildFile(`${header}       `, f32Bytes([7]))).a!.item()).toBe(7);
      expect(loadSafetensors(buildFile(header, f32Bytes([7]))).a!.item()).toBe(7);
      for (const trailer of ['\n', '\t ', ' \r\n']) {
        const error = catchError(buildFile(`${header}${trailer}`, f32Bytes([7])));
        expect(error, JSON.stringify(trailer)).toBeInstanceOf(SafetensorsError);
        expect((error as Error).message).toMatch(/padded with spaces/);
      }
    });

    it('formats errors about huge or odd values without throwing anything but a SafetensorsError', () => {
      const wide = `[${Array.from({ length: 50_000 }, () => '"x"').join(',')}]`;
      const error = catchError(buildFile(`{"a":{"dtype":"F32","shape":${wide},"data_offsets":[0,0]}}`));
      expect(error).toBeInstanceOf(SafetensorsError);
      expect((error as Error).message.length).toBeLessThan(400);
    });
  });

  it('refuses dtypes other than F32/F64/I64 with a DTypeError naming the tensor and dtype', () => {
    const half = buildFile('{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4));
    expect(() => loadSafetensors(half)).toThrow(DTypeError);
    expect(() => loadSafetensors(half)).toThrow(
      'loadSafetensors: expected tensor "h" of dtype F32, F64 or I64 (normkit holds float32 and float64; I64 is read as float64), got dtype F16',
    );
    const bf16 = buildFile('{"h":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', new Uint8Array(2));
    expect(() => loadSafetensors(bf16)).toThrow(/got dtype BF16/);
    const i32 = buildFile('{"h":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4));
    expect(() => loadSafetensors(i32)).toThrow(/got dtype I32/);
  });
});

/** A file holding one I64 tensor of `values`, padded like the reference writer. */
function i64File(name: string, shape: number[], values: bigint[]): Uint8Array {
  let header = `{"${name}":{"dtype":"I64","shape":${JSON.stringify(shape)},"data_offsets":[0,${values.length * 8}]}}`;
  header += ' '.repeat((8 - (header.length % 8)) % 8);
  const data = new Uint8Array(values.length * 8);
  const view = new DataView(data.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  return buildFile(header, data);
}

describe('I64 tensors (PyTorch integer buffers such as num_batches_tracked)', () => {
  it('reads a scalar counter as a float64 tensor of the same shape and value', () => {
    const loaded = loadSafetensors(i64File('bn.num_batches_tracked', [], [7n]));
    const t = loaded['bn.num_batches_tracked']!;
    expect(t.dtype).toBe('float64');
    expect(t.shape).toEqual([]);
    expect(Array.from(t.data)).toEqual([7]);
  });

  it('reads negative values and the exact limits +-2^53', () => {
    const limit = 2n ** 53n;
    const t = loadSafetensors(i64File('c', [2, 2], [-3n, 0n, limit, -limit]))['c']!;
    expect(t.shape).toEqual([2, 2]);
    expect(Array.from(t.data)).toEqual([-3, 0, 2 ** 53, -(2 ** 53)]);
  });

  it('refuses a value beyond 2^53 in magnitude with a SafetensorsError naming the tensor, the value and its index', () => {
    const big = 2n ** 53n + 1n;
    for (const v of [big, -big, 2n ** 63n - 1n]) {
      const bytes = i64File('steps', [3], [1n, 2n, v]);
      expect(() => loadSafetensors(bytes)).toThrow(SafetensorsError);
      expect(() => loadSafetensors(bytes)).toThrow(`loadSafetensors: expected I64 tensor "steps" to hold integers of magnitude at most 2^53`);
      expect(() => loadSafetensors(bytes)).toThrow(`got ${v} at element 2`);
    }
  });

  it('reads a file mixing F32, F64 and I64 tensors, and writes the counter back as F64', () => {
    // The layout torch's state_dict of a float32 BatchNorm1d(2) gives (I64 and F32).
    const header = [
      '"num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}',
      '"running_mean":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}',
    ].join(',');
    const data = new Uint8Array(16);
    new DataView(data.buffer).setBigInt64(0, 4n, true);
    data.set(f32Bytes([0.5, -1]), 8);
    const loaded = loadSafetensors(buildFile(`{${header}}`, data));
    expect(loaded['num_batches_tracked']!.dtype).toBe('float64');
    expect(Array.from(loaded['running_mean']!.data)).toEqual([0.5, -1]);
    expect(headerOf(saveSafetensors(loaded))).toContain('"num_batches_tracked":{"dtype":"F64","shape":[]');
  });

  it('checks the byte length of I64 tensors like any other (8 bytes per element)', () => {
    const short = buildFile('{"c":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}', new Uint8Array(8));
    expect(() => loadSafetensors(short)).toThrow(SafetensorsError);
    expect(() => loadSafetensors(short)).toThrow(/to span 16 bytes/);
  });
});

describe('names that are also Object.prototype members', () => {
  it('stores a tensor named __proto__ or constructor like any other name', () => {
    const dict = Object.create(null) as Record<string, Tensor>;
    dict['__proto__'] = tensor([1, 2]);
    dict['constructor'] = tensor([3]);
    const loaded = loadSafetensors(saveSafetensors(dict));
    expect(Object.keys(loaded).sort()).toEqual(['__proto__', 'constructor']);
    expect(Array.from(loaded['__proto__']!.data)).toEqual([1, 2]);
    expect(Object.getPrototypeOf(loaded)).toBe(null);
  });

  it('loadStateDict does not take inherited members for keys', () => {
    const model = new Sequential(new Linear({ inFeatures: 2, outFeatures: 1 }));
    const inherited = Object.create({ '0.weight': zeros([1, 2]) }) as Record<string, Tensor>;
    inherited['0.bias'] = zeros([1]);
    expect(() => model.loadStateDict(inherited)).toThrow(/missing key "0.weight"/);
  });
});
