// normkit bench: times every case in normkit and in each comparator within one run, then prints
// normkit's median and its ratio to each comparator. normkit is timed in a child process that loads only normkit
// (normkit-timer.ts), tfjs in this one, PyTorch in a Python process.
// Usage: npm run bench [-- --only <substring>[,<substring>...]] [--in-process]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getBackend, setNumThreads, threadSupport } from '@normkit/tensor';
import {
  comparatorNames, defaultTiming, formatTiming, measureOutcome, overheadTable, resultsTable, threadScalingTable, writeResults,
  type CaseResult, type ComparatorName, type Outcome,
} from './harness';
import { measureNormkitSide, type NormkitSide } from './normkit-side';
import { selectCases, type SelectedCase } from './select';
import { scopedFactory, tfjsInfo, useTfjsBackend, type TfjsBackend } from './tfjs';
import { probeTorch, pythonExecutable, runTorch, type TorchRequest } from './torch';

const usage = `usage: npm run bench [-- --only <substring>[,<substring>...]] [--in-process]
  --only <substrings>  run only the cases whose "family/name" contains one of the comma-separated
                       substrings (case-insensitive), in the order of the full run
  --in-process         time normkit in this process, beside tfjs, instead of in a child process that
                       loads only normkit (V8 then collects garbage differently: see the README)`;

function parseArguments(argv: readonly string[]): { only: string | null; inProcess: boolean } {
  let only: string | null = null;
  let inProcess = false;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '--in-process') {
      inProcess = true;
    } else if (argument === '--only' && argv[i + 1] !== undefined) {
      only = argv[++i]!;
    } else if (argument.startsWith('--only=')) {
      only = argument.slice('--only='.length);
    } else if (argument === '--help' || argument === '-h') {
      console.log(usage);
      process.exit(0);
    } else {
      console.error(`unknown argument '${argument}'\n${usage}`);
      process.exit(2);
    }
  }
  return { only, inProcess };
}

/** Where the normkit under test was loaded from, so a stale or source build shows up in the results. */
function normkitInfo(): { version: string; entry: string } {
  const entryUrl = import.meta.resolve('@normkit/tensor');
  const manifest = JSON.parse(readFileSync(new URL('../package.json', entryUrl), 'utf8')) as { version: string };
  return { version: manifest.version, entry: fileURLToPath(entryUrl) };
}

/** Prints the label before timing and the result after, so a slow implementation shows what is running. */
async function timed(label: string, measureIt: () => Outcome | Promise<Outcome>): Promise<Outcome> {
  process.stdout.write(`    ${label.padEnd(10)} `);
  const outcome = await measureIt();
  process.stdout.write(`${formatTiming(outcome)}\n`);
  return outcome;
}

/** Times every selected case that has a torch spec; the outcomes are keyed by "family/name". */
async function timeTorch(
  selected: readonly SelectedCase[],
): Promise<{ outcomes: Map<string, Outcome>; withoutOpenblasVariables: Map<string, Outcome>; info: Record<string, unknown> }> {
  const requests: TorchRequest[] = [];
  for (const { family, benchCase, timing } of selected) {
    if (benchCase.torch !== undefined) requests.push({ name: `${family}/${benchCase.name}`, spec: benchCase.torch, timing });
  }
  const allAs = (outcome: Outcome) => new Map(requests.map((request) => [request.name, outcome]));
  const probe = probeTorch();
  if (probe.version === null) {
    console.log(`torch skipped: ${probe.reason}`);
    return { outcomes: allAs({ status: 'skipped', reason: probe.reason }), withoutOpenblasVariables: new Map(), info: { skipped: probe.reason } };
  }
  const info: Record<string, unknown> = { version: probe.version, python: pythonExecutable };
  if (requests.length === 0) return { outcomes: new Map(), withoutOpenblasVariables: new Map(), info };
  console.log(`torch ${probe.version} (${pythonExecutable}, 1 thread): ${requests.length} case(s)`);
  try {
    const { outcomes, threads } = await runTorch(requests);
    info.threads = threads;
    // Again without this machine's OPENBLAS_* tuning variables, for the cases that scale threads (BLAS-bound).
    const scaled = requests.filter((request) => selected.some(({ family, benchCase }) => `${family}/${benchCase.name}` === request.name && benchCase.threadScaling));
    let withoutOpenblasVariables = new Map<string, Outcome>();
    if (scaled.length > 0) {
      const env = { ...process.env };
      const removed = Object.keys(env).filter((key) => key === 'OPENBLAS_CORETYPE' || key === 'OPENBLAS_L2_SIZE');
      for (const key of removed) delete env[key];
      info.openblasVariablesUnset = removed.length > 0 ? removed : 'none were set';
      console.log(`torch again with ${removed.length > 0 ? removed.join(', ') : 'no OPENBLAS_* variable'} unset: ${scaled.length} case(s)`);
      withoutOpenblasVariables = (await runTorch(scaled, env)).outcomes;
    }
    return { outcomes, withoutOpenblasVariables, info };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    console.log(`torch failed: ${reason}`);
    return { outcomes: allAs({ status: 'failed', reason }), withoutOpenblasVariables: new Map(), info: { ...info, failed: reason } };
  }
}

/**
 * Runs normkit-timer.js (the floors and every normkit timing of the selected cases) in a child process that
 * loads only normkit, its progress shown as it goes; returns its outcomes by "family/name".
 */
