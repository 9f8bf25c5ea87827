// Times DyT against LayerNorm on Transformer-sized activations, forward and forward+backward,
// in one run: `npm run bench -w normkit-plugin-dyt`. DyT skips the statistics pass, so it should
// be faster than LayerNorm; the numbers printed are medians of repeated runs.
import { LayerNorm } from '@normkit/layer';
import { Generator, randn, type Module, type Tensor } from '@normkit/tensor';
import { DynamicTanh } from './dynamic-tanh.js';

type Layer = Module & { forward(x: Tensor): Tensor };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(label: string, run: () => void, repeats = 30): number {
  for (let i = 0; i < 3; i++) run();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  const result = median(samples);
  console.log(`${label.padEnd(44)} ${result.toFixed(3).padStart(9)} ms`);
  return result;
}

const generator = new Generator(0);
for (const shape of [[64, 768], [8, 512, 768]]) {
  const x = randn(shape, { generator });
  const upstream = randn(shape, { generator });
  const layers: [string, Layer][] = [
    ['DynamicTanh', new DynamicTanh({ numFeatures: 768 })],
    ['LayerNorm', new LayerNorm({ normalizedShape: 768 })],
  ];
  const results: Record<string, number[]> = {};
  for (const [name, layer] of layers) {
    const input = x.clone().requireGrad();
    results[name] = [
      time(`${name} forward [${shape.join(', ')}]`, () => void layer.forward(x)),
      time(`${name} forward+backward [${shape.join(', ')}]`, () => {
        layer.zeroGrad();
        input.grad = null;
        layer.forward(input).backward(upstream);
      }),
    ];
  }
  const [dytForward, dytBoth] = results.DynamicTanh!;
  const [lnForward, lnBoth] = results.LayerNorm!;
  console.log(`DyT / LayerNorm on [${shape.join(', ')}]: forward ${(dytForward! / lnForward!).toFixed(2)}x, forward+backward ${(dytBoth! / lnBoth!).toFixed(2)}x\n`);
}
