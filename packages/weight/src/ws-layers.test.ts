import { describe, expect, it } from 'vitest';
import {
  Conv2d, DTypeError, Generator, Linear, OptionError, ShapeError, add, conv2d, gradcheck, matmul, reshape, transpose,
} from '@normkit/tensor';
import { expectClose, expectGradcheck } from '@normkit/testkit';
import { fixtureTensor, torchFixtures } from './__fixtures__/torch-weight';
import { gaussian } from './test-support';
import { standardizeWeight, weightStandardization } from './weight-standardization';
import { WSConv2d, WSLinear } from './ws-layers';

describe('WSConv2d', () => {
  it('convolves with the standardized weight (same result as the parametrization on a Conv2d), batched and unbatched', () => {
    const options = { inChannels: 4, outChannels: 6, kernelSize: 3, padding: 1, groups: 2, dtype: 'float64' as const };
    const ws = new WSConv2d({ ...options, generator: new Generator(1) });
    const plain = weightStandardization(new Conv2d({ ...options, generator: new Generator(1) }));
    const x = gaussian([2, 4, 5, 5], 2);
    const expected = conv2d(x, standardizeWeight(ws.weight), ws.bias, { padding: 1, groups: 2 });
    expectClose(ws.forward(x), expected, 1e-13, 1e-12);
    expectClose(plain.forward(x), expected, 1e-13, 1e-12);
    const single = gaussian([4, 5, 5], 3);
    expect(ws.forward(single).shape).toEqual([6, 5, 5]);
    expectClose(ws.forward(single), ws.forward(reshape(single, [1, 4, 5, 5])).data, 1e-15, 0);
    expect(Object.keys(ws.stateDict())).toEqual(['weight', 'bias']);
    expect(ws.fanIn).toBe(2 * 3 * 3);
  });

  it('gradcheck with respect to the input, weight, bias and gain', () => {
    const conv = new WSConv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, gain: true, scale: 0.8, dtype: 'float64', generator: new Generator(4) });
    conv.gain!.data.set([0.5, 1.5, 2]);
    const x = gaussian([1, 2, 3, 3], 5, true);
    expectGradcheck(gradcheck(() => conv.forward(x), [x, conv.weight, conv.bias!, conv.gain!]));
  });

  it("with gain: timm's ScaledStdConv2d (state dict weight, bias, gain [out, 1, 1, 1]); matches its PyTorch output and gradients", () => {
    const fixture = torchFixtures.wsTimmScaled;
    const fanIn = 3 * 3 * 3;
    const conv = new WSConv2d({
      inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1, dtype: 'float64', gain: true, eps: 1e-6, scale: fixture.gamma! / Math.sqrt(fanIn),
    });
    expect(conv.fanIn).toBe(fanIn);
    expect(Object.keys(conv.stateDict())).toEqual(['weight', 'bias', 'gain']);
    expect(conv.gain!.shape).toEqual([4, 1, 1, 1]);
    conv.loadStateDict({ weight: fixtureTensor(fixture.weight), bias: fixtureTensor(fixture.bias), gain: fixtureTensor(fixture.gain) });
    expectClose(conv.standardizedWeight(), fixture.standardized.data, 1e-13, 1e-11);
    const x = fixtureTensor(fixture.x, true);
    const out = conv.forward(x);
    expectClose(out, fixture.output.data, 1e-12, 1e-10);
    out.backward(fixtureTensor(fixture.upstream));
    expectClose(conv.weight.grad!, fixture.grads.weight!.data, 1e-11, 1e-9);
    expectClose(conv.gain!.grad!, fixture.grads.gain!.data, 1e-11, 1e-9);
    expectClose(conv.bias!.grad!, fixture.grads.bias!.data, 1e-11, 1e-9);
    expectClose(x.grad!, fixture.grads.x!.data, 1e-11, 1e-9);
  });

  it('refuses wrong inputs and options with typed errors', () => {
    const conv = new WSConv2d({ inChannels: 2, outChannels: 3, kernelSize: 2 });
    expect(() => conv.forward(gaussian([1, 3, 4, 4], 6).to('float32'))).toThrow(ShapeError);
    expect(() => conv.forward(gaussian([1, 3, 4, 4], 6).to('float32'))).toThrow(/an input of shape \[N, 2, H, W\] or \[2, H, W\]/);
    expect(() => conv.forward(gaussian([1, 2, 4, 4], 6))).toThrow(DTypeError);
    expect(() => new WSConv2d({ inChannels: 2, outChannels: 3, kernelSize: 2, eps: 0 })).toThrow(OptionError);
    expect(() => new WSConv2d({ inChannels: 1, outChannels: 3, kernelSize: 1 })).toThrow(/per unit, which would always read 0/);
  });
});

describe('WSLinear', () => {
  it('multiplies by the standardized weight, any leading dims, with gain and scale', () => {
    const layer = new WSLinear({ inFeatures: 5, outFeatures: 3, gain: true, scale: 0.5, epsMode: 'max', eps: 1e-4, dtype: 'float64', generator: new Generator(7) });
    layer.gain!.data.set([1, 2, 3]);
    expect(layer.gain!.shape).toEqual([3, 1]);
    expect(Object.keys(layer.stateDict())).toEqual(['weight', 'bias', 'gain']);
    const x = gaussian([2, 4, 5], 8);
    const w = standardizeWeight(layer.weight, { gain: layer.gain, scale: 0.5, epsMode: 'max', eps: 1e-4 });
    const expected = reshape(add(matmul(reshape(x, [8, 5]), transpose(w)), layer.bias!), [2, 4, 3]);
    expectClose(layer.forward(x), expected, 1e-14, 1e-12);
    expect(layer.fanIn).toBe(5);
  });

  it('gradcheck with respect to the input, weight, bias and gain', () => {
    const layer = new WSLinear({ inFeatures: 4, outFeatures: 3, gain: true, dtype: 'float64', generator: new Generator(9) });
    const x = gaussian([2, 4], 10, true);
    expectGradcheck(gradcheck(() => layer.forward(x), [x, layer.weight, layer.bias!, layer.gain!]));
  });

  it('refuses a wrong last dim and a dtype mismatch', () => {
    const layer = new WSLinear({ inFeatures: 4, outFeatures: 3 });
    expect(() => layer.forward(gaussian([2, 5], 11).to('float32'))).toThrow(/an input of shape \[\.\.\., 4\]/);
    expect(() => layer.forward(gaussian([2, 4], 11))).toThrow(DTypeError);
    expect(() => new WSLinear({ inFeatures: 1, outFeatures: 3 })).toThrow(ShapeError);
  });

  it('behaves as Linear does with a standardized weight, so parametrizing a Linear gives the same outputs', () => {
    const options = { inFeatures: 6, outFeatures: 2, dtype: 'float64' as const };
    const ws = new WSLinear({ ...options, generator: new Generator(12) });
    const linear = weightStandardization(new Linear({ ...options, generator: new Generator(12) }));
    const x = gaussian([3, 6], 13);
    expectClose(ws.forward(x), linear.forward(x), 1e-14, 1e-13);
  });
});
