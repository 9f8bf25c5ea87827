/**
 * The safetensors format (Hugging Face), readable by `safetensors.torch.load_file`:
 *
 *   [8 bytes]  N, the header length, unsigned 64-bit little-endian
 *   [N bytes]  a UTF-8 JSON object {"__metadata__": {string: string}, name: {"dtype": "F32",
 *              "shape": [2, 3], "data_offsets": [begin, end]}, ...}, padded with spaces so the
 *              data starts at a multiple of 8
 *   [rest]     the tensors' raw little-endian row-major bytes; offsets count from the start of this
 *              buffer, and the tensors tile it exactly, without gaps or overlaps.
 *
 * The writer lays tensors out like the reference implementation: by dtype alignment, largest first
 * (F64 before F32), then by name, with `__metadata__` first in the header. So the bytes equal those
 * `safetensors.torch.save_file` writes for the same tensors.
 */
import type { DType } from '../dtype';
import { DTypeError, ValueError, formatShape, type ErrorDetails } from '../errors';
import type { StateDict } from '../nn/module';
import { Tensor } from '../tensor';

/** The safetensors dtypes this package writes (it also reads I64, as float64). */
export type SafetensorsDType = 'F32' | 'F64';

/** The safetensors dtypes this package reads: F32, F64, and I64 (PyTorch's integer counters) read as float64. */
export type SafetensorsReadDType = SafetensorsDType | 'I64';

/** A malformed safetensors file (truncated, bad header, bad offsets). Its `kind` is 'value'. */
export class SafetensorsError extends ValueError {
  override name = 'SafetensorsError';
  constructor(details: ErrorDetails, extra?: string) {
    super(details, extra);
  }
}

export interface SafetensorsFile {
  tensors: StateDict;
  /** The `__metadata__` string map, or null when the file has none. */
  metadata: Record<string, string> | null;
}

/** The header limit of the reference implementation: larger headers are refused as hostile. */
const MAX_HEADER_BYTES = 100_000_000;

interface StoredFormat {
  /** The normkit dtype the tensor is read into. */
  dtype: DType;
  bytes: number;
  /** Stored as signed 64-bit integers (read exactly into float64 up to 2^53 in magnitude). */
  integer?: boolean;
}

const FORMATS: Record<SafetensorsReadDType, StoredFormat> = {
  F32: { dtype: 'float32', bytes: 4 },
  F64: { dtype: 'float64', bytes: 8 },
  I64: { dtype: 'float64', bytes: 8, integer: true },
};

/** 2^53: float64 holds every integer of smaller magnitude exactly (Number.MAX_SAFE_INTEGER + 1). */
const EXACT_INTEGER_LIMIT = 2n ** 53n;

const LITTLE_ENDIAN_PLATFORM = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const utf8 = new TextEncoder();

