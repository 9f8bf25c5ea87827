import { describe, expect, it } from 'vitest';
import { fixtureTensor, nnLayerFixtures, type ConvSweepCase, type FixtureCase } from '../__fixtures__/nn-layers';
import { getBackend, setBackend } from '../kernels/backend';
import { randn } from '../creation';
import { DTypeError, OptionError, ShapeError } from '../errors';
import { gradcheck } from '../gradcheck';
import { mul } from '../ops/elementwise';
import { unsqueeze } from '../ops/shape';
import { Generator } from '../random';
import { Tensor } from '../tensor';
import { expectClose, expectGradcheck } from '../test-utils';
import { Conv2d, ConvTranspose2d } from './conv2d';

const f64 = { dtype: 'float64' as const };

/** Direct-definition cross-correlation with plain loops (stride, padding, dilation, groups). */
function referenceConv2d(
  x: Tensor, w: Tensor, b: Tensor | null, stride: [number, number], padding: [number, number], dilation: [number, number], groups: number,
): { data: Float64Array; shape: number[] } {
  const [N, C, H, W] = x.shape as [number, number, number, number];
  const [O, Cg, KH, KW] = w.shape as [number, number, number, number];
  const OH = Math.floor((H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) / stride[0]) + 1;
  const OW = Math.floor((W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) / stride[1]) + 1;
  const out = new Float64Array(N * O * OH * OW);
  const perGroup = O / groups;
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    const g = Math.floor(o / perGroup);
    let total = b ? b.data[o]! : 0;
    for (let c = 0; c < Cg; c++) for (let i = 0; i < KH; i++) for (let j = 0; j < KW; j++) {
      const h = oh * stride[0] - padding[0] + i * dilation[0];
      const v = ow * stride[1] - padding[1] + j * dilation[1];
      if (h < 0 || h >= H || v < 0 || v >= W) continue;
      total += x.data[((n * C + g * Cg + c) * H + h) * W + v]! * w.data[((o * Cg + c) * KH + i) * KW + j]!;
    }
    out[((n * O + o) * OH + oh) * OW + ow] = total;
  }
  return { data: out, shape: [N, O, OH, OW] };
}

function checkAgainstTorch(fixture: FixtureCase, module: Conv2d | ConvTranspose2d): void {
  module.loadStateDict({ weight: fixtureTensor(fixture.inputs.weight!), bias: fixtureTensor(fixture.inputs.bias!) });
  const x = fixtureTensor(fixture.inputs.x!, true);
  const y = module.forward(x);
  expect(y.shape).toEqual(fixture.output.shape);
  expectClose(y, fixture.output.data, 1e-12);
  y.backward(Float64Array.from(fixture.upstream.data));
  expectClose(x.grad!, fixture.grads.x!.data, 1e-12);
  expectClose(module.weight.grad!, fixture.grads.weight!.data, 1e-12);
  expectClose(module.bias!.grad!, fixture.grads.bias!.data, 1e-12);
}

