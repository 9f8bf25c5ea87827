#!/usr/bin/env node
// Installing only what you need, as a user would: builds and packs @normkit/tensor and
// @normkit/group, installs the two tarballs into a temporary folder outside the workspace (no other
// @normkit package present, no network), typechecks consumer/train.ts against the installed types,
// compiles it and runs it: it trains a GroupNorm MLP and fails unless the loss halves. Then
// vite-check.mjs puts the @normkit/tensor tarball into a fresh Vite app and checks in Chromium that
// its WebAssembly backend loads in a page and a module worker under `vite dev` and `vite build`.
//
//   npm run pack-check -w @normkit/pack-check      (or: node tools/pack-check/run.mjs)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { viteCheck } from './vite-check.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const packages = ['@normkit/tensor', '@normkit/group'];
const keep = process.argv.includes('--keep');

function run(command, args, cwd) {
  console.log(`$ ${command} ${args.join(' ')}${cwd === root ? '' : `   (in ${cwd})`}`);
  execFileSync(command, args, { cwd, stdio: 'inherit', env: { ...process.env, npm_config_update_notifier: 'false' } });
}

const folder = mkdtempSync(join(tmpdir(), 'normkit-pack-check-'));
try {
  // Build in dependency order (group's .d.ts build reads tensor's), then pack.
  for (const name of packages) run('npm', ['run', 'build', '--workspace', name], root);
  const tarballs = join(folder, 'tarballs');
  mkdirSync(tarballs);
  run('npm', ['pack', ...packages.flatMap((name) => ['--workspace', name]), '--pack-destination', tarballs], root);
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz')).map((f) => join(tarballs, f));
  if (files.length !== packages.length) throw new Error(`expected ${packages.length} tarballs, got ${files.join(', ')}`);

  const app = join(folder, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-check-app', private: true, type: 'module' }, null, 2));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023', 'DOM'], strict: true,
      noUncheckedIndexedAccess: true, verbatimModuleSyntax: true, skipLibCheck: false, rootDir: 'src', outDir: 'dist', types: [],
    },
    include: ['src'],
  }, null, 2));
  copyFileSync(join(here, 'consumer', 'train.ts'), join(app, 'src', 'train.ts'));
  // Peer dependencies are enforced by npm: @normkit/group's peer @normkit/tensor must be satisfied by the tarball.
  run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...files], app);
  const installed = readdirSync(join(app, 'node_modules', '@normkit')).sort();
  if (installed.join(',') !== 'group,tensor') throw new Error(`expected only @normkit/group and @normkit/tensor installed, found ${installed.join(', ')}`);

  // Types: the consumer compiles against the installed dist/*.d.ts (no `source` condition, no workspace).
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], app);
  run(process.execPath, [join(app, 'dist', 'train.js')], app);
  console.log('@normkit/tensor and @normkit/group install, typecheck and train on their own');

  // A consumer's Vite app: the wasm backend in a page and a module worker, `vite dev` and `vite build`.
  const tensorTarball = files.find((f) => /normkit-tensor-[^/]*\.tgz$/.test(f));
  if (tensorTarball === undefined) throw new Error(`no @normkit/tensor tarball among ${files.join(', ')}`);
  await viteCheck({ root, folder, tensorTarball });
  console.log('pack-check passed: the tarballs install, typecheck and train on their own, and @normkit/tensor runs on wasm in a Vite app (dev and build)');
} finally {
  if (keep) console.log(`kept ${folder}`);
  else rmSync(folder, { recursive: true, force: true });
}