/** Orders strings by their UTF-8 bytes, as Rust orders `String`s (JS `<` compares UTF-16 units). */
function compareUtf8(a: string, b: string): number {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const length = Math.min(x.length, y.length);
  for (let i = 0; i < length; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function toSafetensorsDType(dtype: DType): SafetensorsDType {
  return dtype === 'float64' ? 'F64' : 'F32';
}

/** Copies a typed array's elements out as little-endian bytes. */
function littleEndianBytes(data: Float32Array | Float64Array): Uint8Array {
  if (LITTLE_ENDIAN_PLATFORM) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const view = new DataView(out.buffer);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < data.length; i++) {
    if (width === 8) view.setFloat64(i * 8, data[i]!, true);
    else view.setFloat32(i * 4, data[i]!, true);
  }
  return out;
}

/**
 * Serializes tensors (a state dict) to safetensors bytes. `metadata` becomes `__metadata__`
 * (string values only, as the format requires), omitted when not given.
 *
 * @example
 * const bytes = saveSafetensors(model.stateDict(), { format: 'pt' });
 * fs.writeFileSync('model.safetensors', bytes);
 */
export function saveSafetensors(stateDict: StateDict, metadata?: Record<string, string>): Uint8Array {
  const op = 'saveSafetensors';
  if (metadata !== undefined) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new SafetensorsError({ op, expected: 'metadata values that are strings', given: `metadata["${key}"] = ${JSON.stringify(value)}` });
      }
    }
  }
  const entries = Object.entries(stateDict);
  for (const [name, t] of entries) {
    if (name === '__metadata__') {
      throw new SafetensorsError({ op, expected: 'tensor names other than the reserved "__metadata__"', given: 'a tensor named "__metadata__"' });
    }
    if (!(t instanceof Tensor)) {
      throw new SafetensorsError({ op, expected: 'a Tensor for every key', given: `"${name}" = ${String(t)}` });
    }
  }
  // The reference writer's order: larger element size first (alignment), then name by UTF-8 bytes.
  entries.sort(([a, ta], [b, tb]) => tb.data.BYTES_PER_ELEMENT - ta.data.BYTES_PER_ELEMENT || compareUtf8(a, b));

  // Written by hand, not JSON.stringify of one object: JS would enumerate integer-like names
  // ("0", "12") first, and the header order must follow the data order.
  const fields: string[] = [];
  if (metadata !== undefined) fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const [name, t] of entries) {
    const begin = offset;
    offset += t.data.byteLength;
    const info = { dtype: toSafetensorsDType(t.dtype), shape: [...t.shape], data_offsets: [begin, offset] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
  }
  const json = utf8.encode(`{${fields.join(',')}}`);
  const headerLength = Math.ceil(json.length / 8) * 8;
  const bytes = new Uint8Array(8 + headerLength + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, 8 + headerLength);
  let cursor = 8 + headerLength;
  for (const [, t] of entries) {
    bytes.set(littleEndianBytes(t.data), cursor);
    cursor += t.data.byteLength;
  }
  return bytes;
}

interface HeaderEntry {
  name: string;
  format: StoredFormat;
  shape: number[];
  begin: number;
  end: number;
}

/** A short rendering of a header value for error messages; never throws (nesting is bounded, see scanHeader). */
function describe(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) text = Array.isArray(value) ? 'an array' : typeof value === 'object' && value !== null ? 'an object' : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Deepest nesting a header may have. A valid header needs 3 (object, tensor entry, shape);
 * unknown fields may nest a little, but thousands of levels are hostile.
 */
const MAX_HEADER_DEPTH = 64;

const SPACE = 0x20;
const OPEN_BRACE = 0x7b;

/**
 * Checks the rules JSON.parse does not: nesting at most MAX_HEADER_DEPTH, no duplicate keys in
 * any object (JSON.parse keeps the last one silently), and only spaces after the closing brace.
 * Runs on text JSON.parse already accepted, iteratively (no recursion on hostile input).
 */
function scanHeader(op: string, text: string): void {
  const frames: Array<{ keys: Set<string> | null; expectKey: boolean }> = [];
  let end = -1;
  for (let i = 0; i < text.length && end < 0; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c /* \ */ ? 2 : 1;
      const top = frames[frames.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) {
          throw new SafetensorsError({ op, expected: 'a header with no duplicate keys (the format forbids them)', given: `duplicate key ${describe(key)}` });
        }
        top.keys.add(key);
        top.expectKey = false;
      }
      i = j;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (frames.length === MAX_HEADER_DEPTH) {
        throw new SafetensorsError({ op, expected: `a header nested at most ${MAX_HEADER_DEPTH} levels deep`, given: 'a deeper header' });
      }
      frames.push({ keys: c === 0x7b ? new Set() : null, expectKey: true });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      frames.pop();
      if (frames.length === 0) end = i + 1;
    } else if (c === 0x2c /* , */) {
      frames[frames.length - 1]!.expectKey = true;
    }
  }
  for (let i = end; i < text.length; i++) {
    if (text.charCodeAt(i) !== SPACE) {
      throw new SafetensorsError({
        op,
        expected: 'a JSON object header padded with spaces (0x20) only',
        given: `character ${JSON.stringify(text[i])} after the closing brace`,
      });
    }
  }
}

