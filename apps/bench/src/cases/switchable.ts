// @normkit/switchable: SwitchableNorm (instance, layer and batch statistics mixed) on a ResNet-sized activation, training.
import { SwitchableNorm } from '@normkit/switchable';
import { Generator, randn } from '@normkit/tensor';
import type { Rank, Tensor, Tensor1D, Tensor4D } from '@tensorflow/tfjs-core';
import type { BenchCase, Run, Tfjs } from '../harness';

const [N, C, H, W] = [32, 64, 32, 32];
const EPS = 1e-5;
const ELEMENTS = N * C * H * W;
const SIZE = `${N}x${C}x${H}x${W}`;

/** Times `sn.forward(x)` in training, or forward plus `backward(g)` with every gradient reset first. */
function normkitRun(backward: boolean): Run {
  const generator = new Generator(1);
  const sn = new SwitchableNorm({ numFeatures: C, eps: EPS });
  const x = randn([N, C, H, W], { generator, requiresGrad: backward });
  const upstream = randn([N, C, H, W], { generator });
  if (!backward) return () => sn.forward(x);
  return () => {
    x.grad = null;
    sn.zeroGrad();
    const y = sn.forward(x);
    y.backward(upstream);
    return y;
  };
}

/**
 * tfjs has no SwitchableNorm: composed from `moments` as a tfjs user would write it, channels last
 * (NHWC), with the layer and batch statistics derived from the instance ones as in the paper's code.
 * The running-average update is left out (normkit's is a few hundred flops).
 */
function tfjsRun(tf: Tfjs, backward: boolean): Run {
  const x = tf.randomNormal<Rank.R4>([N, H, W, C], 0, 1, 'float32', 1);
  const gamma = tf.ones<Rank.R1>([C]);
  const beta = tf.zeros<Rank.R1>([C]);
  const meanWeight = tf.ones<Rank.R1>([3]);
  const varWeight = tf.ones<Rank.R1>([3]);
  const upstream = tf.randomNormal([N, H, W, C], 0, 1, 'float32', 2);
  const normalise = (input: Tensor4D, scale: Tensor1D, shift: Tensor1D, mw: Tensor1D, vw: Tensor1D) => {
    const { mean: meanIn, variance: varIn } = tf.moments(input, [1, 2], true);
    const second = tf.add(varIn, tf.square(meanIn));
    const meanLn = tf.mean(meanIn, 3, true);
    const varLn = tf.sub(tf.mean(second, 3, true), tf.square(meanLn));
    const meanBn = tf.mean(meanIn, 0, true);
    const varBn = tf.sub(tf.mean(second, 0, true), tf.square(meanBn));
    const a = tf.softmax(mw);
    const b = tf.softmax(vw);
    const pick = (p: Tensor, k: number) => tf.slice(p, [k], [1]);
    // [N, 1, 1, C] + [N, 1, 1, 1] + [1, 1, 1, C]: broadcasting adds (addN wants equal shapes).
    const mean = tf.add(tf.add(tf.mul(pick(a, 0), meanIn), tf.mul(pick(a, 1), meanLn)), tf.mul(pick(a, 2), meanBn));
    const variance = tf.add(tf.add(tf.mul(pick(b, 0), varIn), tf.mul(pick(b, 1), varLn)), tf.mul(pick(b, 2), varBn));
    return tf.add(tf.mul(tf.mul(tf.sub(input, mean), tf.rsqrt(tf.add(variance, EPS))), scale), shift);
  };
  if (!backward) return () => tf.tidy(() => {
    normalise(x, gamma, beta, meanWeight, varWeight).dataSync();
  });
  const forwardBackward = tf.grads((...args) =>
    normalise(args[0] as Tensor4D, args[1] as Tensor1D, args[2] as Tensor1D, args[3] as Tensor1D, args[4] as Tensor1D),
  );
  return () => tf.tidy(() => {
    for (const gradient of forwardBackward([x, gamma, beta, meanWeight, varWeight], upstream)) gradient.dataSync();
  });
}

/**
 * PyTorch has no SwitchableNorm either: the authors' SwitchNorm2d forward written out (biased
 * variances, as normkit normalises; PyTorch's momentum convention and unbiased running variance).
 */
const torchSetup = [
  `weight = torch.ones(1, ${C}, 1, 1, requires_grad=True)`,
  `bias = torch.zeros(1, ${C}, 1, 1, requires_grad=True)`,
  'mean_weight = torch.ones(3, requires_grad=True)',
  'var_weight = torch.ones(3, requires_grad=True)',
  `running_mean = torch.zeros(1, ${C}, 1)`,
  `running_var = torch.ones(1, ${C}, 1)`,
  'def switchable_norm(x):',
  '    n, c, h, w = x.size()',
  '    x = x.view(n, c, -1)',
  '    mean_in = x.mean(-1, keepdim=True)',
  '    var_in = x.var(-1, keepdim=True, unbiased=False)',
  '    mean_ln = mean_in.mean(1, keepdim=True)',
  '    temp = var_in + mean_in ** 2',
  '    var_ln = temp.mean(1, keepdim=True) - mean_ln ** 2',
  '    mean_bn = mean_in.mean(0, keepdim=True)',
  '    var_bn = temp.mean(0, keepdim=True) - mean_bn ** 2',
  '    with torch.no_grad():',
  '        count = n * h * w',
  '        running_mean.mul_(0.9).add_(0.1 * mean_bn)',
  '        running_var.mul_(0.9).add_(0.1 * var_bn * count / (count - 1))',
  '    mw = torch.softmax(mean_weight, 0)',
  '    vw = torch.softmax(var_weight, 0)',
  '    mean = mw[0] * mean_in + mw[1] * mean_ln + mw[2] * mean_bn',
  '    var = vw[0] * var_in + vw[1] * var_ln + vw[2] * var_bn',
  `    x = (x - mean) / (var + ${EPS}).sqrt()`,
  '    return x.view(n, c, h, w) * weight + bias',
].join('\n');

function switchableNormCase(backward: boolean): BenchCase {
  return {
    name: `SwitchableNorm ${SIZE} train ${backward ? 'fwd+bwd' : 'fwd'}`,
    elements: ELEMENTS,
    threadScaling: backward,
    normkit: () => normkitRun(backward),
    tfjs: (tf) => tfjsRun(tf, backward),
    torch: { inputs: { x: { shape: [N, C, H, W], requiresGrad: backward } }, setup: torchSetup, forward: 'switchable_norm(x)', backward },
  };
}

export const cases: BenchCase[] = [switchableNormCase(false), switchableNormCase(true)];
