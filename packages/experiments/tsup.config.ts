import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared.ts';

// The engine; the MNIST loader kept apart so the engine's bundle never holds the digits; the Node-only
// data-parallel runner with the worker module and child script it loads from beside itself; the ONNX
// export of the engine's models (its own entry, so the engine's bundle does not carry the exporter).
export default defineConfig(packageBuild({
  index: 'src/index.ts', mnist: 'src/mnist.ts', node: 'src/node.ts', 'data-parallel': 'src/data-parallel.ts', 'data-parallel-child': 'src/data-parallel-child.ts',
  onnx: 'src/models/onnx.ts',
}));
