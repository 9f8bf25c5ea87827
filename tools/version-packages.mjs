#!/usr/bin/env node
// `changeset version` for normkit, with the peer-range policy of this repo (README, "Versioning"):
// a published package's peer range on a sibling names only the sibling minor it is built and tested
// against. Changesets 2.x gives every peer dependent a MAJOR bump (0.1.0 -> 1.0.0) when a pending release
// takes the sibling out of its peer range (e.g. @normkit/tensor 0.1.x -> 0.2.0). So, for each such range:
//   1. before `changeset version`, the range is widened to `<range> || ^<next>` (still satisfied by the
//      current version, so changesets sees a valid graph, and now containing the next one: no forced major);
//   2. a written changeset gives the package a minor bump (major from 1.0.0 on), the breaking-change bump
//      for a narrowed peer, and a CHANGELOG line saying so;
//   3. after `changeset version` the range is narrowed to `^<next>`, the version it was built and tested with.
// Then `npm install --package-lock-only` and tools/check-peer-ranges.mjs; any 0.x -> 1.0.0 that no changeset
// asked for is refused before anything is versioned.
//
//   npm run version-packages                          (writes package.json files, CHANGELOGs, the lockfile)
//   node tools/version-packages.mjs --dry-run         (the same in a temporary copy; prints the result)
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProblems, loadSemver, readWorkspaces, requireFromChangesets } from './check-peer-ranges.mjs';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dryRun = process.argv.includes('--dry-run');
const RANK = { none: 0, patch: 1, minor: 2, major: 3 };

function run(command, args, cwd) {
  console.log(`$ ${command} ${args.join(' ')}`);
  execFileSync(command, args, { cwd, stdio: 'inherit', env: { ...process.env, npm_config_update_notifier: 'false' } });
}

/**
 * Widen out-of-range peer ranges and add the changesets they need. Returns the final release plan and the
 * peer ranges to set once `changeset version` has run.
 */
async function prepare(cwd) {
  const semver = loadSemver(cwd);
  const narrowLater = []; // { file, dep, range }
  const getReleasePlan = requireFromChangesets(cwd, '@changesets/get-release-plan').default;
  for (let round = 0; round < 10; round++) {
    const plan = await getReleasePlan(cwd);
    if (plan.changesets.length === 0) return { plan, narrowLater };
    const packages = readWorkspaces(cwd);
    const next = new Map(plan.releases.filter((r) => r.type !== 'none').map((r) => [r.name, r.newVersion]));
    const asked = new Map();
    for (const changeset of plan.changesets) {
      for (const r of changeset.releases) if (RANK[r.type] > RANK[asked.get(r.name) ?? 'none']) asked.set(r.name, r.type);
    }
    const needBump = new Map(); // summary line -> { type, names }
    let narrowedAny = false;
    for (const { file, pkg } of packages.values()) {
      if (pkg.private) continue; // not versioned here; changesets rewrites their ranges itself
      const lines = [];
      for (const [dep, range] of Object.entries(pkg.peerDependencies ?? {})) {
        const version = next.get(dep);
        if (!version || !packages.has(dep) || semver.satisfies(version, range)) continue;
        pkg.peerDependencies[dep] = `${range} || ^${version}`;
        narrowLater.push({ file, dep, range: `^${version}` });
        lines.push(`\`${dep}\` \`^${version}\` (was \`${range}\`)`);
        console.log(`version-packages: ${pkg.name} peerDependencies ${dep}: "${range}" -> "^${version}"`);
      }
      if (lines.length === 0) continue;
      narrowedAny = true;
      writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
      // Written even when a big enough bump is pending, so that the CHANGELOG says the peer range moved.
      const type = semver.major(pkg.version) === 0 ? 'minor' : 'major';
      const summary = `Peer dependency ${lines.join(', ')}: this release is built and tested against that version only.`;
      const entry = needBump.get(`${type} ${summary}`) ?? { type, summary, names: [] };
      entry.names.push(pkg.name);
      needBump.set(`${type} ${summary}`, entry);
    }
    let index = 0;
    for (const { type, summary, names } of needBump.values()) {
      const id = `peer-ranges-${Date.now().toString(36)}-${round}-${index++}`;
      const header = names.map((name) => `'${name}': ${type}`).join('\n');
      writeFileSync(join(cwd, '.changeset', `${id}.md`), `---\n${header}\n---\n\n${summary}\n`);
      console.log(`version-packages: wrote .changeset/${id}.md (${type}: ${names.join(', ')})`);
    }
    if (!narrowedAny) {
      const surprises = plan.releases.filter((r) => r.type !== 'none' && semver.major(r.oldVersion) === 0
        && semver.major(r.newVersion) > 0 && asked.get(r.name) !== 'major');
      if (surprises.length > 0) {
        throw new Error(`refusing a 1.0.0 no changeset asked for: ${surprises.map((r) => `${r.name} ${r.oldVersion} -> ${r.newVersion}`).join(', ')}`);
      }
      return { plan, narrowLater };
    }
  }
  throw new Error('peer ranges did not settle after 10 rounds');
}

