// The playground in a real browser: Debian's chromium driven by playwright-core (no browser is
// downloaded). Builds the app (from the packages' sources, `--mode source`, so no sibling build is
// needed), serves it with `vite preview` on a free port, trains, shares, breaks things on purpose,
// and saves screenshots under test-output/e2e/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build, preview, type PreviewServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrainer, decodeConfig, encodeConfig, type Classifier } from '@normkit/experiments';
import { Tensor, loadSafetensors, noGrad, parseSafetensors } from '@normkit/tensor';
import type { PlaygroundSnapshot } from '../src/app';
import { registerPlugins } from '../src/plugins';
import { threadsPerRun } from '../src/threads';
import { defaultPresetSelection, listPresets, presetConfigs, presetRuns } from '../src/presets';

const appRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outputDir = join(appRoot, 'test-output', 'e2e');
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0';

if (!haveChromium && !inCi) {
  console.warn(
    `[playground e2e] SKIPPED: no chromium at ${chromiumPath}. Install it with \`apt-get install -y chromium\` ` +
      '(or set CHROMIUM_PATH). With CI set, a missing chromium fails this test instead.',
  );
}

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

async function snapshot(page: Page): Promise<PlaygroundSnapshot> {
  return page.evaluate(() => (window as unknown as { normkitPlayground: { snapshot(): PlaygroundSnapshot } }).normkitPlayground.snapshot());
}

