import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared.ts';

export default defineConfig(
  packageBuild({ index: 'src/index.ts', node: 'src/node.ts', batch: 'src/batch.ts', layer: 'src/layer.ts', group: 'src/group.ts', weight: 'src/weight.ts', switchable: 'src/switchable.ts' }),
);
