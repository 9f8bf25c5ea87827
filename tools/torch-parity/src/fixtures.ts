import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Tensor, type DType, type StateDict } from '@normkit/tensor';

/** The fixture format written by generate.py. */
export const FIXTURE_FORMAT = 'normkit-torch-parity/1';

/** Every technique generate.py writes, one `<technique>.json` each. A missing one fails the suite. */
export const TECHNIQUES = [
  'batch-norm', 'sync-batch-norm', 'layer-norm', 'group-norm', 'instance-norm', 'rms-norm',
  'weight-norm', 'spectral-norm', 'gradient-clipping', 'torch-model',
] as const;
export type Technique = (typeof TECHNIQUES)[number];

export interface EncodedTensor {
  shape: number[];
  /** base64 of float64 little-endian bytes. */
  data: string;
}

export interface FixtureCase {
  name: string;
  description: string;
  config: Record<string, unknown>;
  tensors: Record<string, EncodedTensor>;
  /** Activation normalizers: training steps recorded as `train.<k>.*`. */
  trainSteps?: number;
  /** Activation normalizers: an `eval.*` step follows the training steps. */
  hasEval?: boolean;
  inputShape?: number[];
}

export interface Fixture {
  format: string;
  technique: Technique;
  description: string;
  torch: string;
  cases: FixtureCase[];
}

/** A fixture file that is missing, unreadable or malformed: the suite fails, it never skips. */
export class FixtureError extends Error {
  constructor(file: string, problem: string) {
    super(`torch-parity fixture ${file}: ${problem}. Regenerate with \`npm run generate -w @normkit/torch-parity\`.`);
    this.name = 'FixtureError';
  }
}

export function fixturePath(file: string): string {
  return fileURLToPath(new URL(`./__fixtures__/${file}`, import.meta.url));
}

export function readFixtureBytes(file: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(fixturePath(file)));
  } catch (error) {
    throw new FixtureError(file, `cannot be read (${(error as Error).message})`);
  }
}

/** Reads and validates `<technique>.json`; throws a FixtureError naming the problem. */
export function loadFixture(technique: Technique): Fixture {
  const file = `${technique}.json`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(readFixtureBytes(file)));
  } catch (error) {
    if (error instanceof FixtureError) throw error;
    throw new FixtureError(file, `is not valid JSON (${(error as Error).message})`);
  }
  const fixture = parsed as Partial<Fixture>;
  if (fixture.format !== FIXTURE_FORMAT) throw new FixtureError(file, `has format ${JSON.stringify(fixture.format)}, expected "${FIXTURE_FORMAT}"`);
  if (fixture.technique !== technique) throw new FixtureError(file, `is for technique ${JSON.stringify(fixture.technique)}`);
  if (!Array.isArray(fixture.cases) || fixture.cases.length === 0) throw new FixtureError(file, 'has no cases');
  for (const c of fixture.cases) {
    if (typeof c.name !== 'string' || typeof c.tensors !== 'object' || c.tensors === null) throw new FixtureError(file, 'has a case without name or tensors');
    for (const [key, entry] of Object.entries(c.tensors)) decodeTensor(entry, `${file} ${c.name} ${key}`);
  }
  return fixture as Fixture;
}

/** Decodes one tensor to float64 (or float32, rounding) and checks its length against its shape. */
export function decodeTensor(entry: EncodedTensor, label: string, dtype: DType = 'float64'): Tensor {
  if (!entry || !Array.isArray(entry.shape) || typeof entry.data !== 'string') throw new FixtureError(label, 'is not {shape, data}');
  const bytes = Buffer.from(entry.data, 'base64');
  const size = entry.shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== size * 8) throw new FixtureError(label, `holds ${bytes.length} bytes for shape [${entry.shape.join(', ')}] (expected ${size * 8})`);
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) values[i] = bytes.readDoubleLE(i * 8);
  return new Tensor(dtype === 'float64' ? values : Float32Array.from(values), entry.shape);
}

/** Typed access to one case's tensors; a missing name throws, naming the case. */
export class CaseTensors {
  constructor(
    readonly fixtureCase: FixtureCase,
    readonly dtype: DType,
  ) {}

  has(name: string): boolean {
    return name in this.fixtureCase.tensors;
  }

  get(name: string): Tensor {
    const entry = this.fixtureCase.tensors[name];
    if (!entry) throw new FixtureError(this.fixtureCase.name, `has no tensor "${name}" (has: ${Object.keys(this.fixtureCase.tensors).join(', ')})`);
    return decodeTensor(entry, `${this.fixtureCase.name} ${name}`, this.dtype);
  }

  /** Tensors named `<prefix>.<key>`, as a state dict keyed by `<key>`. */
  stateDict(prefix: string): StateDict {
    const dict: StateDict = {};
    for (const name of Object.keys(this.fixtureCase.tensors)) {
      if (name.startsWith(`${prefix}.`)) dict[name.slice(prefix.length + 1)] = this.get(name);
    }
    return dict;
  }
}

/** A case's config value, checked to be present. */
export function configValue<T>(fixtureCase: FixtureCase, key: string): T {
  if (!(key in fixtureCase.config)) throw new FixtureError(fixtureCase.name, `has no config "${key}"`);
  return fixtureCase.config[key] as T;
}
