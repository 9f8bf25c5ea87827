#!/usr/bin/env node
// Follows the plugin-authoring guide (examples/plugin-dyt/README.md) literally, as a newcomer would on a
// fresh machine, in a temporary folder outside the workspace:
//
// - step 0 (`sh guide-setup`: clone, build, `npm pack` normkit) is the one step replaced: the packages its
//   `npm pack -w ...` line names are built and packed from this checkout into normkit-packs/ with pack.mjs
//   (each tarball checked: LICENSE, engines, shipped map sources), and `normkit` is a link to this
//   checkout (the guide copies the example's sources from there);
// - every other shell block marked `sh guide` runs, in order, in one bash script; every block titled
//   `title=<path>` is written to that path at that point of the script, exactly as shown.
//
// The script installs from the tarballs and, from the npm registry, only what the guide's package.json
// and its app name (typescript, tsup, vitest, onnxruntime-node, @types/node), then typechecks under NodeNext and Bundler
// resolution, tests, builds and packs the plugin, and installs it into an app that typechecks and runs.
// Afterwards: the TypeScript installed is the one the toolchain supports (not 7.x), the plugin's dist has
// its .js and .d.ts, and the example's own tsup config is the guide's.
//
//   node tools/pack-check/plugin-guide-check.mjs [--keep]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packPackages, root, verifyTarball } from './pack.mjs';

const guidePath = join(root, 'examples', 'plugin-dyt', 'README.md');
const keep = process.argv.includes('--keep');
const started = Date.now();

/** The guide's fenced blocks in order: `{ info, body }`, info being the text after the opening fence. */
export function fencedBlocks(markdown) {
  const blocks = [];
  const pattern = /^```([^\n]*)\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of markdown.matchAll(pattern)) blocks.push({ info: match[1].trim(), body: match[2] });
  return blocks;
}

/** `text` as one single-quoted shell word. */
function quote(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

/** The bash script the guide amounts to (files written with quoted heredocs, so nothing is expanded). */
export function guideScript(blocks) {
  const lines = ['set -euo pipefail'];
  let files = 0;
  let commands = 0;
  for (const { info, body } of blocks) {
    const title = /(?:^|\s)title=(\S+)/.exec(info)?.[1];
    if (title !== undefined) {
      if (body.includes('\nNORMKIT_GUIDE_EOF\n')) throw new Error(`${title}: contains the heredoc marker`);
      lines.push(`printf '[guide] (in %s) write %s\\n' "$(basename "$(pwd)")" ${quote(title)}`, `mkdir -p "$(dirname ${quote(title)})"`, `cat > ${quote(title)} <<'NORMKIT_GUIDE_EOF'`, body + 'NORMKIT_GUIDE_EOF');
      files++;
    } else if (/^(sh|bash)\s+guide$/.test(info)) {
      for (const command of body.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))) {
        lines.push(`printf '[guide] (in %s) $ %s\\n' "$(basename "$(pwd)")" ${quote(command)}`, command);
      }
      commands++;
    }
  }
  if (files < 5 || commands < 4) throw new Error(`the guide has ${files} titled files and ${commands} \`sh guide\` blocks: expected the whole walk (package.json, tsconfig.json, tsup.config.ts, the app's files, and the commands)`);
  return lines.join('\n') + '\n';
}

/** The packages step 0 packs: the `-w` / `--workspace` arguments of its `npm pack` line. */
export function setupPackages(blocks) {
  const setup = blocks.filter(({ info }) => /^(sh|bash)\s+guide-setup$/.test(info));
  if (setup.length !== 1) throw new Error(`expected one \`sh guide-setup\` block (step 0) in the guide, found ${setup.length}`);
  const pack = setup[0].body.split('\n').find((line) => /^\s*npm pack\b/.test(line));
  if (pack === undefined) throw new Error('step 0 has no `npm pack` line');
  const names = [...pack.matchAll(/(?:-w|--workspace)[ =](\S+)/g)].map((m) => m[1]);
  if (names.length === 0) throw new Error(`step 0's npm pack names no workspace: ${pack}`);
  return names;
}

function versionOf(folder, name) {
  return JSON.parse(readFileSync(join(folder, 'node_modules', ...name.split('/'), 'package.json'), 'utf8')).version;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const markdown = readFileSync(guidePath, 'utf8');
  const blocks = fencedBlocks(markdown);
  const names = setupPackages(blocks);
  const script = guideScript(blocks);
  const folder = mkdtempSync(join(tmpdir(), 'normkit-plugin-guide-'));
  try {
    const packs = join(folder, 'normkit-packs');
    const tarballs = packPackages(names, packs);
    const problems = names.flatMap((name) => verifyTarball(tarballs.get(name), join(folder, 'unpacked', name)).map((p) => `${name}: ${p}`));
    if (problems.length > 0) throw new Error(`tarball check failed:\n  ${problems.join('\n  ')}`);
    rmSync(join(folder, 'unpacked'), { recursive: true, force: true });
    symlinkSync(root, join(folder, 'normkit'), 'dir');

    writeFileSync(join(folder, 'guide.sh'), script);
    console.log(`$ bash guide.sh   (in ${folder}: the guide's commands and files, in order)`);
    execFileSync('bash', ['guide.sh'], {
      cwd: folder, stdio: 'inherit', timeout: 900_000,
      // prefer-offline: packages already in npm's cache are not fetched again (the registry is still asked for the rest).
      env: {
        ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_prefer_offline: 'true',
        NO_COLOR: '1', FORCE_COLOR: '0',
      },
    });

    // What the guide promises beyond "the commands succeeded".
    const plugin = join(folder, 'normkit-plugin-dyt');
    const failures = [];
    const typescript = versionOf(plugin, 'typescript');
    if (!typescript.startsWith('6.')) failures.push(`the guide's package.json installed TypeScript ${typescript}; tsup's .d.ts build needs 6.x`);
    for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/index.js.map']) {
      if (!existsSync(join(plugin, file))) failures.push(`the plugin's build wrote no ${file}`);
    }
    const guideTsup = blocks.find(({ info }) => /(?:^|\s)title=tsup\.config\.ts$/.test(info));
    const exampleTsup = readFileSync(join(root, 'examples', 'plugin-dyt', 'tsup.config.ts'), 'utf8');
    if (guideTsup === undefined || guideTsup.body !== exampleTsup) failures.push('examples/plugin-dyt/tsup.config.ts is not the tsup.config.ts the guide shows');
    if (failures.length > 0) throw new Error(failures.join('\n'));
    console.log(`plugin-guide-check passed in ${((Date.now() - started) / 1000).toFixed(0)} s: the guide, followed literally outside the workspace with ${names.join(', ')} from tarballs and TypeScript ${typescript}, typechecks (NodeNext and Bundler), tests, builds and packs the plugin, and an app installs and runs it`);
  } finally {
    if (keep) console.log(`kept ${folder}`);
    else rmSync(folder, { recursive: true, force: true });
  }
}
