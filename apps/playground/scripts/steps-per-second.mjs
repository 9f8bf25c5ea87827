// Steps per second of the playground's trainer (the code each run's Web Worker runs: createTrainer
// from @normkit/experiments, every family registered as src/plugins.ts does) on presets' first
// full-size runs, in Node, and optionally of another checkout of normkit in the same run, so that the
// two are timed on the same machine at the same time (alternating, one child process per timing:
// each checkout has its own registry and module state).
//
//   node apps/playground/scripts/steps-per-second.mjs [--against <checkout>] [--presets a,b] [--threads n]
//
// Both checkouts must be built (`npx turbo run build`). Each timing: a fresh trainer, 5 warm-up
// steps, then the best of three timings of 20 steps (steps per second = 20 / seconds). --rounds
// repeats the whole alternation (default 2). Prints a table and one JSON line per timing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repository = resolve(here, '../../..');
const DEFAULT_PRESETS = ['frn-batch-one', 'switchable-norm-selection', 'norm-free-residual'];
const WARMUP_STEPS = 5;
const TIMED_STEPS = 20;
const TIMINGS = 3;

function option(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

/** The child: times one preset's first run with the checkout at `root`, prints one JSON line. */
async function time(root, presetName, threads) {
  const load = (path) => import(pathToFileURL(join(root, path)).href);
  const tensor = await load('packages/tensor/dist/index.js');
  const experiments = await load('packages/experiments/dist/index.js');
  const { loadMnist } = await load('packages/experiments/dist/mnist.js');
  const families = await Promise.all(['batch', 'layer', 'group', 'weight', 'switchable', 'conditional', 'norm-free'].map((name) => load(`packages/${name}/dist/index.js`)));
  for (const family of families) {
    for (const [key, value] of Object.entries(family)) if (key.endsWith('Plugins') && Array.isArray(value)) tensor.registerAll(value);
  }
  const normFree = families[6];
  for (const wrapper of normFree.normFreeBlockWrappers ?? []) experiments.registerBlockWrapper(wrapper);
  const dyt = await load('examples/plugin-dyt/dist/index.js');
  tensor.registerAll([dyt.dynamicTanhPlugin]);
  if (threads !== undefined && typeof tensor.setNumThreads === 'function') tensor.setNumThreads(Number(threads));

  const preset = experiments.presets.find((p) => p.name === presetName);
  if (preset === undefined) throw new Error(`no preset named ${presetName} in ${root}`);
  const run = preset.plan('full').runs[0];
  const config = experiments.resolveConfig(run.config);
  const resources = experiments.datasets[config.dataset.name]?.requires === 'mnist' ? { mnist: await loadMnist() } : {};
  const trainer = experiments.createTrainer(config, resources, { keepHistory: false });
  trainer.run(WARMUP_STEPS);
  let best = Infinity;
  for (let i = 0; i < TIMINGS; i++) {
    const start = performance.now();
    trainer.run(TIMED_STEPS);
    best = Math.min(best, performance.now() - start);
  }
  const backend = typeof tensor.getBackend === 'function' ? tensor.getBackend() : 'js (no backends)';
  const usedThreads = typeof tensor.getNumThreads === 'function' ? tensor.getNumThreads() : 1;
  console.log(JSON.stringify({ root, preset: presetName, run: run.id, model: config.model.name, backend, threads: usedThreads, stepsPerSecond: (TIMED_STEPS * 1000) / best }));
}

async function main() {
  if (process.argv[2] === '--child') return time(process.argv[3], process.argv[4], process.argv[5] === '-' ? undefined : process.argv[5]);
  const against = option('against');
  const presets = option('presets', DEFAULT_PRESETS.join(',')).split(',');
  const rounds = Number(option('rounds', '2'));
  const threads = option('threads', '-');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number of rounds >= 1, got ${option('rounds')}`);
  if (threads !== '-' && !(Number.isInteger(Number(threads)) && Number(threads) >= 1)) throw new Error(`--threads: expected a thread count >= 1, got ${threads}`);
  const roots = [repository, ...(against === undefined ? [] : [resolve(against)])];
  for (const root of roots) {
    if (!existsSync(join(root, 'packages/experiments/dist/index.js'))) throw new Error(`${root} is not built: run npx turbo run build there`);
  }
  const results = [];
  for (let round = 0; round < rounds; round++) {
    for (const preset of presets) {
      for (const root of round % 2 === 0 ? roots : [...roots].reverse()) {
        const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', root, preset, threads], { encoding: 'utf8' });
        if (child.status !== 0) throw new Error(`timing ${preset} in ${root} failed:\n${child.stderr}`);
        const line = child.stdout.trim().split('\n').pop();
        console.log(line);
        results.push(JSON.parse(line));
      }
    }
  }
  console.log('\n| preset | run | model | ' + roots.map((r) => `${r === repository ? 'this checkout' : r} steps/s (per round)`).join(' | ') + (roots.length > 1 ? ' | ratio of bests |' : ''));
  console.log('|---|---|---|' + roots.map(() => '---:|').join('') + (roots.length > 1 ? '---:|' : ''));
  for (const preset of presets) {
    const of = (root) => results.filter((r) => r.preset === preset && r.root === root);
    const bests = roots.map((root) => Math.max(...of(root).map((r) => r.stepsPerSecond)));
    const first = of(roots[0])[0];
    const cells = roots.map((root, i) => `${bests[i].toFixed(1)} (${of(root).map((r) => r.stepsPerSecond.toFixed(1)).join(', ')}; ${of(root)[0].backend}, ${of(root)[0].threads} thread${of(root)[0].threads === 1 ? '' : 's'})`);
    console.log(`| ${preset} | ${first.run} | ${first.model} | ${cells.join(' | ')}${roots.length > 1 ? ` | ${(bests[0] / bests[1]).toFixed(2)}x |` : ''}`);
  }
}

await main();