describe('Conv2d', () => {
  it('matches a direct loop reference with stride, padding, dilation and groups', () => {
    const conv = new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: [3, 2], stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2, ...f64 });
    const x = randn([2, 4, 7, 6], f64);
    const expected = referenceConv2d(x, conv.weight, conv.bias, [2, 1], [1, 0], [1, 2], 2);
    const y = conv.forward(x);
    expect(y.shape).toEqual(expected.shape);
    expectClose(y, expected.data, 1e-12);
  });

  it('matches PyTorch F.conv2d, output and every gradient', () => {
    checkAgainstTorch(nnLayerFixtures.conv2d, new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 1, groups: 2, ...f64 }));
  });

  it('passes gradcheck in float64 for the input, weight and bias', () => {
    const conv = new Conv2d({ inChannels: 2, outChannels: 2, kernelSize: 2, stride: 1, padding: 1, ...f64, generator: new Generator(0) });
    const x = randn([1, 2, 3, 3], { ...f64, requiresGrad: true });
    expectGradcheck(gradcheck((input) => conv.forward(input), [x, conv.weight, conv.bias!]));
  });

  it("has PyTorch's parameter names, shapes and default bounds", () => {
    const conv = new Conv2d({ inChannels: 6, outChannels: 8, kernelSize: 3, groups: 2, generator: new Generator(1) });
    const dict = conv.stateDict();
    expect(Object.keys(dict)).toEqual(['weight', 'bias']);
    expect(dict.weight!.shape).toEqual([8, 3, 3, 3]);
    expect(dict.bias!.shape).toEqual([8]);
    const bound = 1 / Math.sqrt(3 * 3 * 3);
    for (const p of [conv.weight, conv.bias!]) expect(Math.max(...p.data.map(Math.abs))).toBeLessThan(bound);
    expect(Object.keys(new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 1, bias: false }).stateDict())).toEqual(['weight']);
  });

  it("keeps H and W with padding 'same' and accepts unbatched [C, H, W]", () => {
    const conv = new Conv2d({ inChannels: 3, outChannels: 5, kernelSize: [3, 5], dilation: 2, padding: 'same', ...f64 });
    expect(conv.padding).toEqual([2, 4]);
    expect(conv.forward(randn([2, 3, 6, 7], f64)).shape).toEqual([2, 5, 6, 7]);
    const single = randn([3, 6, 7], f64);
    const unbatched = conv.forward(single);
    expect(unbatched.shape).toEqual([5, 6, 7]);
    expectClose(unbatched, conv.forward(unsqueeze(single, 0)), 0);
    expect(new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 3, padding: 'valid' }).padding).toEqual([0, 0]);
  });

  it('reads this.weight at forward time (weight parametrizations replace it with a getter)', () => {
    const conv = new Conv2d({ inChannels: 1, outChannels: 1, kernelSize: 2, bias: false, ...f64 });
    const original = conv.weight;
    Object.defineProperty(conv, 'weight', { get: () => mul(original, -3), configurable: true });
    const x = randn([1, 1, 3, 3], f64);
    expectClose(conv.forward(x), referenceConv2d(x, mul(original, -3), null, [1, 1], [0, 0], [1, 1], 1).data, 1e-12);
  });

  it('refuses wrong channels, ranks, dtypes and options with clear errors', () => {
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3 });
    expect(() => conv.forward(randn([2, 4, 8, 8]))).toThrow(ShapeError);
    expect(() => conv.forward(randn([2, 4, 8, 8]))).toThrow(
      'Conv2d.forward: expected an input of shape [N, 3, H, W] or [3, H, W] (channels = inChannels = 3), got [2, 4, 8, 8]',
    );
    expect(() => conv.forward(randn([8, 8]))).toThrow(ShapeError);
    expect(() => conv.forward(randn([1, 3, 8, 8], f64))).toThrow(DTypeError);
    expect(() => conv.forward(randn([1, 3, 2, 2]))).toThrow(/output size >= 1/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 })).toThrow(OptionError);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 })).toThrow(/inChannels divisible by groups \(2\)/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 0 })).toThrow(/kernelSize to be an integer >= 1/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 2, padding: 'same' })).toThrow(/even total padding/);
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 'same' })).toThrow(/stride 1 with padding 'same'/);
  });
});

