// @normkit/norm-free: what its two per-step costs add to training.
// - Adaptive gradient clipping on a ResNet-18-sized parameter set (11.7M values in conv kernels,
//   biases, scaled-WS gains and the classifier), before an SGD momentum step, against the plain
//   step. Both restore the gradients first (a copy), so every run clips the same gradients.
// - A scaled-WS Conv2d (ScaledStdConv2d, the weight standardized at every forward) forward +
//   backward against a plain Conv2d, as in @normkit/weight's cases.
// Each added-cost case names the plain one as its baseline, so the run reports the overhead ratio.
import { ScaledStdConv2d, adaptiveGradientClip } from '@normkit/norm-free';
import { Conv2d, Generator, Parameter, SGD, randn, type Module, type Tensor } from '@normkit/tensor';
import type { BenchCase, Run, TorchSpec } from '../harness';

/** ResNet-18's weight shapes (OIHW convs, the 1000-way classifier); every conv also gets a bias [out] and a gain [out, 1, 1, 1]. */
const RESNET18_CONVS: readonly (readonly [number, number, number])[] = [
  [64, 3, 7],
  ...Array.from({ length: 4 }, () => [64, 64, 3] as const),
  [128, 64, 3], [128, 128, 3], [128, 128, 3], [128, 128, 3], [128, 64, 1],
  [256, 128, 3], [256, 256, 3], [256, 256, 3], [256, 256, 3], [256, 128, 1],
  [512, 256, 3], [512, 512, 3], [512, 512, 3], [512, 512, 3], [512, 256, 1],
];

const SHAPES: readonly (readonly number[])[] = [
  ...RESNET18_CONVS.flatMap(([out, inC, k]) => [[out, inC, k, k], [out], [out, 1, 1, 1]]),
  [1000, 512],
  [1000],
];

const PARAMETERS = SHAPES.reduce((total, shape) => total + shape.reduce((a, b) => a * b, 1), 0);

// Weights N(0, 0.05^2), gradients N(0, 0.002^2): ||G|| / ||W|| = 0.04 per unit, so AGC (clipping 0.01) rescales them.
const WEIGHT_STD = 0.05;
const GRAD_STD = 0.002;

const stepTiming = { warmupRuns: 2, warmupMs: 0, minRuns: 7, maxRuns: 25, targetMs: 3000 };

function optimizerStep(withAgc: boolean): Run {
  const generator = new Generator(1);
  const parameters = SHAPES.map((shape) => {
    const parameter = new Parameter(randn(shape, { generator }));
    parameter.data.forEach((v, i, a) => (a[i] = v * WEIGHT_STD));
    parameter.grad = randn(shape, { generator });
    parameter.grad.data.forEach((v, i, a) => (a[i] = v * GRAD_STD));
    return parameter;
  });
  const pristine = parameters.map((p) => p.grad!.data.slice());
  const optimizer = new SGD(parameters, {
    lr: 1e-4, momentum: 0.9, gradientTransforms: withAgc ? [adaptiveGradientClip({ clipping: 0.01 })] : [],
  });
  return () => {
    parameters.forEach((p, i) => p.grad!.data.set(pristine[i]!));
    return optimizer.step();
  };
}

// timm's adaptive_clip_grad (timm/utils/agc.py), written out.
const TORCH_STEP = [
  `shapes = ${JSON.stringify(SHAPES)}`,
  'params = [nn.Parameter(torch.randn(s) * 0.05) for s in shapes]',
  'grads = [torch.randn(s) * 0.002 for s in shapes]',
  'for p, g in zip(params, grads): p.grad = g.clone()',
  'opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9)',
  'def unitwise_norm(x):',
  '    return x.norm(2.0) if x.ndim <= 1 else x.norm(2.0, dim=tuple(range(1, x.ndim)), keepdim=True)',
  'def adaptive_clip_grad(parameters, clip_factor=0.01, eps=1e-3):',
  '    for p in parameters:',
  '        g = p.grad.detach()',
  '        max_norm = unitwise_norm(p.detach()).clamp_(min=eps).mul_(clip_factor)',
  '        grad_norm = unitwise_norm(g)',
  '        clipped = g * (max_norm / grad_norm.clamp(min=1e-6))',
  '        p.grad.detach().copy_(torch.where(grad_norm < max_norm, g, clipped))',
  'def step(agc):',
  '    for p, g in zip(params, grads): p.grad.copy_(g)',
  '    if agc: adaptive_clip_grad(params)',
  '    opt.step()',
].join('\n');