function timeNormkitInChild(only: string | null, threadCounts: readonly number[], cases: number): Record<string, NormkitSide> {
  console.log(`normkit: ${cases} case(s) in a child process that loads only normkit (--in-process times them here instead)`);
  const timer = fileURLToPath(new URL('./normkit-timer.js', import.meta.url));
  const child = spawnSync(process.execPath, [timer, '--only', only ?? '', '--threads', threadCounts.join(',')], {
    stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`the normkit timer failed (exit ${child.status ?? child.signal})`);
  // The outcomes are the last line; anything a case printed comes before it.
  const lines = child.stdout.trimEnd().split('\n');
  const outcomes = lines.pop() ?? '';
  if (lines.length > 0) console.log(lines.join('\n'));
  return JSON.parse(outcomes) as Record<string, NormkitSide>;
}

async function main(): Promise<void> {
  const { only, inProcess } = parseArguments(process.argv.slice(2));
  const selected = selectCases(only);
  if (selected.length === 0) {
    console.error(`no case matches '${only}'`);
    process.exit(1);
  }
  const normkit = normkitInfo();
  console.log(`normkit ${normkit.version} from ${normkit.entry}, default backend ${getBackend()} (each case is timed on js and on wasm)`);
  // The main columns are one thread, like PyTorch's; the thread-scaling table adds 2 and all cores.
  const support = threadSupport();
  const threadCounts = support.available ? [...new Set([1, 2, availableParallelism()])].sort((a, b) => a - b) : [1];
  console.log(`threads: main columns at 1; scaling cases at ${threadCounts.join(', ')}${support.available ? '' : ` (threads unavailable: ${support.reason})`}`);
  setNumThreads(1);
  console.log(`${selected.length} case(s); timing: warmup >= ${defaultTiming.warmupRuns} run(s) and ${defaultTiming.warmupMs} ms, `
    + `then ${defaultTiming.minRuns}-${defaultTiming.maxRuns} runs within ~${defaultTiming.targetMs} ms (per-case overrides apply)`);

  const backends: Record<TfjsBackend, string | null> = { cpu: null, wasm: null };
  for (const backend of ['cpu', 'wasm'] as const) {
    try {
      await useTfjsBackend(backend);
    } catch (error) {
      backends[backend] = error instanceof Error ? error.message : String(error);
      console.log(`tfjs-${backend} unavailable: ${backends[backend]}`);
    }
  }

  const sides = inProcess ? null : timeNormkitInChild(only, threadCounts, selected.length);
  const results: CaseResult[] = [];
  const skipped = (reason: string): Outcome => ({ status: 'skipped', reason });
  for (const [index, selectedCase] of selected.entries()) {
    const { family, benchCase, timing } = selectedCase;
    const key = `${family}/${benchCase.name}`;
    console.log(`[${index + 1}/${selected.length}] ${key} (${benchCase.elements.toLocaleString('en-US')} elements)`);
    const side = sides === null ? measureNormkitSide(selectedCase, threadCounts, (text) => process.stdout.write(text)) : sides[key];
    if (side === undefined) throw new Error(`the normkit timer returned no result for ${key}`);
    const comparators = { floor: side.floor } as Record<ComparatorName, Outcome>;
    for (const backend of ['cpu', 'wasm'] as const) {
      const factory = benchCase.tfjs;
      const unavailable = backends[backend];
      comparators[`tfjs-${backend}`] = await timed(`tfjs-${backend}`, async () => {
        if (factory === undefined) return skipped('no tfjs variant');
        if (unavailable !== null) return skipped(unavailable);
        await useTfjsBackend(backend);
        const scope = scopedFactory(factory);
        try {
          return measureOutcome(scope.make, timing);
        } finally {
          scope.dispose();
        }
      });
    }
    comparators.torch = skipped('not run yet');
    results.push({
      family, name: benchCase.name, elements: benchCase.elements, normkit: side.normkit, normkitJs: side.normkitJs, comparators,
      floorPreallocated: side.floorPreallocated, floorCopy: side.floorCopy,
      ...(benchCase.baseline === undefined ? {} : { baseline: benchCase.baseline }),
      ...(side.threads === undefined ? {} : { threads: side.threads }),
    });
  }

  // PyTorch runs last, in one Python process, so it never competes with the JS timings for a core.
  const torch = await timeTorch(selected);
  for (const result of results) {
    result.comparators.torch = torch.outcomes.get(`${result.family}/${result.name}`) ?? skipped('no torch variant');
    const unset = torch.withoutOpenblasVariables.get(`${result.family}/${result.name}`);
    if (result.threads !== undefined && unset !== undefined) result.torchWithoutOpenblasVariables = unset;
  }

  console.log('');
  console.log(resultsTable(results));
  const overheads = overheadTable(results);
  if (overheads !== '') console.log(`\n${overheads}`);
  const scaling = threadScalingTable(results);
  if (scaling !== '') console.log(`\n${scaling}`);
  const resultsPath = fileURLToPath(new URL('../results/latest.json', import.meta.url));
  writeResults(resultsPath, {
    date: new Date().toISOString(),
    only,
    environment: {
      node: process.version, platform: `${process.platform}-${process.arch}`, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length,
      availableParallelism: availableParallelism(), threadCounts,
    },
    timing: defaultTiming,
    comparators: comparatorNames,
    normkit: { ...normkit, backends: ['wasm', 'js'], timedIn: inProcess ? 'the bench process, beside tfjs' : 'a child process that loads only normkit' },
    tfjs: { ...(await tfjsInfo()), unavailable: backends },
    torch: torch.info,
    results,
  });
  console.log(`\nresults written to ${resultsPath}`);
}

await main();
