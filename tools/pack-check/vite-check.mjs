// A consumer's Vite app, outside the workspace, with the packed @normkit/tensor tarball and `vite`
// from the npm registry (the version the playground uses). Its page and a module Web Worker each run
// a LayerNorm-style forward + backward through `normalize` and report `getBackend()` and checksums;
// headless Chromium (Debian's, through the workspace's playwright-core) loads the page under
// `vite dev` and under `vite build` + `vite preview`, and both must report 'wasm' and the numbers
// Node computes from the same tarball. No configuration in the app: that is the point (issue 15).
//
// Called by run.mjs with the tarball it packed; every wait is bounded and every server is killed.
/* global fetch, AbortSignal, setTimeout */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];
const SERVER_START_MS = 30_000;
const PAGE_MS = 30_000;
/** The page and Node run the same wasm and float64 statistics; allow only rounding-level drift. */
const TOLERANCE = 1e-9;

function log(message) {
  console.log(`[vite-check] ${message}`);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Servers still running: killed on any exit, even an uncaught error's. */
const running = new Set();
process.on('exit', () => {
  for (const server of running) server.stop();
});

/** Starts `vite <args>` in its own process group so the whole tree can be killed. */
function startVite(app, args) {
  const child = spawn(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), ...args], {
    cwd: app, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const server = {
    child,
    output: () => output,
    stop() {
      running.delete(server);
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    },
  };
  running.add(server);
  return server;
}

async function waitForServer(url, server) {
  const deadline = Date.now() + SERVER_START_MS;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) throw new Error(`vite exited with ${server.child.exitCode} before serving:\n${server.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`vite did not serve ${url} within ${SERVER_START_MS} ms:\n${server.output()}`);
}

function checkReport(mode, report, expected) {
  const problems = [];
  for (const where of ['page', 'worker']) {
    const got = report[where];
    if (!got || 'error' in got) {
      problems.push(`${where}: ${got ? got.error : 'no result'}`);
      continue;
    }
    if (got.backend !== 'wasm') problems.push(`${where}: backend '${got.backend}', expected 'wasm'`);
    for (const key of ['output', 'gradX', 'gradWeight', 'chained']) {
      const difference = Math.abs(got[key] - expected[key]);
      if (!(difference <= TOLERANCE * Math.max(1, Math.abs(expected[key])))) {
        problems.push(`${where}: ${key} ${got[key]}, Node computed ${expected[key]}`);
      }
    }
  }
  if (problems.length > 0) throw new Error(`vite ${mode}: ${problems.join('; ')}`);
  log(`vite ${mode}: page and worker on ${report.page.backend}/${report.worker.backend}, checksums match Node`);
}

async function loadReport(context, url, mode) {
  const page = await context.newPage();
  const messages = [];
  page.on('console', (message) => messages.push(`console.${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => messages.push(`pageerror: ${error.message}`));
  try {
    await page.goto(url, { timeout: PAGE_MS });
    await page.waitForFunction(() => globalThis.__normkitReport !== undefined, null, { timeout: PAGE_MS });
    return await page.evaluate(() => globalThis.__normkitReport);
  } catch (error) {
    throw new Error(`vite ${mode}: no report from ${url} (${error.message})\n${messages.join('\n')}`, { cause: error });
  } finally {
    await page.close().catch(() => {});
  }
}

async function serveAndCheck(app, context, mode, args, expected) {
  const port = await freePort();
  const server = startVite(app, [...args, '--host', '127.0.0.1', '--port', String(port), '--strictPort']);
  try {
    const url = `http://127.0.0.1:${port}/`;
    await waitForServer(url, server);
    const report = await loadReport(context, url, mode);
    checkReport(mode, report, expected);
  } catch (error) {
    throw new Error(`${error.message}\n--- vite output ---\n${server.output()}`, { cause: error });
  } finally {
    server.stop();
  }
}

/**
 * @param {{ root: string, folder: string, tensorTarball: string }} options root: the repo (for
 *   playwright-core); folder: a temporary folder outside the workspace; tensorTarball: the packed
 *   @normkit/tensor.
 */
export async function viteCheck({ root, folder, tensorTarball }) {
  const started = Date.now();
  const app = join(folder, 'vite-app');
  mkdirSync(app, { recursive: true });
  cpSync(join(root, 'tools', 'pack-check', 'vite-app'), app, { recursive: true });
  // The exact vite the playground builds with here (its range in apps/playground/package.json).
  const viteVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'vite', 'package.json'), 'utf8')).version;
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-check-vite-app', private: true, type: 'module' }, null, 2));
  const npm = (args) => {
    log(`$ npm ${args.join(' ')}`);
    execFileSync('npm', args, {
      cwd: app, stdio: 'inherit', timeout: 180_000, env: { ...process.env, npm_config_update_notifier: 'false' },
    });
  };
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tensorTarball, `vite@${viteVersion}`]);

  // What the browser must match: the same code, the same tarball, in Node (whose default is wasm too).
  const expected = JSON.parse(execFileSync(process.execPath, [
    '--input-type=module', '-e', `import { compute } from ${JSON.stringify(pathToFileURL(join(app, 'src', 'compute.js')).href)}; console.log(JSON.stringify(compute()));`,
  ], { cwd: app, encoding: 'utf8', timeout: 30_000 }));
  if (expected.backend !== 'wasm') throw new Error(`Node reports backend '${expected.backend}' from the tarball, expected 'wasm'`);

  const { chromium } = await import(pathToFileURL(join(root, 'node_modules', 'playwright-core', 'index.mjs')).href);
  const profile = join(folder, 'chromium-profile');
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
  try {
    await serveAndCheck(app, context, 'dev', [], expected);
    log('$ vite build');
    execFileSync(process.execPath, [join(app, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--logLevel', 'warn'], {
      cwd: app, stdio: 'inherit', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' },
    });
    await serveAndCheck(app, context, 'build + preview', ['preview'], expected);
  } finally {
    await context.close().catch(() => {});
  }
  log(`passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

// Standalone: `node tools/pack-check/vite-check.mjs [--keep]` builds and packs @normkit/tensor itself.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { mkdtempSync, readdirSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { dirname, resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
  const folder = mkdtempSync(join(tmpdir(), 'normkit-vite-check-'));
  try {
    execFileSync('npm', ['run', 'build', '--workspace', '@normkit/tensor'], { cwd: root, stdio: 'inherit', timeout: 300_000 });
    execFileSync('npm', ['pack', '--workspace', '@normkit/tensor', '--pack-destination', folder], { cwd: root, stdio: 'inherit', timeout: 120_000 });
    const tarball = readdirSync(folder).find((f) => f.endsWith('.tgz'));
    await viteCheck({ root, folder, tensorTarball: join(folder, tarball) });
  } finally {
    if (process.argv.includes('--keep')) console.log(`kept ${folder}`);
    else rmSync(folder, { recursive: true, force: true });
  }
}
