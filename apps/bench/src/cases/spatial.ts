// The kernels CNNs and conditional normalizers spend their remaining time in, besides conv and the
// normalizers: max and global average pooling, nearest upsampling (SPADE), the per-channel sum every
// bias gradient is, modulate (FiLM / AdaLN / conditional BatchNorm's x * (1 + scale) + shift), and
// GELU, the Transformer MLP's activation.
import { Generator, adaptiveAvgPool2d, gelu, interpolate, maxPool2d, modulate, randn, sum, type Tensor } from '@normkit/tensor';
import type { Rank, Tensor4D } from '@tensorflow/tfjs-core';
import type { BenchCase, Run } from '../harness';

const IMAGE = [32, 64, 32, 32] as const;
const FEATURES = [32, 256, 8, 8] as const;
const SMALL_IMAGE = [32, 64, 16, 16] as const;
/** A Transformer MLP's hidden activation: 8 sequences of 128 tokens, width 768 x 4. */
const HIDDEN = [8, 128, 3072] as const;
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
/** NCHW -> NHWC, for tfjs's spatial ops (channels last only). */
const nhwc = (shape: readonly number[]): [number, number, number, number] => [shape[0]!, shape[2]!, shape[3]!, shape[1]!];

/** forward + backward(g) of `f` on a fresh input gradient each run. */
function forwardBackward(shape: readonly number[], outShape: readonly number[], f: (x: Tensor) => Tensor): () => Run {
  return () => {
    const generator = new Generator(5);
    const x = randn([...shape], { generator, requiresGrad: true });
    const upstream = randn([...outShape], { generator });
    return () => {
      x.grad = null;
      const y = f(x);
      y.backward(upstream);
      return y;
    };
  };
}

