import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared.ts';

const families = ['batch', 'layer', 'group', 'switchable', 'weight', 'conditional', 'norm-free'];

export default defineConfig(
  packageBuild({ index: 'src/index.ts', node: 'src/node.ts', ...Object.fromEntries(families.map((f) => [f, `src/${f}.ts`])) }),
);