describe('ConvTranspose2d', () => {
  it('matches PyTorch F.conv_transpose2d, output and every gradient', () => {
    checkAgainstTorch(
      nnLayerFixtures.convTranspose2d,
      new ConvTranspose2d({ inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 1, outputPadding: 1, groups: 2, ...f64 }),
    );
  });

  it('is the adjoint of Conv2d with the same weight: <conv(u), v> = <u, convT(v)>', () => {
    const options = { inChannels: 3, kernelSize: 3, stride: 2, padding: 1, bias: false, ...f64 } as const;
    const deconv = new ConvTranspose2d({ ...options, outChannels: 2 });
    const conv = new Conv2d({ ...options, inChannels: 2, outChannels: 3 });
    conv.loadStateDict({ weight: deconv.weight });
    const u = randn([1, 2, 9, 9], f64);
    const v = randn([1, 3, 5, 5], f64);
    const convU = conv.forward(u);
    const deconvV = deconv.forward(v, [9, 9]);
    let left = 0;
    let right = 0;
    for (let i = 0; i < v.size; i++) left += convU.data[i]! * v.data[i]!;
    for (let i = 0; i < u.size; i++) right += u.data[i]! * deconvV.data[i]!;
    expect(left).toBeCloseTo(right, 10);
  });

  it('passes gradcheck in float64', () => {
    const deconv = new ConvTranspose2d({ inChannels: 2, outChannels: 2, kernelSize: 2, stride: 2, ...f64, generator: new Generator(3) });
    const x = randn([1, 2, 2, 2], { ...f64, requiresGrad: true });
    expectGradcheck(gradcheck((input) => deconv.forward(input), [x, deconv.weight, deconv.bias!]));
  });

  it("has PyTorch's weight layout [in, out / groups, kH, kW] and fanIn for the bounds", () => {
    const deconv = new ConvTranspose2d({ inChannels: 4, outChannels: 6, kernelSize: [2, 3], groups: 2, generator: new Generator(4) });
    expect(Object.keys(deconv.stateDict())).toEqual(['weight', 'bias']);
    expect(deconv.weight.shape).toEqual([4, 3, 2, 3]);
    const bound = 1 / Math.sqrt(3 * 2 * 3);
    expect(Math.max(...deconv.bias!.data.map(Math.abs))).toBeLessThan(bound);
  });

  it('chooses the output padding from outputSize, and refuses sizes out of reach', () => {
    const deconv = new ConvTranspose2d({ inChannels: 1, outChannels: 1, kernelSize: 3, stride: 2, padding: 1 });
    const x = randn([1, 1, 4, 4]);
    expect(deconv.forward(x).shape).toEqual([1, 1, 7, 7]);
    expect(deconv.forward(x, [8, 7]).shape).toEqual([1, 1, 8, 7]);
    expect(deconv.forward(randn([1, 4, 4]), [1, 8, 8]).shape).toEqual([1, 8, 8]);
    expect(() => deconv.forward(x, [9, 7])).toThrow(ShapeError);
    expect(() => deconv.forward(x, [9, 7])).toThrow(/outputSize\[0\] in \[7, 8\]/);
  });

  it('refuses wrong channels and an output padding not below the stride', () => {
    const deconv = new ConvTranspose2d({ inChannels: 2, outChannels: 3, kernelSize: 3 });
    expect(() => deconv.forward(randn([1, 3, 4, 4]))).toThrow(/\[N, 2, H, W\] or \[2, H, W\].*got \[1, 3, 4, 4\]/);
    expect(() => new ConvTranspose2d({ inChannels: 2, outChannels: 3, kernelSize: 3, stride: 2, outputPadding: 2 })).toThrow(OptionError);
  });
});

