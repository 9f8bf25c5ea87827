// @normkit/group: GroupNorm(32), InstanceNorm, fused FRN + TLU, LocalResponseNorm and EvoNorm-S0/B0 on a ResNet-sized activation.
import { EvoNormB0, EvoNormS0, FilterResponseNormTLU, GroupNorm, InstanceNorm, LocalResponseNorm } from '@normkit/group';
import { Generator, randn, type Module, type Tensor } from '@normkit/tensor';
import type { Rank, Tensor4D } from '@tensorflow/tfjs-core';
import type { BenchCase, Run, Tfjs } from '../harness';

const [N, C, H, W] = [32, 64, 32, 32];
const GROUPS = 32;
const EPS = 1e-5;
const ELEMENTS = N * C * H * W;

/** Times `norm.forward(x)`, or forward plus `backward(g)` with every gradient reset first. */
function normkitRun(norm: Module & { forward(x: Tensor): Tensor }, backward: boolean): Run {
  const generator = new Generator(1);
  const x = randn([N, C, H, W], { generator, requiresGrad: backward });
  const upstream = randn([N, C, H, W], { generator });
  if (!backward) return () => norm.forward(x);
  return () => {
    x.grad = null;
    norm.zeroGrad();
    const y = norm.forward(x);
    y.backward(upstream);
    return y;
  };
}

/**
 * tfjs has no GroupNorm or InstanceNorm op: both are composed from `moments` as tfjs-layers users
 * write them, channels last (NHWC). `groups = C` with no affine is InstanceNorm.
 */
function tfjsRun(tf: Tfjs, groups: number, affine: boolean, backward: boolean): Run {
  const x = tf.randomNormal<Rank.R4>([N, H, W, C], 0, 1, 'float32', 1);
  const gamma = tf.ones([C]);
  const beta = tf.zeros([C]);
  const upstream = tf.randomNormal([N, H, W, C], 0, 1, 'float32', 2);
  const normalise = (input: Tensor4D, scale: typeof gamma, shift: typeof beta) => {
    const grouped = tf.reshape(input, [N, H, W, groups, C / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
    const y = tf.reshape(tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, EPS))), [N, H, W, C]);
    return affine ? tf.add(tf.mul(y, scale), shift) : y;
  };
  if (!backward) return () => tf.tidy(() => {
    normalise(x, gamma, beta).dataSync();
  });
  const inputs = affine ? [x, gamma, beta] : [x];
  const forwardBackward = tf.grads((...args) => normalise(args[0] as Tensor4D, args[1] ?? gamma, args[2] ?? beta));
  return () => tf.tidy(() => {
    for (const gradient of forwardBackward(inputs, upstream)) gradient.dataSync();
  });
}

const torchInput = (backward: boolean) => ({ x: { shape: [N, C, H, W], requiresGrad: backward } });

function groupNormCase(backward: boolean): BenchCase {
  return {
    name: `GroupNorm(32) ${N}x${C}x${H}x${W} ${backward ? 'fwd+bwd' : 'fwd'}`,
    elements: ELEMENTS,
    threadScaling: backward,
    normkit: () => normkitRun(new GroupNorm({ numGroups: GROUPS, numChannels: C, eps: EPS }), backward),
    tfjs: (tf) => tfjsRun(tf, GROUPS, true, backward),
    torch: { inputs: torchInput(backward), setup: `norm = nn.GroupNorm(${GROUPS}, ${C}, eps=${EPS})`, forward: 'norm(x)', backward },
  };
}

function instanceNormCase(backward: boolean): BenchCase {
  return {
    // PyTorch's defaults on both sides: no affine, no running statistics.
    name: `InstanceNorm ${N}x${C}x${H}x${W} ${backward ? 'fwd+bwd' : 'fwd'}`,
    elements: ELEMENTS,
    threadScaling: backward,
    normkit: () => normkitRun(new InstanceNorm({ numFeatures: C, eps: EPS }), backward),
    tfjs: (tf) => tfjsRun(tf, C, false, backward),
    torch: { inputs: torchInput(backward), setup: `norm = nn.InstanceNorm2d(${C}, eps=${EPS})`, forward: 'norm(x)', backward },
  };
}

