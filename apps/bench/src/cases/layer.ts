// @normkit/layer: LayerNorm and RMSNorm over the last dim, on a batch of token vectors [64, 768]
// and on a Transformer activation [8, 512, 768] (GPT-2 small / BERT-base width); L2Norm and ScaleNorm
// forward+backward on the activation.
import { DynamicTanh, L2Norm, LayerNorm, RMSNorm, ScaleNorm } from '@normkit/layer';
import { Generator, randn, type Module, type Tensor } from '@normkit/tensor';
import type { BenchCase, Run, Tfjs } from '../harness';

const D = 768;
const SHAPES: readonly (readonly number[])[] = [[64, D], [8, 512, D]];
const LAYER_EPS = 1e-5;
const RMS_EPS = 1e-6;

type Kind = 'LayerNorm' | 'RMSNorm';

/** Times `norm.forward(x)`, or forward plus `backward(g)` with every gradient reset first. */
function normkitRun(norm: Module & { forward(x: Tensor): Tensor }, shape: readonly number[], backward: boolean): Run {
  const generator = new Generator(1);
  const x = randn(shape, { generator, requiresGrad: backward });
  const upstream = randn(shape, { generator });
  if (!backward) return () => norm.forward(x);
  return () => {
    x.grad = null;
    norm.zeroGrad();
    const y = norm.forward(x);
    y.backward(upstream);
    return y;
  };
}

/** tfjs has no LayerNorm or RMSNorm op: composed from `moments` / `mean` as tfjs-layers' LayerNormalization does. */
function tfjsRun(tf: Tfjs, kind: Kind, shape: readonly number[], backward: boolean): Run {
  const x = tf.randomNormal([...shape], 0, 1, 'float32', 1);
  const gamma = tf.ones([D]);
  const beta = tf.zeros([D]);
  const upstream = tf.randomNormal([...shape], 0, 1, 'float32', 2);
  const axis = shape.length - 1;
  const normalise = (input: typeof x, scale: typeof gamma, shift: typeof beta) => {
    if (kind === 'RMSNorm') return tf.mul(tf.mul(input, tf.rsqrt(tf.add(tf.mean(tf.square(input), axis, true), RMS_EPS))), scale);
    const { mean, variance } = tf.moments(input, axis, true);
    return tf.add(tf.mul(tf.mul(tf.sub(input, mean), tf.rsqrt(tf.add(variance, LAYER_EPS))), scale), shift);
  };
  if (!backward) return () => tf.tidy(() => {
    normalise(x, gamma, beta).dataSync();
  });
  const inputs = kind === 'RMSNorm' ? [x, gamma] : [x, gamma, beta];
  const forwardBackward = tf.grads((...args) => normalise(args[0]!, args[1]!, args[2] ?? beta));
  return () => tf.tidy(() => {
    for (const gradient of forwardBackward(inputs, upstream)) gradient.dataSync();
  });
}

function layerCase(kind: Kind, shape: readonly number[], backward: boolean): BenchCase {
  // PyTorch 1.13 (Debian's) has no nn.RMSNorm: Llama's formula, composed, with a learnable weight.
  const torchSetup = kind === 'LayerNorm' ? `norm = nn.LayerNorm(${D}, eps=${LAYER_EPS})` : `weight = torch.ones(${D}, requires_grad=True)`;
  const torchForward = kind === 'LayerNorm' ? 'norm(x)' : `x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + ${RMS_EPS}) * weight`;
  return {
    name: `${kind} ${shape.join('x')} ${backward ? 'fwd+bwd' : 'fwd'}`,
    elements: shape.reduce((a, b) => a * b, 1),
    threadScaling: backward && shape.reduce((a, b) => a * b, 1) >= 1_000_000,
    normkit: () =>
      normkitRun(kind === 'LayerNorm' ? new LayerNorm({ normalizedShape: D, eps: LAYER_EPS }) : new RMSNorm({ normalizedShape: D, eps: RMS_EPS }), shape, backward),
    tfjs: (tf) => tfjsRun(tf, kind, shape, backward),
    torch: { inputs: { x: { shape, requiresGrad: backward } }, setup: torchSetup, forward: torchForward, backward },
  };
}

const ACTIVATION = [8, 512, D] as const;

/** L2Norm (F.normalize) and ScaleNorm (its paper's code) forward+backward on the Transformer activation. */
const unitNormCases: BenchCase[] = [
  {
    name: `L2Norm ${ACTIVATION.join('x')} fwd+bwd`,
    elements: ACTIVATION.reduce((a, b) => a * b, 1),
    normkit: () => normkitRun(new L2Norm(), ACTIVATION, true),
    tfjs: (tf) => {
      const x = tf.randomNormal([...ACTIVATION], 0, 1, 'float32', 1);
      const upstream = tf.randomNormal([...ACTIVATION], 0, 1, 'float32', 2);
      // tf's l2_normalize formula (tfjs-core has no op): eps 1e-12 on the squared norm.
      const forwardBackward = tf.grad((input) => tf.mul(input, tf.rsqrt(tf.maximum(tf.sum(tf.square(input), -1, true), 1e-12))));
      return () => tf.tidy(() => {
        forwardBackward(x, upstream).dataSync();
      });
    },
    torch: { inputs: { x: { shape: ACTIVATION, requiresGrad: true } }, forward: 'F.normalize(x, dim=-1)', backward: true },
  },
  {
    name: `ScaleNorm ${ACTIVATION.join('x')} fwd+bwd`,
    elements: ACTIVATION.reduce((a, b) => a * b, 1),
    normkit: () => normkitRun(new ScaleNorm({ normalizedShape: D }), ACTIVATION, true),
    torch: {
      inputs: { x: { shape: ACTIVATION, requiresGrad: true } },
      setup: `g = torch.tensor(${Math.sqrt(D)}, requires_grad=True)`,
      forward: 'x * g / torch.norm(x, dim=-1, keepdim=True).clamp(min=1e-5)',
      backward: true,
    },
  },
  {
    // DyT (Zhu et al. 2025): LayerNorm's replacement on the same activation; torch has no module, the formula is the reference.
    name: `DynamicTanh ${ACTIVATION.join('x')} fwd+bwd`,
    elements: ACTIVATION.reduce((a, b) => a * b, 1),
    normkit: () => normkitRun(new DynamicTanh({ normalizedShape: D }), ACTIVATION, true),
    torch: {
      inputs: { x: { shape: ACTIVATION, requiresGrad: true } },
      setup: `alpha = torch.tensor(0.5, requires_grad=True); w = torch.ones(${D}, requires_grad=True); b = torch.zeros(${D}, requires_grad=True)`,
      forward: 'w * torch.tanh(alpha * x) + b',
      backward: true,
    },
  },
];

export const cases: BenchCase[] = [
  ...SHAPES.flatMap((shape) => [false, true].flatMap((backward) => (['LayerNorm', 'RMSNorm'] as const).map((kind) => layerCase(kind, shape, backward)))),
  ...unitNormCases,
];
