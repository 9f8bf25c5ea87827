// normkit claims lab: runs the claim experiments and writes lab-report/report.html + report.json.
// Usage: npm run lab [-- --only <names>] [--quick | --reduced] [--jobs <n>] [--out <dir>] [--list]
import { arch, cpus, platform } from 'node:os';
import { resolve } from 'node:path';
import { presets, presetSeeds, formatValue, type ExperimentResources } from '@normkit/experiments';
import { loadMnist } from '@normkit/experiments/mnist';
import { dataParallelRunner } from '@normkit/experiments/node';
import { USAGE, UsageError, parseArguments, selectPresets } from './cli';
import { runLab, type RunLabOptions } from './lab';
import { defaultJobs, runLabParallel, threadsPerJob } from './parallel';
import { registerLabPlugins } from './plugins';
import { ProgressPrinter, formatDuration, formatResult } from './progress';
import { writeReport } from './report-files';
import { TorchUnavailableError, pythonCommand, replicateInTorch, torchVersion } from './torch-replicate';
import { setNumThreads } from '@normkit/tensor';

async function main(): Promise<number> {
  let args;
  let selected;
  try {
    args = parseArguments(process.argv.slice(2));
    if (args.help) {
      console.log(USAGE);
      return 0;
    }
    selected = selectPresets(presets, args.only);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  const plugins = registerLabPlugins();
  if (args.list) {
    for (const preset of presets) console.log(`${preset.name.padEnd(28)} ${preset.title}`);
    return 0;
  }

  // Fail before the normkit runs, not after them, when PyTorch is missing.
  if (args.torch) {
    try {
      console.log(`PyTorch ${torchVersion(pythonCommand())} (${pythonCommand()}) will replicate the presets normkit-torch can run`);
    } catch (error) {
      if (!(error instanceof TorchUnavailableError)) throw error;
      console.error(error.message);
      return 2;
    }
  }
  const resources: ExperimentResources = {};
  if (selected.some((p) => p.requires.resources?.includes('mnist'))) resources.mnist = await loadMnist();
  // Data-parallel presets train on 2 worker threads (a child process the synchronous preset waits for).
  if (selected.some((p) => p.requires.resources?.includes('dataParallel'))) resources.dataParallel = dataParallelRunner(2);

  // npm runs the workspace script in apps/lab; INIT_CWD is where `npm run lab` was typed.
  const outDir = resolve(process.env.INIT_CWD ?? process.cwd(), args.out ?? 'lab-report');
  const cpu = cpus();
  const seedText = args.seeds === 'all' ? 'every declared seed' : args.seeds === 'one' ? 'one seed (--quick)' : 'two seeds';
  const jobs = args.jobs ?? defaultJobs(selected.reduce((n, preset) => n + presetSeeds(preset, args.seeds).length, 0));
  const threads = args.threads ?? threadsPerJob(jobs);
  console.log(
    `normkit claims lab: ${selected.length} experiment(s), ${args.mode} mode, ${seedText}, ` +
      `${jobs === 1 ? 'one at a time' : `${jobs} jobs at a time (worker threads; each seed is a job)`}, ${threads} kernel thread(s) each, report to ${outDir}`,
  );
  const printer = new ProgressPrinter((text) => process.stdout.write(text), process.stdout.isTTY === true);
  const labOptions: RunLabOptions = {
    presets: selected,
    mode: args.mode,
    seedPass: args.seeds,
    resources,
    environment: { node: process.version, platform: platform(), arch: arch(), cpu: cpu[0]?.model ?? 'unknown', cpuCount: cpu.length, plugins },
    onProgress: (event, position) => printer.handle(event, position),
    onResult: (result) => {
      for (const line of formatResult(result)) console.log(line);
    },
  };
  // In report order either way; in parallel a later experiment's lines wait until those before it are done.
  let report;
  if (jobs === 1) {
    setNumThreads(threads);
    report = runLab(labOptions);
  } else {
    report = await runLabParallel({
      ...labOptions, jobs, threads,
      onSchedule: (schedule) => {
        const seeds = schedule.reduce((n, job) => n + job.units.length, 0);
        const grouped = schedule.filter((job) => job.units.length > 1);
        console.log(
          `${seeds} seed(s) as ${schedule.length} job(s), longest first` +
            (grouped.length ? `; ${grouped.length} job(s) run seeds of several experiments that share a run, trained once` : ''),
        );
      },
    });
  }

  if (args.torch) {
    console.log('\nPyTorch: exporting each preset\'s declared configuration and training it again with normkit_torch.lab');
    report.torch = replicateInTorch(selected, report.claims, { mode: args.mode, resources });
    for (const r of report.torch.replications) console.log(`  ${r.preset.padEnd(28)} ${r.status === 'replicated' ? `${r.torchVerdict} (${r.verdictsAgree ? 'agrees' : 'DISAGREES'})` : r.status}: ${r.reason}`);
  }
  const paths = writeReport(report, outDir);

  console.log(`\n${'experiment'.padEnd(28)} ${'verdict'.padEnd(21)} runtime  key numbers`);
  for (const claim of report.claims) {
    const numbers = claim.criteria.filter((c) => c.kind === 'claim').map((c) => `${formatValue(c.measured)} (${c.comparison} ${formatValue(c.threshold)})`).join(', ');
    console.log(`${claim.name.padEnd(28)} ${claim.verdict.padEnd(21)} ${formatDuration(claim.runtimeMs).padStart(7)}  ${numbers}`);
  }
  console.log(`\ntotal ${formatDuration(report.runtimeMs)}; report: ${paths.html}\n                     data:   ${paths.json}`);
  if (args.mode === 'reduced') console.log('(reduced mode: the verdicts are not results)');
  return report.claims.some((c) => c.verdict === 'error') ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