export const cases: BenchCase[] = [
  groupNormCase(false),
  groupNormCase(true),
  instanceNormCase(false),
  instanceNormCase(true),
  {
    name: `FRN+TLU ${N}x${C}x${H}x${W} fwd+bwd`,
    elements: ELEMENTS,
    threadScaling: true,
    normkit: () => normkitRun(new FilterResponseNormTLU({ numFeatures: C }), true),
    // PyTorch has no FRN: the reference code's formula, composed from ops.
    torch: {
      inputs: torchInput(true),
      setup: [
        `gamma = torch.ones(1, ${C}, 1, 1, requires_grad=True)`,
        `beta = torch.zeros(1, ${C}, 1, 1, requires_grad=True)`,
        `tau = torch.zeros(1, ${C}, 1, 1, requires_grad=True)`,
      ].join('\n'),
      forward: 'torch.max(gamma * x * torch.rsqrt(x.pow(2).mean(dim=(2, 3), keepdim=True) + 1e-6) + beta, tau)',
      backward: true,
    },
  },
  {
    name: `LocalResponseNorm(5) ${N}x${C}x${H}x${W} fwd+bwd`,
    elements: ELEMENTS,
    normkit: () => normkitRun(new LocalResponseNorm({ size: 5, alpha: 1e-4, beta: 0.75, k: 2 }), true),
    // tfjs sums the window (depthRadius 2 = size 5) where PyTorch averages it: alpha / 5.
    tfjs: (tf) => {
      const x = tf.randomNormal<Rank.R4>([N, H, W, C], 0, 1, 'float32', 1);
      const upstream = tf.randomNormal<Rank.R4>([N, H, W, C], 0, 1, 'float32', 2);
      const forwardBackward = tf.grad((input) => tf.localResponseNormalization(input as Tensor4D, 2, 2, 1e-4 / 5, 0.75));
      return () => tf.tidy(() => {
        forwardBackward(x, upstream).dataSync();
      });
    },
    torch: { inputs: torchInput(true), setup: 'norm = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)', forward: 'norm(x)', backward: true },
  },
  {
    name: `EvoNorm-S0(32) ${N}x${C}x${H}x${W} fwd+bwd`,
    elements: ELEMENTS,
    normkit: () => normkitRun(new EvoNormS0({ numFeatures: C, groups: GROUPS }), true),
    // timm is not required: EvoNorm2dS0.forward written out.
    torch: {
      inputs: torchInput(true),
      setup: [
        `w = torch.ones(1, ${C}, 1, 1, requires_grad=True); b = torch.zeros(1, ${C}, 1, 1, requires_grad=True)`,
        `v = torch.ones(1, ${C}, 1, 1, requires_grad=True)`,
      ].join('\n'),
      forward: `(x * (x * v).sigmoid() / x.reshape(${N}, ${GROUPS}, -1).var(dim=2, unbiased=False, keepdim=True).add(1e-5).sqrt().expand(${N}, ${GROUPS}, ${(C / GROUPS) * H * W}).reshape(x.shape)) * w + b`,
      backward: true,
    },
  },
  {
    name: `EvoNorm-B0 ${N}x${C}x${H}x${W} train fwd+bwd`,
    elements: ELEMENTS,
    normkit: () => normkitRun(new EvoNormB0({ numFeatures: C }), true),
    // timm's EvoNorm2dB0.forward in training, written out (the running_var update included).
    torch: {
      inputs: torchInput(true),
      setup: [
        `w = torch.ones(1, ${C}, 1, 1, requires_grad=True); b = torch.zeros(1, ${C}, 1, 1, requires_grad=True)`,
        `v = torch.ones(1, ${C}, 1, 1, requires_grad=True); rv = torch.ones(${C})`,
        `def b0(x):`,
        `    var = x.var(dim=(0, 2, 3), unbiased=False)`,
        `    n = x.numel() / x.shape[1]`,
        `    rv.copy_(rv * 0.9 + var.detach() * 0.1 * (n / (n - 1)))`,
        `    left = var.add(1e-3).sqrt().view(1, -1, 1, 1).expand_as(x)`,
        `    right = x * v + x.var(dim=(2, 3), unbiased=False, keepdim=True).add(1e-3).sqrt().expand_as(x)`,
        `    return x / left.max(right) * w + b`,
      ].join('\n'),
      forward: 'b0(x)',
      backward: true,
    },
  },
];