function parseEntry(op: string, name: string, raw: unknown): HeaderEntry {
  const fail = (expected: string, given: unknown): never => {
    throw new SafetensorsError({ op, expected: `tensor "${name}" to have ${expected}`, given: describe(given) });
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('an object {dtype, shape, data_offsets}', raw);
  const info = raw as Record<string, unknown>;
  const dtype = info.dtype;
  if (typeof dtype !== 'string') fail('a string dtype', dtype);
  if (!Object.hasOwn(FORMATS, dtype as string)) {
    throw new DTypeError({
      op,
      expected: `tensor "${name}" of dtype F32, F64 or I64 (normkit holds float32 and float64; I64 is read as float64)`,
      given: `dtype ${String(dtype)}`,
    });
  }
  const shape = info.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    fail('a shape of non-negative integers', shape);
  }
  const offsets = info.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)
  ) {
    fail('data_offsets [begin, end] of non-negative integers', offsets);
  }
  const [begin, end] = offsets as [number, number];
  return { name, format: FORMATS[dtype as SafetensorsReadDType], shape: shape as number[], begin, end };
}

/**
 * I64 values as float64, refusing any beyond 2^53 in magnitude: float64 would round them, and a
 * counter that silently changes is worse than an error.
 */
function readIntegers(op: string, entry: HeaderEntry, bytes: Uint8Array): Float64Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float64Array(bytes.length / 8);
  for (let i = 0; i < values.length; i++) {
    const v = view.getBigInt64(i * 8, true);
    if (v > EXACT_INTEGER_LIMIT || v < -EXACT_INTEGER_LIMIT) {
      throw new SafetensorsError({
        op,
        expected: `I64 tensor "${entry.name}" to hold integers of magnitude at most 2^53 (read as float64, which holds them exactly)`,
        given: `${v} at element ${i}`,
      });
    }
    values[i] = Number(v);
  }
  return values;
}

function readTensor(op: string, entry: HeaderEntry, data: Uint8Array): Tensor {
  const bytes = data.subarray(entry.begin, entry.end);
  if (entry.format.integer) return new Tensor(readIntegers(op, entry, bytes), entry.shape);
  const count = bytes.length / entry.format.bytes;
  let values: Float32Array | Float64Array;
  if (LITTLE_ENDIAN_PLATFORM) {
    // Copy into a fresh, aligned buffer: the data in the file need not be aligned (and a Node
    // Buffer's slice() would be a view into a shared pool, not a copy).
    const buffer = new Uint8Array(bytes).buffer;
    values = entry.format.dtype === 'float64' ? new Float64Array(buffer) : new Float32Array(buffer);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    values = entry.format.dtype === 'float64' ? new Float64Array(count) : new Float32Array(count);
    for (let i = 0; i < count; i++) {
      values[i] = entry.format.bytes === 8 ? view.getFloat64(i * 8, true) : view.getFloat32(i * 4, true);
    }
  }
  return new Tensor(values, entry.shape);
}