async function versionPackages(cwd, { beforeLockfile, semver }) {
  const { plan, narrowLater } = await prepare(cwd);
  if (plan.changesets.length === 0) {
    console.log('version-packages: no pending changesets, nothing to version');
    return plan;
  }
  const changeset = join(cwd, 'node_modules', '@changesets', 'cli', 'bin.js');
  run(process.execPath, [changeset, 'version'], cwd);
  for (const { file, dep, range } of narrowLater) {
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    pkg.peerDependencies[dep] = range;
    writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
  }
  beforeLockfile?.();
  run('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], cwd);
  const problems = findProblems(cwd, semver);
  if (problems.length > 0) throw new Error(`sibling ranges not satisfied after versioning:\n  ${problems.join('\n  ')}`);
  return plan;
}

function printPlan(plan) {
  for (const r of plan.releases.filter((r) => r.type !== 'none')) console.log(`  ${r.name}: ${r.oldVersion} -> ${r.newVersion} (${r.type})`);
}

if (!dryRun) {
  const plan = await versionPackages(repoRoot, { semver: loadSemver(repoRoot) });
  printPlan(plan);
  console.log('version-packages: done; review `git diff` (package.json files, CHANGELOG.md files, package-lock.json) and commit');
} else {
  // Only what changesets and `npm install --package-lock-only` read: root files, .changeset/, and each
  // workspace's package.json and CHANGELOG.md (as they are now, committed or not).
  const folder = mkdtempSync(join(tmpdir(), 'normkit-version-dry-run-'));
  try {
    for (const name of ['package.json', 'package-lock.json', '.npmrc']) {
      if (existsSync(join(repoRoot, name))) copyFileSync(join(repoRoot, name), join(folder, name));
    }
    mkdirSync(join(folder, '.changeset'));
    for (const name of readdirSync(join(repoRoot, '.changeset'))) copyFileSync(join(repoRoot, '.changeset', name), join(folder, '.changeset', name));
    for (const { dir } of readWorkspaces(repoRoot).values()) {
      const target = join(folder, relative(repoRoot, dir));
      mkdirSync(target, { recursive: true });
      for (const name of ['package.json', 'CHANGELOG.md']) if (existsSync(join(dir, name))) copyFileSync(join(dir, name), join(target, name));
    }
    const git = (...args) => execFileSync('git', ['-c', 'user.name=dry-run', '-c', 'user.email=dry-run@localhost', ...args], { cwd: folder, stdio: 'ignore' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-q', '-m', 'dry run base');
    // changesets loads its changelog module from the folder; npm must not see a linked node_modules.
    symlinkSync(join(repoRoot, 'node_modules'), join(folder, 'node_modules'), 'dir');
    const plan = await versionPackages(folder, {
      beforeLockfile: () => unlinkSync(join(folder, 'node_modules')),
      semver: loadSemver(repoRoot),
    });
    console.log('version-packages --dry-run: `changeset version` would release');
    printPlan(plan);
    const after = readWorkspaces(folder);
    for (const { pkg } of after.values()) {
      if (pkg.private || !pkg.peerDependencies) continue;
      const peers = Object.entries(pkg.peerDependencies).filter(([name]) => after.has(name)).map(([name, range]) => `${name}@${range}`);
      if (peers.length > 0) console.log(`  ${pkg.name}@${pkg.version} peers ${peers.join(', ')}`);
    }
    console.log('version-packages --dry-run: every sibling range is satisfied afterwards; nothing in the repo was changed');
  } finally {
    try { unlinkSync(join(folder, 'node_modules')); } catch { /* already removed */ }
    rmSync(folder, { recursive: true, force: true });
  }
}