/** Polls the page's state until `done` holds (or fails with the last state after `timeoutMs`). */
async function waitForState(page: Page, done: (state: PlaygroundSnapshot) => boolean, what: string, timeoutMs = 60_000): Promise<PlaygroundSnapshot> {
  const start = Date.now();
  let state = await snapshot(page);
  while (!done(state)) {
    if (Date.now() - start > timeoutMs) {
      const runs = state.runs.map((r) => ({ ...r, stepLosses: r.stepLosses.length, views: { ...r.views, boundary: r.views.boundary && { ...r.views.boundary, points: r.views.boundary.points.length } } }));
      throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify({ ...state, runs })}`);
    }
    await page.waitForTimeout(100);
    state = await snapshot(page);
  }
  return state;
}

/** Uncaught errors of each page: the page must not throw while used. */
const uncaught = new WeakMap<Page, string[]>();

async function openPlayground(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  uncaught.set(page, errors);
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForSelector('body[data-app-ready="true"]');
  return page;
}

const pageErrors = (page: Page): string[] => uncaught.get(page) ?? [];

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Pixels of the chart's canvas close to `color` (anti-aliasing blends the edges of a line). */
async function pixelsOfColor(page: Page, chartId: string, color: string): Promise<number> {
  return page.evaluate(
    ({ chartId, color }) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`figure[data-chart="${chartId}"] canvas`);
      if (!canvas) return 0;
      const context = canvas.getContext('2d')!;
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      const target = [1, 3, 5].map((i) => Number.parseInt(color.slice(i, i + 2), 16));
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        const distance = Math.abs(data[i]! - target[0]!) + Math.abs(data[i + 1]! - target[1]!) + Math.abs(data[i + 2]! - target[2]!);
        if (distance < 60 && data[i + 3]! > 200) count++;
      }
      return count;
    },
    { chartId, color },
  );
}

/** The decision-boundary map canvas of run `run`, as RGBA bytes. */
async function mapPixels(page: Page, run: number): Promise<number[]> {
  return page.evaluate((run) => {
    const canvas = document.querySelector<HTMLCanvasElement>(`[data-run="${run}"] canvas.boundary-map`)!;
    return Array.from(canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data);
  }, run);
}

/**
 * The class whose colour a map pixel shows: cells are white blended towards their class's colour,
 * so the class is the one whose white-to-colour line passes nearest the pixel.
 */
function classOfPixel(pixel: readonly number[], classColors: readonly string[]): number {
  let best = -1;
  let bestDistance = Infinity;
  classColors.forEach((hex, c) => {
    const color = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
    const direction = color.map((v) => v - 255);
    const offset = pixel.slice(0, 3).map((v) => v - 255);
    const t = Math.max(0, offset.reduce((s, v, i) => s + v * direction[i]!, 0) / direction.reduce((s, v) => s + v * v, 0));
    const distance = Math.hypot(...offset.map((v, i) => v - t * direction[i]!));
    if (distance < bestDistance) [best, bestDistance] = [c, distance];
  });
  return best;
}

describe.skipIf(!haveChromium && !inCi)('playground in a real browser', () => {
  let server: PreviewServer;
  let context: BrowserContext;
  let baseUrl: string;
  let userDataDir: string;

  beforeAll(async () => {
    if (!haveChromium) {
      throw new Error(`chromium not found at ${chromiumPath}, and CI is set: the CI script must install it (apt-get install -y chromium)`);
    }
    rmSync(outputDir, { recursive: true, force: true });
    mkdirSync(outputDir, { recursive: true });
    const distDir = join(outputDir, 'dist');
    await build({ root: appRoot, mode: 'source', logLevel: 'warn', build: { outDir: distDir, emptyOutDir: true } });
    const port = await freePort();
    server = await preview({ root: appRoot, mode: 'source', logLevel: 'warn', build: { outDir: distDir }, preview: { port, strictPort: true, host: '127.0.0.1' } });
    baseUrl = server.resolvedUrls!.local[0]!;
    userDataDir = mkdtempSync(join(tmpdir(), 'normkit-playground-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 1000 },
      acceptDownloads: true,
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('trains two normalizers side by side, and the shared link reproduces the configuration', async () => {
    const page = await openPlayground(context, baseUrl);
    let state = await snapshot(page);
    expect(state.runs.map((r) => r.label)).toEqual(['A', 'B']);

    // Choose two normalizers from the generated pickers.
    await page.selectOption('[data-run="0"] select[data-field="norms.hidden"]', 'layer-norm');
    await page.selectOption('[data-run="1"] select[data-field="norms.hidden"]', 'batch-norm');
    // Every registered family is offered, the third-party plugin too.
    const offered = await page.$$eval('[data-run="0"] select[data-field="norms.hidden"] option', (options) => options.map((o) => (o as HTMLOptionElement).value));
    for (const name of ['none', 'batch-norm', 'layer-norm', 'rms-norm', 'group-norm', 'dynamic-tanh']) expect(offered).toContain(name);
    state = await waitForState(page, (s) => s.runs.every((r) => r.status === 'paused'), 'both runs to be built');
    // Each run's worker trains on the WebAssembly backend by default, and its card says so.
    expect(state.runs.map((r) => r.backend)).toEqual(['backend: wasm', 'backend: wasm']);
    expect(await page.textContent('[data-run="0"] .run-backend')).toBe('backend: wasm');
    expect(state.runs.map((r) => r.description)).toEqual([
      'hidden: layer-norm · mlp on two-spirals · batch 32 · lr 0.01',
      'hidden: batch-norm · mlp on two-spirals · batch 32 · lr 0.01',
    ]);

    // One step by hand, then play a few dozen and pause.
    await page.click('#step');
    await waitForState(page, (s) => s.runs.every((r) => r.completedSteps === 1), 'one step of each run');
    await page.click('#play');
    const early = await waitForState(page, (s) => s.runs.every((r) => r.completedSteps >= 30), '30 steps of each run');
    const late = await waitForState(page, (s) => s.runs.every((r) => r.completedSteps >= 120 && r.evals >= 4) && s.charts.loss!.points >= 16, '120 steps and 4 evaluations of each run');
    await page.click('#play'); // pause
    state = await waitForState(page, (s) => s.runs.every((r) => r.status === 'paused') && !s.playing, 'both runs to pause');

    // Both curves moved: more points, and each run's loss came down.
    expect(late.charts['batch-loss']!.lines).toBe(2);
    expect(late.charts['batch-loss']!.points).toBeGreaterThan(early.charts['batch-loss']!.points);
    for (const run of state.runs) {
      expect(run.problem).toBeNull();
      expect(mean(run.stepLosses.slice(-20))).toBeLessThan(mean(run.stepLosses.slice(0, 5)));
    }
    expect(state.charts['running-var']!.visible).toBe(true); // BatchNorm's running statistics (run B)
    // And they are on the canvas, in each run's colour.
    await page.waitForTimeout(300); // the last redraw
    expect(await pixelsOfColor(page, 'batch-loss', '#0072b2')).toBeGreaterThan(50);
    expect(await pixelsOfColor(page, 'batch-loss', '#d55e00')).toBeGreaterThan(50);
    await page.screenshot({ path: join(outputDir, 'playground.png'), fullPage: true });

    // The exports hold both runs.
    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    const csv = readFileSync((await csvDownload.path()), 'utf8');
    expect(csv.split('\n')[0]).toBe('run,kind,step,epoch,metric,value');
    expect(csv).toMatch(/^A,step,1,0,loss,/m);
    expect(csv).toMatch(/^B,eval,25,\d+,runningStats\.layers\.0\.norm\.batch-norm\.var\.0,/m);
    const [jsonDownload] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
    const json = JSON.parse(readFileSync((await jsonDownload.path()), 'utf8')) as { url: string; runs: Array<{ encodedConfig: string; steps: unknown[] }> };
    expect(json.runs.map((r) => r.encodedConfig)).toEqual(state.runs.map((r) => r.encodedConfig));
    expect(json.runs[0]!.steps.length).toBe(state.runs[0]!.completedSteps);
    const [svgDownload] = await Promise.all([page.waitForEvent('download'), page.click('figure[data-chart="loss"] button:has-text("SVG")')]);
    expect(readFileSync((await svgDownload.path()), 'utf8')).toMatch(/^<svg[\s\S]*A test[\s\S]*B train[\s\S]*<\/svg>$/);
    const [pngDownload] = await Promise.all([page.waitForEvent('download'), page.click('figure[data-chart="loss"] button:has-text("PNG")')]);
    expect(readFileSync((await pngDownload.path())).subarray(1, 4).toString('latin1')).toBe('PNG');

    // The link opens the same configuration in a new page.
    const shared = page.url();
    expect(shared).toMatch(/#run=v1\.[\w-]+&run=v1\.[\w-]+$/);
    expect(await page.inputValue('#share-link')).toBe(shared);
    const second = await openPlayground(context, shared);
    const reopened = await waitForState(second, (s) => s.runs.length === 2 && s.runs.every((r) => r.status === 'paused'), 'the shared runs to be built');
    expect(reopened.runs.map((r) => r.encodedConfig)).toEqual(state.runs.map((r) => r.encodedConfig));
    expect(await second.inputValue('[data-run="0"] select[data-field="norms.hidden"]')).toBe('layer-norm');
    expect(await second.inputValue('[data-run="1"] select[data-field="norms.hidden"]')).toBe('batch-norm');
    expect(reopened.messages).toEqual([]);

    // Reset starts every run over, and the same seed gives the same first losses.
    await page.click('#reset');
    await waitForState(page, (s) => s.runs.every((r) => r.status === 'paused' && r.completedSteps === 0) && !s.charts['batch-loss']!.visible, 'both runs to reset');
    await page.selectOption('#step-size', '10');
    await page.click('#step');
    const replayed = await waitForState(page, (s) => s.runs.every((r) => r.completedSteps === 10), 'ten steps after the reset');
    replayed.runs.forEach((run, i) => expect(run.stepLosses).toEqual(state.runs[i]!.stepLosses.slice(0, 10)));
    expect(pageErrors(page)).toEqual([]);
    expect(pageErrors(second)).toEqual([]);
    await second.close();
    await page.close();
  });

  it('shows what a BatchNorm MLP learned on two spirals, how fast it trains, and lets the model be taken away', async () => {
    const page = await openPlayground(context, baseUrl);
    await page.setViewportSize({ width: 1280, height: 800 });
    // Both runs built (workers started, models made, first views drawn) before the card layout is
    // clicked: once, in CI's busiest pass, the Remove button never settled while the cards were filling in.
    await waitForState(page, (s) => s.runs.length === 2 && s.runs.every((r) => r.status === 'paused'), 'both runs to be built');
    await page.click('[data-run="1"] button:has-text("Remove")');
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    // The removed run's cores go to the one left: its worker reports the new count a moment after the
    // removal, so the state is awaited with it (reading the first state after the removal raced it).
    const threadsAfterRemoval = `${threadsPerRun(cores, 1)} thread${threadsPerRun(cores, 1) === 1 ? '' : 's'}`;
    let state = await waitForState(
      page,
      (s) => s.runs.length === 1 && s.runs[0]!.status === 'paused' && s.runs[0]!.views.boundary !== null && s.runs[0]!.threads === threadsAfterRemoval,
      'run A with its first map and the removed run\'s cores',
    );
    expect(state.runs[0]!.description).toBe('hidden: batch-norm · mlp on two-spirals · batch 32 · lr 0.01');
    // Served with COOP/COEP: cross-origin isolated, and the cores go to the one active run.
    expect(state.crossOriginIsolated).toBe(true);
    expect(state.threadsNote).toBe(`Threads: ${cores} logical cores shared by 1 active run, ${threadsPerRun(cores, 1)} thread${threadsPerRun(cores, 1) === 1 ? '' : 's'} each.`);
    const each = threadsPerRun(cores, 1);
    expect(state.runs[0]!.threads).toBe(`${each} thread${each === 1 ? '' : 's'}`);
    expect(state.runs[0]!.configOpen).toBe(true);
    const initialMap = await mapPixels(page, 0);

    await page.click('#play');
    const early = await waitForState(page, (s) => (s.runs[0]!.views.boundary?.step ?? 0) >= 10, 'a map drawn while training');
    expect(early.runs[0]!.configOpen).toBe(false); // the form folded away once the run started
    const earlyMap = await mapPixels(page, 0);
    const trained = await waitForState(
      page,
      (s) => (s.runs[0]!.trainAccuracy ?? 0) > 0.95 && s.runs[0]!.views.boundary!.step > early.runs[0]!.views.boundary!.step && s.runs[0]!.speed !== null,
      'training accuracy above 95%',
      120_000,
    );
    await page.click('#play');
    // Paused, or finished when the run reached its last step (2,000 in its link) before the click landed: on
    // the wasm backend the whole run takes about 5 s, so the click races the end. Either way the map must
    // show the step the run stopped at.
    state = await waitForState(page, (s) => {
      const r = s.runs[0]!;
      const stopped = r.status === 'paused' || (r.status === 'done' && r.completedSteps === 2000);
      return stopped && r.views.boundary?.step === r.completedSteps;
    }, 'run A to stop (paused, or done at its 2,000th step) with a map of its last step');
    const run = state.runs[0]!;
    expect(trained.runs[0]!.speed).toMatch(/^\d+(\.\d+)? steps\/s$/);
    expect(Number.parseFloat(trained.runs[0]!.speed!)).toBeGreaterThan(0);
    expect(run.backend).toBe('backend: wasm');

    // The map changed while training.
    const finalMap = await mapPixels(page, 0);
    const changed = (a: number[], b: number[]): number => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);
    expect(changed(initialMap, earlyMap)).toBeGreaterThan(0);
    expect(changed(earlyMap, finalMap)).toBeGreaterThan(0);

    // Under the training points, the map shows the class the model predicts for them.
    const boundary = run.views.boundary!;
    expect(boundary.points.length).toBe(400);
    let agree = 0;
    for (const point of boundary.points) {
      const i = 4 * (Math.floor(point.py) * Math.sqrt(finalMap.length / 4) + Math.floor(point.px));
      if (classOfPixel(finalMap.slice(i, i + 4), boundary.classColors) === point.predicted) agree++;
    }
    console.log(`[playground e2e] map colour = predicted class under ${agree}/${boundary.points.length} training points at step ${boundary.step}; training accuracy ${(100 * run.trainAccuracy!).toFixed(1)}%; ${trained.runs[0]!.speed}; views took ${run.views.viewTime.viewMs.toFixed(0)} ms of ${(run.views.viewTime.trainMs + run.views.viewTime.viewMs).toFixed(0)} ms while playing (longest ${run.views.viewTime.longestViewMs.toFixed(0)} ms)`);
    expect(agree / boundary.points.length).toBeGreaterThanOrEqual(0.95);
    // The views took at most 10% of the worker's time while playing, give or take one view (the scheduler's
    // guarantee: it starts a view only when the last view's cost still fits, so one slower view can overshoot).
    const { trainMs, viewMs, longestViewMs } = run.views.viewTime;
    expect(longestViewMs).toBeGreaterThan(0);
    expect(viewMs).toBeLessThanOrEqual(0.1 * (trainMs + viewMs) + longestViewMs);

    // The histograms of the chosen layer, before and after its BatchNorm, with running statistics.
    expect(run.views.histogram).not.toBeNull();
    expect(run.views.histogram!.layers).toEqual(['layers.0.norm', 'layers.1.norm', 'layers.2.norm']);
    expect(run.views.histogram!.bars).toBeGreaterThan(10);
    expect(await page.locator('[data-run="0"] .histogram-plot circle.running').count()).toBe(64); // 32 channels x (mean, var)
    await page.selectOption('[data-run="0"] select.layer-select', 'layers.2.norm');
    await waitForState(page, (s) => s.runs[0]!.views.histogram?.layer === 'layers.2.norm', 'the histograms of layers.2.norm');

    // The map is in the exports.
    const [svgDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-run="0"] [data-export="boundary-svg"]')]);
    const svg = readFileSync(await svgDownload.path(), 'utf8');
    expect(svg).toContain(`Decision boundary at step ${boundary.step}`);
    expect(svg.match(/<circle /g)?.length).toBe(400);
    const [pngDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-run="0"] [data-export="boundary-png"]')]);
    expect(readFileSync(await pngDownload.path()).subarray(1, 4).toString('latin1')).toBe('PNG');

    // The weights: safetensors with PyTorch's key names, loaded back into normkit with the same predictions.
    const [weightsDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-run="0"] [data-download="safetensors"]')]);
    const weights = new Uint8Array(readFileSync(await weightsDownload.path()));
    const parsed = parseSafetensors(weights);
    expect(parsed.metadata?.step).toBe(String(boundary.step));
    const stateDict = loadSafetensors(weights);
    expect(Object.keys(stateDict)).toContain('layers.0.norm.batch-norm.running_mean');
    expect(Object.keys(stateDict)).toContain('layers.0.norm.batch-norm.num_batches_tracked');
    registerPlugins();
    const reloaded = createTrainer(decodeConfig(parsed.metadata!.config!), {}, { keepHistory: false }).model;
    reloaded.loadStateDict(stateDict);
    reloaded.eval();
    const inputs = Float32Array.from(boundary.points.flatMap((p) => [p.x, p.y]));
    const logits = noGrad(() => (reloaded as unknown as Classifier).forward({ x: new Tensor(inputs, [boundary.points.length, 2]) })).data;
    const predicted = boundary.points.map((_, r) => (logits[2 * r]! >= logits[2 * r + 1]! ? 0 : 1));
    expect(predicted).toEqual(boundary.points.map((p) => p.predicted));

    // ONNX: exported by the worker, run in onnxruntime-web in the page, and compared with the worker.
    const [onnxDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-run="0"] [data-download="onnx"]')]);
    expect(readFileSync(await onnxDownload.path()).length).toBeGreaterThan(1000);
    const checked = await waitForState(page, (s) => s.runs[0]!.views.onnx !== null || /No ONNX export/.test(s.runs[0]!.views.downloads ?? ''), 'the ONNX check in onnxruntime-web');
    const onnx = checked.runs[0]!.views.onnx;
    expect(checked.runs[0]!.views.downloads).toMatch(/downloaded and checked: onnxruntime-web gives this run's predictions/);
    expect(onnx).toMatchObject({ ok: true, rows: 64, sameClass: 64 });
    expect(onnx!.maxDiff).toBeLessThanOrEqual(onnx!.tolerance);

    // Layout: no horizontal scrolling on a laptop screen or a phone; screenshots for review.
    const overflow = (): Promise<number> => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(outputDir, 'boundary-1280x800.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await overflow()).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(outputDir, 'boundary-phone-390.png'), fullPage: true });
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('trains a CNN on the MNIST digits (fetched by the worker on demand) beside a Pre-LN Transformer on padded sequences', async () => {
    const page = await openPlayground(context, baseUrl);
    await page.selectOption('[data-run="0"] select[data-field="dataset"]', 'mnist');
    await page.selectOption('[data-run="0"] select[data-field="model"]', 'cnn');
    await page.selectOption('[data-run="0"] select[data-field="norms.conv"]', 'group-norm');
    const groups = page.locator('[data-run="0"] [data-path="norms.conv.options.numGroups"] input');
    await page.click('[data-run="0"] [data-details="norms.conv.options"] > summary');
    await groups.fill('4');
    await groups.blur();
    await page.selectOption('[data-run="1"] select[data-field="task"]', 'sequence-classification');
    await page.selectOption('[data-run="1"] select[data-field="model"]', 'transformer');
    await page.selectOption('[data-run="1"] select[data-field="norms.qk"]', 'qk-norm');
    const built = await waitForState(page, (s) => s.runs.every((r) => r.status === 'paused'), 'the MNIST and Transformer runs to be built', 120_000);
    expect(built.runs.map((r) => r.description)).toEqual([
      'conv: group-norm · cnn on mnist · batch 32 · lr 0.01',
      'block: layer-norm, qk: qk-norm · transformer on sequences · batch 32 · lr 0.01',
    ]);
    await page.click('#play');
    const trained = await waitForState(page, (s) => s.runs.every((r) => r.evals >= 1) && s.charts['max-logit']!.visible, 'an evaluation of each run', 120_000);
    await page.click('#play');
    expect(trained.runs.map((r) => r.problem)).toEqual([null, null]);
    expect(trained.charts['max-logit']!.lines).toBe(2); // one line per attention layer of run B
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outputDir, 'mnist-transformer.png'), fullPage: true });
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('loads a claims-lab preset into side-by-side runs', async () => {
    registerPlugins();
    // A preset on generated data (no MNIST), so the check is quick.
    const preset = listPresets().find((p) => (p.requires.resources ?? []).length === 0)!;
    const expected = presetConfigs(preset, defaultPresetSelection(preset)).map(encodeConfig);
    const page = await openPlayground(context, baseUrl);
    await page.click('#presets > summary');
    await page.selectOption('#preset', preset.name);
    expect(await page.locator('#presets .claim').textContent()).toContain(preset.claim.quote);
    const boxes = page.locator('#presets [data-preset-run]');
    expect(await boxes.count()).toBe(presetRuns(preset).length);
    await page.click('#load-preset');
    const loaded = await waitForState(page, (s) => s.runs.length === expected.length && s.runs.every((r) => r.status === 'paused'), 'the preset runs to be built');
    expect(loaded.runs.map((r) => r.encodedConfig)).toEqual(expected);
    expect(page.url()).toContain(`#run=${expected[0]}`);
    await page.click('#play');
    await waitForState(page, (s) => s.runs.every((r) => r.completedSteps >= 5 || r.status === 'diverged' || r.status === 'done'), 'the preset runs to train');
    await page.click('#play');
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outputDir, 'preset.png') });
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });

  it('explains a bad link, an out-of-range option and a normalizer failing mid-training, while the other runs keep going', async () => {
    // A link with one damaged run and one good one.
    const first = await openPlayground(context, baseUrl);
    const good = (await snapshot(first)).runs[0]!.encodedConfig!;
    await first.close();
    const page = await openPlayground(context, `${baseUrl}#run=v1.not*valid&run=${good}`);
    const state = await snapshot(page);
    expect(state.messages).toHaveLength(1);
    expect(state.messages[0]).toMatch(/^Run 1 of the link could not be loaded: decodeConfig: expected only letters, digits, "-" and "_"/);
    expect(await page.locator('#messages .message').first().isVisible()).toBe(true);
    expect(state.runs.map((r) => r.encodedConfig)).toEqual([good]);

    // An option outside its range: said at the field and on the card; the run keeps its config.
    await page.click('[data-run="0"] [data-details="norms.hidden.options"] > summary');
    const momentum = page.locator('[data-run="0"] [data-path="norms.hidden.options.momentum"]');
    await momentum.locator('input').fill('2');
    await momentum.locator('input').blur();
    await expect.poll(() => momentum.locator('.field-error').textContent()).toBe('momentum: expected a number >= 0 <= 1 (or null), got 2');
    expect(await momentum.locator('.field-error').isVisible()).toBe(true);
    const cardWarning = page.locator('[data-run="0"] .draft-problem');
    expect(await cardWarning.isVisible()).toBe(true);
    expect(await cardWarning.textContent()).toContain('Not applied: momentum: expected a number >= 0 <= 1 (or null), got 2');
    expect((await snapshot(page)).runs[0]!.encodedConfig).toBe(good);
    await momentum.locator('input').fill('0.2');
    await momentum.locator('input').blur();
    await expect.poll(async () => cardWarning.isVisible()).toBe(false);

    // A third run whose BatchNorm fails at batch size 1 once training starts.
    await page.click('#add-run');
    await page.click('#add-run');
    await page.selectOption('[data-run="2"] select[data-field="norms.hidden"]', 'batch-norm');
    const batchSize = page.locator('[data-run="2"] [data-path="training.batchSize"] input');
    await batchSize.fill('1');
    await batchSize.blur();
    await page.selectOption('[data-run="1"] select[data-field="norms.hidden"]', 'group-norm');
    await waitForState(page, (s) => s.runs.length === 3 && s.runs.every((r) => r.status === 'paused') && s.runs[2]!.description.includes('batch 1'), 'three runs to be built');
    await page.click('#play');
    const failed = await waitForState(page, (s) => s.runs[2]!.status === 'failed', 'run C to fail');
    expect(failed.runs[2]!.problem).toMatch(/^Failed at step 1, the other runs keep going\. ValueError: BatchNorm\.forward: expected more than 1 value per channel/);
    expect(await page.locator('[data-run="2"] .run-problem').isVisible()).toBe(true);
    const after = await waitForState(
      page,
      (s) => [0, 1].every((i) => s.runs[i]!.status === 'running' && s.runs[i]!.completedSteps >= failed.runs[i]!.completedSteps + 40),
      'runs A and B to keep training after C failed',
    );
    expect(after.runs[2]!.completedSteps).toBe(0);
    expect(after.playing).toBe(true);
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outputDir, 'errors.png'), fullPage: true });
    await page.click('#play');
    expect(pageErrors(page)).toEqual([]);
    await page.close();
  });
});
