#!/usr/bin/env node
// Every range a workspace package declares on a sibling (dependencies, devDependencies, peerDependencies,
// optionalDependencies) must be satisfied by that sibling's current version. npm does not check this for
// workspaces: it links the local sibling and stays silent even when a peer range excludes it, so a peer
// range that no longer matches what the repo builds and tests against would only show up after publishing.
//
//   node tools/check-peer-ranges.mjs            (exit 1 and a list when a range is not satisfied)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const DEPENDENCY_TYPES = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'];

/** A module as @changesets/cli resolves it (its semver is the one that decides "leaving the range"). */
export function requireFromChangesets(root, id) {
  const fromRoot = createRequire(join(root, 'package.json'));
  return createRequire(fromRoot.resolve('@changesets/cli/package.json'))(id);
}

export const loadSemver = (root) => requireFromChangesets(root, 'semver');

/** Workspace packages from the root package.json's `workspaces` globs (only `dir/*` and plain folders). */
export function readWorkspaces(root) {
  const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const dirs = [];
  for (const pattern of rootPkg.workspaces ?? []) {
    if (pattern.endsWith('/*')) {
      const base = join(root, pattern.slice(0, -2));
      if (!existsSync(base)) continue;
      for (const entry of readdirSync(base, { withFileTypes: true })) if (entry.isDirectory()) dirs.push(join(base, entry.name));
    } else if (!/[*?[{]/.test(pattern)) dirs.push(join(root, pattern));
    else throw new Error(`unsupported workspace pattern ${pattern}`);
  }
  const packages = new Map();
  for (const dir of dirs) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    packages.set(pkg.name, { dir, file, pkg });
  }
  return packages;
}

export function findProblems(root, semver = loadSemver(root)) {
  const packages = readWorkspaces(root);
  const problems = [];
  for (const { dir, pkg } of packages.values()) {
    for (const type of DEPENDENCY_TYPES) {
      for (const [name, range] of Object.entries(pkg[type] ?? {})) {
        const sibling = packages.get(name);
        if (!sibling) continue;
        const where = `${pkg.name} (${dir.slice(root.length + 1)}) ${type} ${name}@"${range}"`;
        if (semver.validRange(range) === null) problems.push(`${where}: not a semver range (npm workspaces need a plain range)`);
        else if (!semver.satisfies(sibling.pkg.version, range)) problems.push(`${where} is not satisfied by ${name}@${sibling.pkg.version} in this repo`);
      }
    }
  }
  return problems;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const problems = findProblems(root);
  if (problems.length > 0) {
    console.error(`check-peer-ranges: ${problems.length} sibling range(s) not satisfied by the workspace versions:`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  console.log(`check-peer-ranges: every sibling range is satisfied by the sibling's current version (${readWorkspaces(root).size} workspaces)`);
}
