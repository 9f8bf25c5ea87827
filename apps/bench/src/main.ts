// normkit bench: times every case in normkit and in each comparator within one run, then prints
// normkit's median and its ratio to each comparator. Usage: npm run bench [-- --only <substring>[,<substring>...]]
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getBackend, getNumThreads, setBackend, setNumThreads, threadSupport } from '@normkit/tensor';
import * as families from './cases/index';
import {
  comparatorNames, copyFloor, defaultTiming, floorInstances, formatTiming, measureFloor, measureOutcome, overheadTable, resultsTable, threadScalingTable, writeResults,
  type BenchCase, type CaseResult, type ComparatorName, type Outcome, type TimingOptions,
} from './harness';
import { scopedFactory, tfjsInfo, useTfjsBackend, type TfjsBackend } from './tfjs';
import { probeTorch, pythonExecutable, runTorch, type TorchRequest } from './torch';

const usage = `usage: npm run bench [-- --only <substring>[,<substring>...]]
  --only <substrings>  run only the cases whose "family/name" contains one of the comma-separated
                       substrings (case-insensitive), in the order of the full run`;

function parseArguments(argv: readonly string[]): { only: string | null } {
  let only: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i]!;
    if (argument === '--only' && argv[i + 1] !== undefined) {
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
  return { only };
}

interface SelectedCase {
  family: string;
  benchCase: BenchCase;
  timing: TimingOptions;
}

function selectCases(only: string | null): SelectedCase[] {
  const selected: SelectedCase[] = [];
  for (const [family, list] of Object.entries(families)) {
    const wanted = only === null ? null : only.split(',').map((part) => part.trim().toLowerCase()).filter((part) => part !== '');
    const matches = (benchCase: BenchCase) => wanted === null || wanted.some((part) => `${family}/${benchCase.name}`.toLowerCase().includes(part));
    // A selected case's baseline is selected too, so its overhead ratio can be reported.
    const baselines = new Set(list.filter(matches).map((benchCase) => benchCase.baseline).filter((name) => name !== undefined));
    for (const benchCase of list) {
      if (!matches(benchCase) && !baselines.has(benchCase.name)) continue;
      selected.push({ family, benchCase, timing: { ...defaultTiming, ...benchCase.timing } });
    }
  }
  return selected;
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

async function main(): Promise<void> {
  const { only } = parseArguments(process.argv.slice(2));
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

  const results: CaseResult[] = [];
  const skipped = (reason: string): Outcome => ({ status: 'skipped', reason });
  for (const [index, { family, benchCase, timing }] of selected.entries()) {
    console.log(`[${index + 1}/${selected.length}] ${family}/${benchCase.name} (${benchCase.elements.toLocaleString('en-US')} elements)`);
    // The floors run right before normkit, each the fastest of a few instances with their own freshly
    // compiled loop, so they see the machine as normkit does. 'floor' allocates its output per run like a normkit op (the table's
    // column); 'floor-pre' reuses one output (a pure memory pass, results file only); 'floor-copy' is an
    // allocating copy, new Float32Array(n).set(x) (results file only).
    const comparators = {} as Record<ComparatorName, Outcome>;
    const floorPreallocated = await timed('floor-pre', () => measureFloor(benchCase.elements, 'preallocated', timing));
    comparators.floor = await timed('floor', () => measureFloor(benchCase.elements, 'fresh', timing));
    const floorCopy = await timed('floor-copy', () => measureOutcome(() => copyFloor(benchCase.elements), { ...timing, targetMs: timing.targetMs / floorInstances }));
    // Each backend builds the case afresh (setup runs on the backend being timed).
    setBackend('js');
    const normkitJs = await timed('normkit js', () => measureOutcome(benchCase.normkit, timing));
    setBackend('wasm');
    const normkitOutcome = await timed('normkit', () => measureOutcome(benchCase.normkit, timing));
    let threads: Record<number, Outcome> | undefined;
    if (benchCase.threadScaling) {
      threads = { 1: normkitOutcome };
      for (const count of threadCounts.filter((n) => n > 1)) {
        setNumThreads(count);
        threads[count] = getNumThreads() === count
          ? await timed(`${count} threads`, () => measureOutcome(benchCase.normkit, timing))
          : { status: 'skipped', reason: `getNumThreads() is ${getNumThreads()}` };
      }
      setNumThreads(1);
    }
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
      family, name: benchCase.name, elements: benchCase.elements, normkit: normkitOutcome, normkitJs, comparators, floorPreallocated, floorCopy,
      ...(benchCase.baseline === undefined ? {} : { baseline: benchCase.baseline }),
      ...(threads === undefined ? {} : { threads }),
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
    normkit: { ...normkit, backends: ['wasm', 'js'] },
    tfjs: { ...(await tfjsInfo()), unavailable: backends },
    torch: torch.info,
    results,
  });
  console.log(`\nresults written to ${resultsPath}`);
}

await main();