function torchStep(withAgc: boolean): TorchSpec {
  return { inputs: {}, setup: TORCH_STEP, forward: `step(${withAgc ? 'True' : 'False'})` };
}

const CONV = { channels: 64, kernel: 3, input: [8, 64, 16, 16] as const };
const convTiming = { warmupRuns: 2, warmupMs: 0, minRuns: 7, maxRuns: 25, targetMs: 3000 };

/** forward + backward(g), every gradient reset first. */
function trainingStep(module: Module & { forward(x: Tensor): Tensor }): Run {
  const generator = new Generator(2);
  const x = randn(CONV.input, { generator, requiresGrad: true });
  const upstream = randn(CONV.input, { generator });
  return () => {
    x.grad = null;
    module.zeroGrad();
    const y = module.forward(x);
    y.backward(upstream);
    return y;
  };
}

// timm's ScaledStdConv2d (timm/layers/std_conv.py), written out: F.batch_norm over the weight.
const TORCH_SCALED_CONV = [
  'class ScaledStdConv2d(nn.Conv2d):',
  '    def __init__(self, *args, gamma=1.0, eps=1e-6, **kwargs):',
  '        super().__init__(*args, **kwargs)',
  '        self.gain = nn.Parameter(torch.ones(self.out_channels, 1, 1, 1))',
  '        self.scale = gamma * self.weight[0].numel() ** -0.5',
  '        self.eps = eps',
  '    def forward(self, x):',
  '        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,',
  '            weight=(self.gain * self.scale).view(-1), training=True, momentum=0., eps=self.eps).reshape_as(self.weight)',
  '        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)',
  `conv = ScaledStdConv2d(${CONV.channels}, ${CONV.channels}, ${CONV.kernel}, padding=1, gamma=1.7139588594436646)`,
].join('\n');

const stepName = (agc: boolean) => `SGD step ResNet-18 params (${(PARAMETERS / 1e6).toFixed(1)}M)${agc ? ' + AGC' : ''}`;
const convName = (scaled: boolean) => `Conv2d 64->64 k3 8x16x16 ${scaled ? 'scaled WS' : 'plain'} fwd+bwd`;

export const cases: BenchCase[] = [
  { name: stepName(false), elements: PARAMETERS, timing: stepTiming, normkit: () => optimizerStep(false), torch: torchStep(false) },
  { name: stepName(true), elements: PARAMETERS, timing: stepTiming, baseline: stepName(false), normkit: () => optimizerStep(true), torch: torchStep(true) },
  {
    name: convName(false),
    elements: CONV.channels * CONV.channels * CONV.kernel * CONV.kernel,
    threadScaling: true,
    timing: convTiming,
    normkit: () => trainingStep(new Conv2d({ inChannels: CONV.channels, outChannels: CONV.channels, kernelSize: CONV.kernel, padding: 1, generator: new Generator(1) })),
    torch: { inputs: { x: { shape: CONV.input, requiresGrad: true } }, setup: `conv = nn.Conv2d(${CONV.channels}, ${CONV.channels}, ${CONV.kernel}, padding=1)`, forward: 'conv(x)', backward: true },
  },
  {
    name: convName(true),
    elements: CONV.channels * CONV.channels * CONV.kernel * CONV.kernel,
    timing: convTiming,
    baseline: convName(false),
    normkit: () =>
      trainingStep(new ScaledStdConv2d({ inChannels: CONV.channels, outChannels: CONV.channels, kernelSize: CONV.kernel, padding: 1, nonlinearity: 'relu', generator: new Generator(1) })),
    torch: { inputs: { x: { shape: CONV.input, requiresGrad: true } }, setup: TORCH_SCALED_CONV, forward: 'conv(x)', backward: true },
  },
];
