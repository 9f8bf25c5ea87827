// @normkit/batch: BatchNorm2d on a ResNet-sized activation, training (forward, forward+backward) and eval.
import { BatchNorm, BatchRenorm, FrozenBatchNorm } from '@normkit/batch';
import { Generator, randn } from '@normkit/tensor';
import type { Rank, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { BenchCase, Run, Tfjs } from '../harness';

const [N, C, H, W] = [32, 64, 32, 32];
const EPS = 1e-5;
const ELEMENTS = N * C * H * W;
const SIZE = `${N}x${C}x${H}x${W}`;

type Mode = 'train fwd' | 'train fwd+bwd' | 'eval fwd';

/** Times `bn.forward(x)` (training or eval), or forward plus `backward(g)` with every gradient reset first. */
function normkitRun(mode: Mode): Run {
  const generator = new Generator(1);
  const backward = mode === 'train fwd+bwd';
  const bn = new BatchNorm({ numFeatures: C, eps: EPS });
  const x = randn([N, C, H, W], { generator, requiresGrad: backward });
  const upstream = randn([N, C, H, W], { generator });
  if (mode === 'eval fwd') {
    bn.forward(x); // running statistics that are not the identity
    bn.eval();
  }
  if (!backward) return () => bn.forward(x);
  return () => {
    x.grad = null;
    bn.zeroGrad();
    const y = bn.forward(x);
    y.backward(upstream);
    return y;
  };
}

/**
 * tfjs's BatchNorm as tfjs-layers runs it, channels last (NHWC): `moments` over N, H, W then the
 * fused `batchNorm` op in training; `batchNorm` with stored statistics in eval. The running-average
 * update of tfjs-layers is left out (normkit's is a few hundred flops).
 */
function tfjsRun(tf: Tfjs, mode: Mode): Run {
  const x = tf.randomNormal<Rank.R4>([N, H, W, C], 0, 1, 'float32', 1);
  const gamma = tf.ones<Rank.R1>([C]);
  const beta = tf.zeros<Rank.R1>([C]);
  const upstream = tf.randomNormal([N, H, W, C], 0, 1, 'float32', 2);
  if (mode === 'eval fwd') {
    const mean = tf.randomNormal<Rank.R1>([C], 0, 0.1, 'float32', 3);
    const variance = tf.randomUniform<Rank.R1>([C], 0.5, 1.5, 'float32', 4);
    return () => tf.tidy(() => {
      tf.batchNorm(x, mean, variance, beta, gamma, EPS).dataSync();
    });
  }
  const normalise = (input: Tensor4D, scale: Tensor1D, shift: Tensor1D) => {
    const { mean, variance } = tf.moments(input, [0, 1, 2]);
    return tf.batchNorm(input, mean as Tensor1D, variance as Tensor1D, shift, scale, EPS);
  };
  if (mode === 'train fwd') return () => tf.tidy(() => {
    normalise(x, gamma, beta).dataSync();
  });
  const forwardBackward = tf.grads((...args) => normalise(args[0] as Tensor4D, args[1] as Tensor1D, args[2] as Tensor1D));
  return () => tf.tidy(() => {
    for (const gradient of forwardBackward([x, gamma, beta], upstream)) gradient.dataSync();
  });
}

function batchNormCase(mode: Mode): BenchCase {
  const backward = mode === 'train fwd+bwd';
  return {
    name: `BatchNorm2d ${SIZE} ${mode}`,
    elements: ELEMENTS,
    threadScaling: backward,
    normkit: () => normkitRun(mode),
    tfjs: (tf) => tfjsRun(tf, mode),
    torch: {
      inputs: { x: { shape: [N, C, H, W], requiresGrad: backward } },
      // Eval: one training forward first, so the running statistics are not the identity.
      setup: mode === 'eval fwd' ? `bn = nn.BatchNorm2d(${C}, eps=${EPS}); bn(x); bn.eval()` : `bn = nn.BatchNorm2d(${C}, eps=${EPS}); bn.train()`,
      forward: 'bn(x)',
      backward,
    },
  };
}

/** FrozenBatchNorm forward+backward (the gradient goes to x only): fine-tuning's per-step cost. */
const frozenBatchNormCase: BenchCase = {
  name: `FrozenBatchNorm2d ${SIZE} fwd+bwd`,
  elements: ELEMENTS,
  normkit: () => {
    const generator = new Generator(1);
    const frozen = new FrozenBatchNorm({ numFeatures: C, eps: EPS });
    frozen.runningVar.data.fill(0.5);
    const x = randn([N, C, H, W], { generator, requiresGrad: true });
    const upstream = randn([N, C, H, W], { generator });
    return () => {
      x.grad = null;
      const y = frozen.forward(x);
      y.backward(upstream);
      return y;
    };
  },
  // torchvision's FrozenBatchNorm2d.forward, written out (torchvision is not required by the bench).
  torch: {
    inputs: { x: { shape: [N, C, H, W], requiresGrad: true } },
    setup: [
      `w = torch.ones(${C}); b = torch.zeros(${C}); rm = torch.zeros(${C}); rv = torch.full((${C},), 0.5)`,
      `scale = (w * (rv + ${EPS}).rsqrt()).reshape(1, -1, 1, 1); shift = b.reshape(1, -1, 1, 1) - rm.reshape(1, -1, 1, 1) * scale`,
    ].join('\n'),
    forward: 'x * scale + shift',
    backward: true,
  },
};

/** BatchRenorm training forward+backward (rmax 3, dmax 5): BatchNorm's kernel plus r, d and the [C] affine ops. */
const batchRenormCase: BenchCase = {
  name: `BatchRenorm2d ${SIZE} train fwd+bwd`,
  elements: ELEMENTS,
  normkit: () => {
    const generator = new Generator(1);
    const bn = new BatchRenorm({ numFeatures: C, eps: EPS });
    const x = randn([N, C, H, W], { generator, requiresGrad: true });
    const upstream = randn([N, C, H, W], { generator });
    return () => {
      x.grad = null;
      bn.zeroGrad();
      const y = bn.forward(x);
      y.backward(upstream);
      return y;
    };
  },
  // The paper's Algorithm 1 from torch ops (PyTorch has no Batch Renormalization).
  torch: {
    inputs: { x: { shape: [N, C, H, W], requiresGrad: true } },
    setup: [
      `w = torch.ones(${C}, requires_grad=True); b = torch.zeros(${C}, requires_grad=True); rm = torch.zeros(${C}); rv = torch.ones(${C})`,
      'def renorm(x):',
      `    mu = x.mean((0, 2, 3)); sb = (x.var((0, 2, 3), unbiased=False) + ${EPS}).sqrt(); s = (rv + ${EPS}).sqrt()`,
      '    r = (sb / s).clamp(1 / 3, 3).detach(); d = ((mu - rm) / s).clamp(-5, 5).detach()',
      '    c = lambda t: t.reshape(1, -1, 1, 1)',
      '    return ((x - c(mu)) / c(sb) * c(r) + c(d)) * c(w) + c(b)',
    ].join('\n'),
    forward: 'renorm(x)',
    backward: true,
  },
};

export const cases: BenchCase[] = [batchNormCase('train fwd'), batchNormCase('train fwd+bwd'), batchNormCase('eval fwd'), frozenBatchNormCase, batchRenormCase];