export const cases: BenchCase[] = [
  {
    name: `GELU ${HIDDEN.join('x')} fwd+bwd`,
    elements: count(HIDDEN),
    normkit: forwardBackward(HIDDEN, HIDDEN, (x) => gelu(x)),
    tfjs: (tf) => {
      // tfjs has no exact GELU op: the erf form composed, as tfjs-layers' gelu activation does.
      const x = tf.randomNormal([...HIDDEN], 0, 1, 'float32', 1);
      const upstream = tf.randomNormal([...HIDDEN], 0, 1, 'float32', 2);
      const grad = tf.grad((input) => tf.mul(tf.mul(input, 0.5), tf.add(1, tf.erf(tf.div(input, Math.SQRT2)))));
      return () => tf.tidy(() => {
        grad(x, upstream).dataSync();
      });
    },
    torch: { inputs: { x: { shape: HIDDEN, requiresGrad: true } }, forward: 'F.gelu(x)', backward: true },
  },
  {
    name: `maxPool2d 2x2 ${IMAGE.join('x')} fwd+bwd`,
    elements: count(IMAGE),
    normkit: forwardBackward(IMAGE, [32, 64, 16, 16], (x) => maxPool2d(x, 2)),
    tfjs: (tf) => {
      const x = tf.randomNormal<Rank.R4>(nhwc(IMAGE), 0, 1, 'float32', 1);
      const upstream = tf.randomNormal(nhwc([32, 64, 16, 16]), 0, 1, 'float32', 2);
      const grad = tf.grad((input) => tf.maxPool(input as Tensor4D, 2, 2, 'valid'));
      return () => tf.tidy(() => {
        grad(x, upstream).dataSync();
      });
    },
    torch: { inputs: { x: { shape: IMAGE, requiresGrad: true } }, forward: 'F.max_pool2d(x, 2)', backward: true },
  },
  {
    name: `global average pool ${FEATURES.join('x')} fwd+bwd`,
    elements: count(FEATURES),
    normkit: forwardBackward(FEATURES, [32, 256, 1, 1], (x) => adaptiveAvgPool2d(x, 1)),
    tfjs: (tf) => {
      const x = tf.randomNormal(nhwc(FEATURES), 0, 1, 'float32', 1);
      const upstream = tf.randomNormal([32, 1, 1, 256], 0, 1, 'float32', 2);
      const grad = tf.grad((input) => tf.mean(input, [1, 2], true));
      return () => tf.tidy(() => {
        grad(x, upstream).dataSync();
      });
    },
    torch: { inputs: { x: { shape: FEATURES, requiresGrad: true } }, forward: 'F.adaptive_avg_pool2d(x, 1)', backward: true },
  },
  {
    name: `nearest upsample 2x ${SMALL_IMAGE.join('x')} fwd+bwd`,
    elements: count(SMALL_IMAGE),
    normkit: forwardBackward(SMALL_IMAGE, [32, 64, 32, 32], (x) => interpolate(x, { scaleFactor: 2 })),
    tfjs: (tf) => {
      const x = tf.randomNormal<Rank.R4>(nhwc(SMALL_IMAGE), 0, 1, 'float32', 1);
      const upstream = tf.randomNormal(nhwc([32, 64, 32, 32]), 0, 1, 'float32', 2);
      const grad = tf.grad((input) => tf.image.resizeNearestNeighbor(input as Tensor4D, [32, 32]));
      return () => tf.tidy(() => {
        grad(x, upstream).dataSync();
      });
    },
    torch: { inputs: { x: { shape: SMALL_IMAGE, requiresGrad: true } }, forward: "F.interpolate(x, scale_factor=2, mode='nearest')", backward: true },
  },
  {
    name: `bilinear upsample 2x ${SMALL_IMAGE.join('x')} fwd+bwd`,
    elements: count(SMALL_IMAGE),
    normkit: forwardBackward(SMALL_IMAGE, [32, 64, 32, 32], (x) => interpolate(x, { scaleFactor: 2 }, 'bilinear')),
    // PyTorch's align_corners=False is tfjs's halfPixelCenters.
    tfjs: (tf) => {
      const x = tf.randomNormal<Rank.R4>(nhwc(SMALL_IMAGE), 0, 1, 'float32', 1);
      const upstream = tf.randomNormal(nhwc([32, 64, 32, 32]), 0, 1, 'float32', 2);
      const grad = tf.grad((input) => tf.image.resizeBilinear(input as Tensor4D, [32, 32], false, true));
      return () => tf.tidy(() => {
        grad(x, upstream).dataSync();
      });
    },
    torch: {
      inputs: { x: { shape: SMALL_IMAGE, requiresGrad: true } }, forward: "F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)", backward: true,
    },
  },
  {
    name: `sum over N,H,W ${IMAGE.join('x')} fwd`,
    elements: count(IMAGE),
    normkit: () => {
      const x = randn([...IMAGE], { generator: new Generator(6) });
      return () => sum(x, [0, 2, 3]);
    },
    tfjs: (tf) => {
      const x = tf.randomNormal(nhwc(IMAGE), 0, 1, 'float32', 1);
      return () => tf.tidy(() => {
        tf.sum(x, [0, 1, 2]).dataSync();
      });
    },
    torch: { inputs: { x: { shape: IMAGE } }, forward: 'x.sum((0, 2, 3))' },
  },
  {
    name: `modulate per sample and channel ${IMAGE.join('x')} fwd+bwd`,
    elements: count(IMAGE),
    normkit: () => {
      const generator = new Generator(7);
      const x = randn([...IMAGE], { generator, requiresGrad: true });
      const scale = randn([32, 64, 1, 1], { generator, requiresGrad: true });
      const shift = randn([32, 64, 1, 1], { generator, requiresGrad: true });
      const upstream = randn([...IMAGE], { generator });
      return () => {
        x.grad = null;
        scale.grad = null;
        shift.grad = null;
        const y = modulate(x, scale, shift);
        y.backward(upstream);
        return y;
      };
    },
    tfjs: (tf) => {
      const x = tf.randomNormal(nhwc(IMAGE), 0, 1, 'float32', 1);
      const scale = tf.randomNormal([32, 1, 1, 64], 0, 1, 'float32', 2);
      const shift = tf.randomNormal([32, 1, 1, 64], 0, 1, 'float32', 3);
      const upstream = tf.randomNormal(nhwc(IMAGE), 0, 1, 'float32', 4);
      const grads = tf.grads((input, s, t) => tf.add(tf.mul(input, tf.add(s, 1)), t));
      return () => tf.tidy(() => {
        for (const gradient of grads([x, scale, shift], upstream)) gradient.dataSync();
      });
    },
    torch: {
      inputs: { x: { shape: IMAGE, requiresGrad: true }, scale: { shape: [32, 64, 1, 1], requiresGrad: true }, shift: { shape: [32, 64, 1, 1], requiresGrad: true } },
      forward: 'x * (1 + scale) + shift',
      backward: true,
    },
  },
];
