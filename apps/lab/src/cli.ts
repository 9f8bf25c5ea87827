// Command-line parsing and preset selection for `npm run lab` (kept apart from main.ts so tests can import it).
import type { ClaimPreset, PresetMode } from '@normkit/experiments';

export const USAGE = `usage: npm run lab [-- options]
  --only <names>   run only these experiments: comma-separated names, or parts of names
                   (repeatable; "--only rms" runs rms-norm-speed)
  --quick          run each experiment at its first seed only (the full lab runs every declared seed, 5 or more)
  --reduced        run every experiment for a few steps at two seeds (what CI runs; verdicts mean nothing)
  --torch          also run every preset whose parts exist in normkit-torch in PyTorch, from the same declared
                   configuration, and report both implementations side by side (/usr/bin/python3 with
                   python3-torch, or $NORMKIT_PYTHON)
  --jobs <n>       jobs run at a time, each in its own worker thread: a job is one seed of an experiment, or the
                   seeds of experiments that share a run (trained once); the longest go first (default: one per
                   core, as os.availableParallelism() counts them; 1 runs everything one after another in this process)
  --threads <n>    kernel threads per job (default: cores / jobs, at least 1)
  --out <dir>      write report.html and report.json there (default: lab-report/ where npm was started)
  --list           list the experiments and exit
  --help           this text`;

/** Which seeds a lab pass runs: 'all' declared seeds, 'one' (`--quick`), or the reduced pass's first two. */
export type SeedPass = 'all' | 'one' | 'reduced';

export interface LabArguments {
  only: string[];
  mode: PresetMode;
  seeds: SeedPass;
  out: string | null;
  list: boolean;
  help: boolean;
  /** Replicate the presets in PyTorch (normkit_torch.lab) and report both side by side. */
  torch: boolean;
  /** Jobs (seeds of experiments) at a time (`--jobs`); null: the default, one per core. */
  jobs: number | null;
  /** Kernel threads per job (`--threads`); null: cores / jobs. */
  threads: number | null;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseArguments(argv: readonly string[]): LabArguments {
  const parsed: LabArguments = { only: [], mode: 'full', seeds: 'all', out: null, list: false, help: false, torch: false, jobs: null, threads: null };
  const valueOf = (flag: string, index: number): string => {
    const value = argv[index + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return value;
  };
  const countOf = (flag: string, value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || !/^\d+$/.test(value)) throw new UsageError(`${flag} needs a whole number of at least 1, got '${value}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '--only') parsed.only.push(...valueOf('--only', i++).split(','));
    else if (argument.startsWith('--only=')) parsed.only.push(...argument.slice('--only='.length).split(','));
    else if (argument === '--out') parsed.out = valueOf('--out', i++);
    else if (argument.startsWith('--out=')) parsed.out = argument.slice('--out='.length);
    else if (argument === '--jobs') parsed.jobs = countOf('--jobs', valueOf('--jobs', i++));
    else if (argument.startsWith('--jobs=')) parsed.jobs = countOf('--jobs', argument.slice('--jobs='.length));
    else if (argument === '--threads') parsed.threads = countOf('--threads', valueOf('--threads', i++));
    else if (argument.startsWith('--threads=')) parsed.threads = countOf('--threads', argument.slice('--threads='.length));
    else if (argument === '--reduced') parsed.mode = 'reduced';
    else if (argument === '--quick') parsed.seeds = 'one';
    else if (argument === '--list') parsed.list = true;
    else if (argument === '--torch') parsed.torch = true;
    else if (argument === '--help' || argument === '-h') parsed.help = true;
    else throw new UsageError(`unknown argument '${argument}'`);
  }
  if (parsed.mode === 'reduced') {
    if (parsed.seeds === 'one') throw new UsageError('--quick and --reduced do not go together (--reduced already runs two seeds for a few steps)');
    parsed.seeds = 'reduced';
  }
  parsed.only = parsed.only.map((s) => s.trim()).filter((s) => s.length > 0);
  return parsed;
}

/**
 * The presets `only` asks for, in report order: an exact name selects that preset, anything else
 * every preset whose name contains it. A pattern that selects nothing is an error naming the choices.
 */
export function selectPresets(all: readonly ClaimPreset[], only: readonly string[]): ClaimPreset[] {
  if (only.length === 0) return [...all];
  const chosen = new Set<ClaimPreset>();
  for (const pattern of only) {
    const exact = all.find((p) => p.name === pattern);
    const matches = exact ? [exact] : all.filter((p) => p.name.includes(pattern.toLowerCase()));
    if (matches.length === 0) throw new UsageError(`no experiment matches '${pattern}'; the experiments are: ${all.map((p) => p.name).join(', ')}`);
    for (const match of matches) chosen.add(match);
  }
  return all.filter((p) => chosen.has(p));
}