/**
 * Parses safetensors bytes into tensors and the `__metadata__` map, validating the file like the
 * reference reader and the format specification: header length within the file, a JSON object
 * header that begins with `{`, has no duplicate keys and is padded with spaces only, F32/F64/I64 tensors whose
 * byte ranges match their shapes and tile the data buffer exactly. Malformed files throw a
 * `SafetensorsError` naming the problem; other dtypes (F16, BF16, other integers) throw a `DTypeError`.
 *
 * I64 tensors (PyTorch's `num_batches_tracked` counters) are read as float64, the dtype normkit keeps
 * counters in: exact for magnitudes up to 2^53; a larger value throws a `SafetensorsError` naming the
 * tensor (nothing is returned). normkit writes counters back as F64; normkit-torch's
 * `to_module_dtypes` casts them to int64 before a strict PyTorch load.
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  const op = 'loadSafetensors';
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError({ op, expected: 'a Uint8Array (or Node Buffer) of file bytes', given: describe(bytes) });
  }
  if (bytes.length < 8) {
    throw new SafetensorsError({ op, expected: 'at least 8 bytes (the header length)', given: `${bytes.length} bytes; the file is truncated` });
  }
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError({ op, expected: `a header of at most ${MAX_HEADER_BYTES} bytes`, given: `a declared header of ${headerLength} bytes` });
  }
  const headerEnd = 8 + Number(headerLength);
  if (headerEnd > bytes.length) {
    throw new SafetensorsError({
      op,
      expected: `${headerLength} header bytes after the 8-byte length`,
      given: `${bytes.length - 8} bytes; the file is truncated (or not safetensors)`,
    });
  }
  // Checked on the bytes: TextDecoder would drop a byte order mark silently.
  if (bytes[8] !== OPEN_BRACE) {
    const first = bytes[8] === undefined ? 'an empty header' : `first byte 0x${bytes[8].toString(16).padStart(2, '0')}`;
    throw new SafetensorsError({ op, expected: 'a JSON object header that begins with "{" (byte 0x7b, no leading space or BOM)', given: first });
  }
  let header: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, headerEnd));
    header = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsError({ op, expected: 'a UTF-8 JSON header', given: `unparseable header (${(error as Error).message})` });
  }
  scanHeader(op, text);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new SafetensorsError({ op, expected: 'a JSON object header', given: describe(header) });
  }

  let metadata: Record<string, string> | null = null;
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw new SafetensorsError({ op, expected: '__metadata__ to be a map of strings to strings', given: describe(raw) });
      }
      metadata = { ...(raw as Record<string, string>) };
      continue;
    }
    entries.push(parseEntry(op, name, raw));
  }

  // The tensors must tile the data buffer: sorted by offset, each starts where the last ended.
  const dataLength = bytes.length - headerEnd;
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expectedBegin = 0;
  for (const entry of entries) {
    const elements = entry.shape.reduce((p, d) => p * d, 1);
    if (entry.end < entry.begin || entry.begin !== expectedBegin) {
      throw new SafetensorsError({
        op,
        expected: `tensor "${entry.name}" to start at byte ${expectedBegin} of the data (tensors tile it without gaps or overlaps)`,
        given: `data_offsets [${entry.begin}, ${entry.end}]`,
      });
    }
    if (entry.end - entry.begin !== elements * entry.format.bytes) {
      throw new SafetensorsError({
        op,
        expected: `tensor "${entry.name}" of shape ${formatShape(entry.shape)} to span ${elements * entry.format.bytes} bytes`,
        given: `data_offsets [${entry.begin}, ${entry.end}] (${entry.end - entry.begin} bytes)`,
      });
    }
    expectedBegin = entry.end;
  }
  if (expectedBegin !== dataLength) {
    throw new SafetensorsError({
      op,
      expected: `${expectedBegin} bytes of tensor data after the header (the last data offset)`,
      given: `${dataLength} bytes; the file is ${dataLength < expectedBegin ? 'truncated' : 'longer than its header says'}`,
    });
  }

  const data = bytes.subarray(headerEnd);
  // No prototype: a tensor named `__proto__` is stored like any other name.
  const tensors = Object.create(null) as StateDict;
  for (const entry of [...entries].sort((a, b) => compareUtf8(a.name, b.name))) {
    tensors[entry.name] = readTensor(op, entry, data);
  }
  return { tensors, metadata };
}

/**
 * Reads safetensors bytes into a state dict (tensors by name, float32 or float64 as stored).
 * Use `parseSafetensors` to also get the `__metadata__` map.
 *
 * @example
 * model.loadStateDict(loadSafetensors(new Uint8Array(fs.readFileSync('model.safetensors'))));
 */
export function loadSafetensors(bytes: Uint8Array): StateDict {
  return parseSafetensors(bytes).tensors;
}
