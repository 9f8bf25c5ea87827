// Core ops of @normkit/tensor that every normalizer's speed rests on.
import { Generator, add, conv2d, matmul, randn } from '@normkit/tensor';
import type { Rank, Tensor4D } from '@tensorflow/tfjs-core';
import type { BenchCase } from '../harness';

const MATMUL_SIZE = 256;
const ADD_ELEMENTS = 3_000_000;
// A ResNet-style 3x3 layer: batch 32, 16 -> 16 channels, 32x32 images, padding 1 keeps the size.
const [CONV_N, CONV_C, CONV_H, CONV_W] = [32, 16, 32, 32];
const CONV_OUT = 16;
const CONV_K = 3;

export const cases: BenchCase[] = [
  {
    name: 'matmul 256x256x256 fwd',
    elements: MATMUL_SIZE * MATMUL_SIZE,
    threadScaling: true,
    normkit: () => {
      const generator = new Generator(1);
      const a = randn([MATMUL_SIZE, MATMUL_SIZE], { generator });
      const b = randn([MATMUL_SIZE, MATMUL_SIZE], { generator });
      return () => matmul(a, b);
    },
    tfjs: (tf) => {
      const a = tf.randomNormal([MATMUL_SIZE, MATMUL_SIZE], 0, 1, 'float32', 1);
      const b = tf.randomNormal([MATMUL_SIZE, MATMUL_SIZE], 0, 1, 'float32', 2);
      return () => tf.tidy(() => {
        tf.matMul(a, b).dataSync();
      });
    },
    torch: {
      inputs: { a: { shape: [MATMUL_SIZE, MATMUL_SIZE] }, b: { shape: [MATMUL_SIZE, MATMUL_SIZE] } },
      forward: 'a @ b',
    },
  },
  {
    name: 'conv2d 32x16x32x32 k3 fwd+bwd',
    elements: CONV_N * CONV_C * CONV_H * CONV_W,
    threadScaling: true,
    // One iteration takes ~15 ms in normkit (wasm), ~0.2 s on its js backend and ~14 s in tfjs-cpu (its
    // Conv2DBackpropFilter kernel is a plain scalar loop): 3 timed runs at least, up to 30 for whoever fits them
    // into 2 s, after 150 ms of warm-up (an iteration longer than 2 s needs none: see `measure`). With at most
    // 10 runs and one warm-up, PyTorch's median of this case ranged over 3.8-6.1 ms in three runs of one morning.
    timing: { warmupRuns: 1, warmupMs: 150, minRuns: 3, maxRuns: 30, targetMs: 2000 },
    normkit: () => {
      const generator = new Generator(3);
      const x = randn([CONV_N, CONV_C, CONV_H, CONV_W], { generator, requiresGrad: true });
      const weight = randn([CONV_OUT, CONV_C, CONV_K, CONV_K], { generator, requiresGrad: true });
      const bias = randn([CONV_OUT], { generator, requiresGrad: true });
      const upstream = randn([CONV_N, CONV_OUT, CONV_H, CONV_W], { generator });
      return () => {
        x.grad = null;
        weight.grad = null;
        bias.grad = null;
        const y = conv2d(x, weight, bias, { stride: 1, padding: 1, dilation: 1, groups: 1 });
        y.backward(upstream);
        return y;
      };
    },
    // tfjs's conv gradients exist only for NHWC: same sizes, channels last. fused.conv2d is what tfjs-layers
    // runs for a Conv2D with bias; tf.grads with dy = upstream times exactly forward plus backward.
    tfjs: (tf) => {
      const x = tf.randomNormal<Rank.R4>([CONV_N, CONV_H, CONV_W, CONV_C], 0, 1, 'float32', 1);
      const filter = tf.randomNormal<Rank.R4>([CONV_K, CONV_K, CONV_C, CONV_OUT], 0, 1, 'float32', 2);
      const bias = tf.randomNormal([CONV_OUT], 0, 1, 'float32', 3);
      const upstream = tf.randomNormal([CONV_N, CONV_H, CONV_W, CONV_OUT], 0, 1, 'float32', 4);
      const forwardBackward = tf.grads((input, kernel, shift) =>
        tf.fused.conv2d({ x: input as Tensor4D, filter: kernel as Tensor4D, bias: shift, strides: 1, pad: 1 }));
      return () => tf.tidy(() => {
        for (const gradient of forwardBackward([x, filter, bias], upstream)) gradient.dataSync();
      });
    },
    torch: {
      inputs: {
        x: { shape: [CONV_N, CONV_C, CONV_H, CONV_W], requiresGrad: true },
        weight: { shape: [CONV_OUT, CONV_C, CONV_K, CONV_K], requiresGrad: true },
        bias: { shape: [CONV_OUT], requiresGrad: true },
      },
      forward: 'F.conv2d(x, weight, bias, stride=1, padding=1)',
      backward: true,
    },
  },
  {
    name: 'add 3M fwd',
    elements: ADD_ELEMENTS,
    normkit: () => {
      const generator = new Generator(2);
      const a = randn([ADD_ELEMENTS], { generator });
      const b = randn([ADD_ELEMENTS], { generator });
      return () => add(a, b);
    },
    tfjs: (tf) => {
      const a = tf.randomNormal([ADD_ELEMENTS], 0, 1, 'float32', 1);
      const b = tf.randomNormal([ADD_ELEMENTS], 0, 1, 'float32', 2);
      return () => tf.tidy(() => {
        tf.add(a, b).dataSync();
      });
    },
    torch: {
      inputs: { a: { shape: [ADD_ELEMENTS] }, b: { shape: [ADD_ELEMENTS] } },
      forward: 'a + b',
    },
  },
];