describe('Conv2d and ConvTranspose2d in float32 against PyTorch, on both backends', () => {
  const pair = (value: number | [number, number]): [number, number] => (typeof value === 'number' ? [value, value] : value);

  function build(c: ConvSweepCase, dtype: 'float32' | 'float64'): Conv2d | ConvTranspose2d {
    const [inChannels, kernelSize] = [c.inputs.x!.shape[1]!, c.kernel];
    const { stride, padding, dilation, groups } = c.options;
    const common = { inChannels, outChannels: c.outChannels, kernelSize, stride: pair(stride), padding: pair(padding), dilation: pair(dilation), groups, dtype };
    return c.kind === 'conv2d' ? new Conv2d(common) : new ConvTranspose2d({ ...common, outputPadding: c.options.output_padding ?? 0 });
  }

  /** Output and gradients of `module` on (x, upstream), with its weight and bias set. */
  function run(module: Conv2d | ConvTranspose2d, x: Tensor, weight: Tensor, bias: Tensor, upstream: Tensor) {
    module.loadStateDict({ weight, bias });
    const y = module.forward(x);
    y.backward(upstream);
    return { output: y.data, x: x.grad!.data, weight: module.weight.grad!.data, bias: module.bias!.grad!.data };
  }

  /** The wasm backend's gate: a convolution under 4,096 multiply-adds per group (depthwise: in all) runs the js loops there. */
  function reachesWasm(c: ConvSweepCase): boolean {
    const [, inChannels, height, width] = c.inputs.x!.shape as [number, number, number, number];
    const outShape = c.output.shape as [number, number, number, number];
    const groups = c.options.groups;
    // ConvTranspose2d runs as the mirrored convolution (its output is that convolution's input).
    const [convIn, convOut, plane] = c.kind === 'conv2d' ? [inChannels, c.outChannels, outShape[2] * outShape[3]] : [c.outChannels, inChannels, height * width];
    const patch = (convIn / groups) * c.kernel[0] * c.kernel[1];
    const depthwise = groups === convIn && groups === convOut;
    return (depthwise ? outShape[0] * convOut * patch * plane : (convOut / groups) * patch * plane) >= 4096;
  }

  it('every result within the float32 summation bound of PyTorch float64 result (im2col, 1x1, depthwise, groups, dilation, transposed)', () => {
    const before = getBackend();
    try {
      for (const c of nnLayerFixtures.convSweep) {
        const label = `${c.kind} x ${c.inputs.x!.shape.join('x')} -> ${c.outChannels} kernel ${c.kernel.join('x')} ${JSON.stringify(c.options)}`;
        expect(reachesWasm(c), `${label}: large enough for the wasm module`).toBe(true);
        const operands = (dtype: 'float32' | 'float64', absolute: boolean) => {
          const make = (entry: { data: number[]; shape: number[] }, requiresGrad = false) => {
            const values = entry.data.map((v) => (absolute ? Math.abs(Math.fround(v)) : Math.fround(v)));
            return new Tensor(dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values), entry.shape, requiresGrad);
          };
          return [make(c.inputs.x!, true), make(c.inputs.weight!), make(c.inputs.bias!), make(c.upstream)] as const;
        };
        // The magnitude of every result: the same computation on |operands| (every term non-negative), in float64.
        const magnitude = run(build(c, 'float64'), ...operands('float64', true));
        const [groups, [kH, kW]] = [c.options.groups, c.kernel];
        const inChannels = c.inputs.x!.shape[1]!;
        const outPlane = c.output.shape[2]! * c.output.shape[3]! * c.output.shape[0]!;
        const inPlane = c.inputs.x!.shape[2]! * c.inputs.x!.shape[3]! * c.inputs.x!.shape[0]!;
        // Terms per result, an upper bound for each (an output sums a patch and the bias; weights sum over every position).
        const terms = { output: ((c.kind === 'conv2d' ? inChannels : c.outChannels) / groups) * kH * kW + 1, x: (c.outChannels + inChannels) * kH * kW, weight: Math.max(outPlane, inPlane), bias: outPlane };
        const reference = { output: c.output.data, x: c.grads.x!.data, weight: c.grads.weight!.data, bias: c.grads.bias!.data };
        for (const backend of ['js', 'wasm'] as const) {
          setBackend(backend);
          const got = run(build(c, 'float32'), ...operands('float32', false));
          for (const key of ['output', 'x', 'weight', 'bias'] as const) {
            expect(got[key].length, `${label} ${key} length`).toBe(reference[key].length);
            for (let i = 0; i < got[key].length; i++) {
              const bound = 2 * (terms[key] + 2) * 2 ** -24 * magnitude[key][i]! + 1e-6 * 2 ** -24;
              const error = Math.abs(got[key][i]! - reference[key][i]!);
              if (!(error <= bound)) expect.fail(`${backend} ${label} ${key}[${i}]: ${got[key][i]}, PyTorch ${reference[key][i]}, |diff| ${error} > ${bound}`);
            }
          }
        }
      }
    } finally {
      setBackend(before);
    }
  });
});
