#!/usr/bin/env node
// Installing only what you need, as a user would: builds and packs every published @normkit package
// and checks each tarball (the repository's LICENSE, engines.node as at the root, every source its
// source maps name shipped: see pack.mjs). Then installs only the @normkit/tensor and @normkit/group
// tarballs into a temporary folder outside the workspace (no other @normkit package present, no
// network), typechecks consumer/train.ts against the installed types, compiles it and runs it: it
// trains a GroupNorm MLP and fails unless the loss halves. An error thrown inside each of the two
// packages, under --enable-source-maps, must name only files the user has. Then vite-check.mjs puts
// the @normkit/tensor tarball into a fresh Vite app and checks in Chromium that its WebAssembly
// backend loads in a page and a module worker under `vite dev` and `vite build`.
//
//   npm run pack-check -w @normkit/pack-check      (or: node tools/pack-check/run.mjs)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkNodeVersionDocs, packPackages, publishedPackages, root, run, verifyTarball } from './pack.mjs';
import { viteCheck } from './vite-check.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const keep = process.argv.includes('--keep');

/** Runs `source` as an ES module in `cwd` under --enable-source-maps and returns the stack it prints. */
function stackOf(cwd, source) {
  return execFileSync(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', source], { cwd, encoding: 'utf8', timeout: 30_000 });
}

/** The files a stack trace names inside node_modules/@normkit; each must exist, and at least one must be a shipped .ts source. */
function checkStack(app, label, stack) {
  const named = [...stack.matchAll(/(?:file:\/\/)?(\/[^\s():]*node_modules\/@normkit\/[^\s():]+):\d+:\d+/g)].map((m) => m[1]);
  if (named.length === 0) throw new Error(`${label}: the stack names no file of the package:\n${stack}`);
  const missing = named.filter((file) => !existsSync(file));
  if (missing.length > 0) throw new Error(`${label}: the stack names files that are not installed: ${missing.join(', ')}\n${stack}`);
  if (!named.some((file) => /\/src\/.+\.ts$/.test(file))) throw new Error(`${label}: the stack names no mapped .ts source:\n${stack}`);
  console.log(`${label}: the stack under --enable-source-maps names ${named.length} installed files, e.g. ${named[0].slice(app.length + 1)}`);
}

const folder = mkdtempSync(join(tmpdir(), 'normkit-pack-check-'));
try {
  const docs = checkNodeVersionDocs();
  if (docs.length > 0) throw new Error(`engines and the READMEs disagree:\n  ${docs.join('\n  ')}`);
  const published = publishedPackages();
  const tarballsByName = packPackages(published, join(folder, 'tarballs'));
  const problems = published.flatMap((name) => verifyTarball(tarballsByName.get(name), join(folder, 'unpacked', name)).map((p) => `${name}: ${p}`));
  if (problems.length > 0) throw new Error(`tarball check failed:\n  ${problems.join('\n  ')}`);
  const files = ['@normkit/tensor', '@normkit/group'].map((name) => tarballsByName.get(name));

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
  checkStack(app, '@normkit/tensor', stackOf(app, "import { randn, reshape } from '@normkit/tensor'; try { reshape(randn([2]), [3]); } catch (e) { console.log(e.stack); }"));
  checkStack(app, '@normkit/group', stackOf(app, "import { GroupNorm } from '@normkit/group'; try { new GroupNorm({ numGroups: 3, numChannels: 16 }); } catch (e) { console.log(e.stack); }"));
  console.log('@normkit/tensor and @normkit/group install, typecheck and train on their own');

  // A consumer's Vite app: the wasm backend in a page and a module worker, `vite dev` and `vite build`.
  const tensorTarball = tarballsByName.get('@normkit/tensor');
  await viteCheck({ root, folder, tensorTarball });
  console.log(`pack-check passed: ${published.length} tarballs carry the LICENSE, engines and the sources their maps name; @normkit/tensor and @normkit/group install, typecheck and train on their own, and @normkit/tensor runs on wasm in a Vite app (dev and build)`);
} finally {
  if (keep) console.log(`kept ${folder}`);
  else rmSync(folder, { recursive: true, force: true });
}
