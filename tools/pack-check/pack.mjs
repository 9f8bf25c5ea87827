// Packing the published @normkit packages as a user would receive them, and checking each tarball:
// shared by run.mjs (the pack check) and tools/plugin-guide-check (the plugin-authoring guide, followed
// outside the workspace).
//
// packPackages builds the named packages with turbo (cached when CI has just built them) and runs
// `npm pack` on them (each package's prepack copies the root LICENSE in). verifyTarball checks one
// tarball: its LICENSE is the repository's, `engines.node` is the root's, and every source a shipped
// source map names is in the tarball (stack traces under --enable-source-maps must name files the user has).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Every package a user can install: the workspace packages under packages/ that are not private. */
export function publishedPackages() {
  return readdirSync(join(root, 'packages'))
    .map((dir) => join(root, 'packages', dir, 'package.json'))
    .filter((file) => existsSync(file))
    .map((file) => JSON.parse(readFileSync(file, 'utf8')))
    .filter((pkg) => pkg.private !== true)
    .map((pkg) => pkg.name)
    .sort();
}

export function run(command, args, cwd = root, options = {}) {
  console.log(`$ ${command} ${args.join(' ')}${cwd === root ? '' : `   (in ${cwd})`}`);
  execFileSync(command, args, {
    cwd, stdio: 'inherit', timeout: options.timeout ?? 600_000,
    env: { ...process.env, npm_config_update_notifier: 'false', TURBO_TELEMETRY_DISABLED: '1', ...options.env },
  });
}

/**
 * Builds `names` (and what they depend on) and packs them into `destination`.
 * Returns a Map from package name to the tarball's absolute path.
 */
export function packPackages(names, destination) {
  // The workspace's turbo, never one npx would fetch.
  run(join(root, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only', ...names.map((name) => `--filter=${name}`)]);
  mkdirSync(destination, { recursive: true });
  const before = new Set(readdirSync(destination));
  run('npm', ['pack', ...names.flatMap((name) => ['--workspace', name]), '--pack-destination', destination]);
  const tarballs = new Map();
  for (const name of names) {
    const { version } = JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'));
    const file = `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
    if (!existsSync(join(destination, file)) || before.has(file)) throw new Error(`npm pack did not write ${file} for ${name} into ${destination}`);
    tarballs.set(name, join(destination, file));
  }
  return tarballs;
}

function filesUnder(folder) {
  return readdirSync(folder, { recursive: true }).map(String).filter((f) => statSync(join(folder, f)).isFile());
}

/**
 * Unpacks `tarball` into `into` and returns the problems found (empty when the tarball is fine):
 * LICENSE missing or not the repository's, engines.node not the root's, source-map sources not shipped.
 */
export function verifyTarball(tarball, into) {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', into]);
  const folder = join(into, 'package');
  const problems = [];
  const license = join(folder, 'LICENSE');
  if (!existsSync(license)) problems.push('no LICENSE');
  else if (readFileSync(license, 'utf8') !== readFileSync(join(root, 'LICENSE'), 'utf8')) problems.push('LICENSE differs from the repository\'s');
  const pkg = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'));
  const rootEngines = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node;
  if (pkg.engines?.node !== rootEngines) problems.push(`engines.node ${JSON.stringify(pkg.engines?.node)}, the root says ${JSON.stringify(rootEngines)}`);
  if (pkg.license !== 'MIT') problems.push(`license ${JSON.stringify(pkg.license)}, expected "MIT"`);
  const files = filesUnder(folder);
  const maps = files.filter((f) => f.endsWith('.js.map'));
  if (maps.length === 0) problems.push('no source maps in the tarball (expected dist/*.js.map)');
  let sources = 0;
  for (const map of maps) {
    const { sources: named = [] } = JSON.parse(readFileSync(join(folder, map), 'utf8'));
    for (const source of named) {
      sources++;
      const target = resolve(dirname(join(folder, map)), source);
      if (relative(folder, target).startsWith('..') || !existsSync(target)) problems.push(`${map} names ${source}, which is not in the tarball`);
    }
  }
  // Files a test run or the pack must never leave in a package.
  for (const file of files) {
    if (/\.test\.ts$|\.fixture\.ts$|__fixtures__|\.typecheck\.ts$|\.tsbuildinfo$/.test(file)) problems.push(`ships ${file}`);
  }
  console.log(`${pkg.name}@${pkg.version}: ${files.length} files, ${maps.length} source maps naming ${sources} sources: ${problems.length === 0 ? 'LICENSE, engines and every mapped source present' : `${problems.length} problem(s)`}`);
  return problems;
}

/**
 * `engines` and the docs agree: every workspace package.json that declares engines.node declares the root's, every
 * published one declares it, and the root README and the plugin guide say "Node <minimum> or later".
 */
export function checkNodeVersionDocs() {
  const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const range = rootPackage.engines?.node;
  const minimum = /^>=(\d+\.\d+)$/.exec(range ?? '')?.[1];
  if (minimum === undefined) return [`the root package.json's engines.node is ${JSON.stringify(range)}, expected ">=MAJOR.MINOR"`];
  const problems = [];
  const published = new Set(publishedPackages());
  for (const pattern of rootPackage.workspaces) {
    const parent = join(root, pattern.replace(/\/\*$/, ''));
    for (const dir of readdirSync(parent)) {
      const file = join(parent, dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8'));
      const node = pkg.engines?.node;
      if (node === undefined ? published.has(pkg.name) : node !== range) problems.push(`${relative(root, file)}: engines.node ${JSON.stringify(node)}, the root says ${JSON.stringify(range)}`);
    }
  }
  for (const readme of ['README.md', 'examples/plugin-dyt/README.md']) {
    // Whitespace folded: a line break inside the phrase still counts.
    if (!readFileSync(join(root, readme), 'utf8').replace(/\s+/g, ' ').includes(`Node ${minimum} or later`)) problems.push(`${readme} does not say "Node ${minimum} or later" (engines.node ${range})`);
  }
  return problems;
}
