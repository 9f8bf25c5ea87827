// @normkit/weight: what each weight parametrization adds to a layer's training step. Forward +
// backward of a Linear(1024, 1024) on a batch of 64 and of a Conv2d(64, 64, 3) on [8, 64, 16, 16],
// plain and with weight norm, spectral norm (one power iteration per step) or weight
// standardization. Each parametrized case names the plain one as its baseline, so the run reports
// the overhead ratio (target: under 1.25x).
import { spectralNorm, weightNorm, weightStandardization } from '@normkit/weight';
import { Conv2d, Generator, Linear, randn, type Module, type Tensor } from '@normkit/tensor';
import type { BenchCase, Run, Tfjs, TorchSpec } from '../harness';

type Parametrization = 'plain' | 'weight norm' | 'spectral norm' | 'weight standardization';
const PARAMETRIZATIONS: readonly Parametrization[] = ['plain', 'weight norm', 'spectral norm', 'weight standardization'];

const LINEAR = { features: 1024, batch: 64 };
const CONV = { channels: 64, kernel: 3, input: [8, 64, 16, 16] as const };

// One iteration is tens to hundreds of milliseconds: fewer, longer runs.
const timing = { warmupRuns: 2, warmupMs: 0, minRuns: 7, maxRuns: 25, targetMs: 3000 };

function parametrize<M extends Module>(module: M, kind: Parametrization): M {
  if (kind === 'weight norm') return weightNorm(module);
  if (kind === 'spectral norm') return spectralNorm(module);
  if (kind === 'weight standardization') return weightStandardization(module);
  return module;
}

/** forward + backward(g) in training mode, every gradient reset first. */
function trainingStep(module: Module & { forward(x: Tensor): Tensor }, inputShape: readonly number[], outputShape: readonly number[]): Run {
  const generator = new Generator(2);
  const x = randn(inputShape, { generator, requiresGrad: true });
  const upstream = randn(outputShape, { generator });
  module.train();
  return () => {
    x.grad = null;
    module.zeroGrad();
    const y = module.forward(x);
    y.backward(upstream);
    return y;
  };
}

// PyTorch: weight norm through the hook-based torch.nn.utils.weight_norm (1.13 has no
// parametrizations.weight_norm; same arithmetic), spectral norm through parametrizations.spectral_norm,
// weight standardization as a parametrize module written out.
const TORCH_WS = [
  'from torch.nn.utils import parametrize',
  'class WS(nn.Module):',
  '    def forward(self, w):',
  '        dims = tuple(range(1, w.dim()))',
  '        return (w - w.mean(dims, keepdim=True)) / torch.sqrt(w.var(dims, keepdim=True, unbiased=False) + 1e-5)',
].join('\n');

function torchSetup(layer: string, kind: Parametrization): string {
  const lines = [`layer = ${layer}`, 'layer.train()'];
  if (kind === 'weight norm') lines.push('torch.nn.utils.weight_norm(layer)');
  if (kind === 'spectral norm') lines.push('torch.nn.utils.parametrizations.spectral_norm(layer)');
  if (kind === 'weight standardization') {
    lines.unshift(TORCH_WS);
    lines.push("parametrize.register_parametrization(layer, 'weight', WS())");
  }
  return lines.join('\n');
}

/** The plain Linear in tfjs: y = x W^T + b (W [out, in], as torch.nn.Linear), dx, dW and db by tf.grads. */
function tfjsLinear(tf: Tfjs): Run {
  const x = tf.randomNormal([LINEAR.batch, LINEAR.features], 0, 1, 'float32', 1);
  const weight = tf.randomNormal([LINEAR.features, LINEAR.features], 0, 1, 'float32', 2);
  const bias = tf.randomNormal([LINEAR.features], 0, 1, 'float32', 3);
  const upstream = tf.randomNormal([LINEAR.batch, LINEAR.features], 0, 1, 'float32', 4);
  const forwardBackward = tf.grads((input, w, b) => tf.add(tf.matMul(input, w, false, true), b));
  return () => tf.tidy(() => {
    for (const gradient of forwardBackward([x, weight, bias], upstream)) gradient.dataSync();
  });
}

function torchSpec(layer: string, kind: Parametrization, inputShape: readonly number[]): TorchSpec {
  return { inputs: { x: { shape: inputShape, requiresGrad: true } }, setup: torchSetup(layer, kind), forward: 'layer(x)', backward: true };
}

const linearName = (kind: Parametrization) => `Linear 1024x1024 b64 ${kind} fwd+bwd`;
const convName = (kind: Parametrization) => `Conv2d 64->64 k3 8x16x16 ${kind} fwd+bwd`;

export const cases: BenchCase[] = [
  ...PARAMETRIZATIONS.map((kind): BenchCase => ({
    name: linearName(kind),
    elements: LINEAR.features * LINEAR.features,
    timing,
    ...(kind === 'plain' ? { threadScaling: true, tfjs: tfjsLinear } : { baseline: linearName('plain') }),
    normkit: () => {
      const layer = parametrize(new Linear({ inFeatures: LINEAR.features, outFeatures: LINEAR.features, generator: new Generator(1) }), kind);
      return trainingStep(layer, [LINEAR.batch, LINEAR.features], [LINEAR.batch, LINEAR.features]);
    },
    torch: torchSpec(`nn.Linear(${LINEAR.features}, ${LINEAR.features})`, kind, [LINEAR.batch, LINEAR.features]),
  })),
  ...PARAMETRIZATIONS.map((kind): BenchCase => ({
    name: convName(kind),
    elements: CONV.channels * CONV.channels * CONV.kernel * CONV.kernel,
    timing,
    ...(kind === 'plain' ? { threadScaling: true } : { baseline: convName('plain') }),
    normkit: () => {
      const conv = new Conv2d({ inChannels: CONV.channels, outChannels: CONV.channels, kernelSize: CONV.kernel, padding: 1, generator: new Generator(1) });
      return trainingStep(parametrize(conv, kind), CONV.input, CONV.input);
    },
    torch: torchSpec(`nn.Conv2d(${CONV.channels}, ${CONV.channels}, ${CONV.kernel}, padding=1)`, kind, CONV.input),
  })),
];
