#!/usr/bin/env node
// `prepack` of every published @normkit package: copies the repository's LICENSE into the package folder
// (npm runs lifecycle scripts there) so the tarball carries it; npm includes a LICENSE whatever `files` says.
// The copies are git-ignored; the pack check verifies each tarball's LICENSE equals the root one.
import { copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
copyFileSync(join(root, 'LICENSE'), join(process.cwd(), 'LICENSE'));
