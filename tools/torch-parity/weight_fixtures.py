"""PyTorch reference values for @normkit/weight (weight norm, spectral norm, weight standardization).

Writes packages/weight/src/__fixtures__/torch-weight.json: float64 forward outputs, gradients,
power-iteration buffers and state dicts (with PyTorch's key names) for
  - torch.nn.utils.parametrizations.spectral_norm on Linear, Conv2d, ConvTranspose2d (dim 1) and a
    1-D tensor, through training steps (with a plain SGD update between them) and an eval read;
  - weight norm as PyTorch 2's torch.nn.utils.parametrizations.weight_norm defines it (not in 1.13:
    written out below with torch._weight_norm and torch.norm_except_dim, exactly as in 2.x), for
    dim 0, dim 1 and dim None (PyTorch's -1: one norm over the whole tensor);
  - weight norm chained with spectral norm (state-dict keys of a chain);
  - weight standardization composed from torch ops: the WS formula with a biased variance, timm's
    ScaledStdConv2d (F.batch_norm over the weight, gain * gamma / sqrt(fan_in)) and DeepMind's
    NFNets form (rsqrt(max(var * fan_in, eps)) * gain).

Run from the repo root with Debian's PyTorch (apt-get install -y python3-torch):
    /usr/bin/python3 tools/torch-parity/weight_fixtures.py
Every loss is sum(output * upstream) with a stored random `upstream`, so the tests can replay it.
"""
import json
import math
import pathlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

torch.manual_seed(2024)
torch.set_default_dtype(torch.float64)
OUT = pathlib.Path(__file__).resolve().parents[2] / 'packages' / 'weight' / 'src' / '__fixtures__'
LEARNING_RATE = 0.1


def entry(t):
    t = t.detach()
    return {'shape': list(t.shape), 'data': t.reshape(-1).tolist()}


def state_dict_entries(module):
    return {key: entry(value) for key, value in module.state_dict().items()}


def param_grads(module):
    return {name: entry(p.grad) for name, p in module.named_parameters() if p.grad is not None}


def step(module, x, mode):
    """One read in `mode`: forward, backward of sum(out * upstream), then (in training) an SGD step."""
    module.train(mode == 'train')
    x = x.clone().requires_grad_(True)
    module.zero_grad(set_to_none=True)
    out = module(x)
    upstream = torch.randn(out.shape)
    (out * upstream).sum().backward()
    record = {
        'mode': mode,
        'x': entry(x),
        'output': entry(out),
        'upstream': entry(upstream),
        'gradX': entry(x.grad),
        'grads': param_grads(module),
        # Buffers (u, v) and parameters after the read, before the SGD step.
        'stateAfter': state_dict_entries(module),
    }
    if mode == 'train':
        with torch.no_grad():
            for p in module.parameters():
                p -= LEARNING_RATE * p.grad
    return record


def spectral_case(module, name, inputs, modes, n_power_iterations=1, dim=None):
    """spectral_norm on module.<name>; u and v overwritten with stored random unit vectors first."""
    spectral_norm(module, name=name, n_power_iterations=n_power_iterations, dim=dim)
    sn = getattr(module.parametrizations, name)[0]
    if hasattr(sn, '_u'):
        with torch.no_grad():
            sn._u.copy_(F.normalize(torch.randn(sn._u.shape), dim=0))
            sn._v.copy_(F.normalize(torch.randn(sn._v.shape), dim=0))
    initial = state_dict_entries(module)
    steps = [step(module, x, mode) for x, mode in zip(inputs, modes)]
    return {
        'nPowerIterations': n_power_iterations,
        'dim': sn.dim if hasattr(sn, 'dim') else None,
        'stateDictKeys': list(module.state_dict().keys()),
        'initialState': initial,
        'steps': steps,
    }


cases = {}

linear = nn.Linear(5, 4)
cases['spectralLinear'] = spectral_case(linear, 'weight', [torch.randn(3, 5) for _ in range(4)], ['train', 'train', 'train', 'eval'])

conv = nn.Conv2d(3, 4, 3, padding=1)
cases['spectralConv2d'] = spectral_case(conv, 'weight', [torch.randn(2, 3, 5, 5) for _ in range(3)], ['train', 'train', 'eval'], n_power_iterations=2)

deconv = nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1)
cases['spectralConvTranspose2d'] = spectral_case(deconv, 'weight', [torch.randn(2, 4, 3, 3) for _ in range(2)], ['train', 'eval'])

vector = nn.Linear(4, 6)
cases['spectralBias'] = spectral_case(vector, 'bias', [torch.randn(2, 4) for _ in range(2)], ['train', 'eval'])


class WeightNorm(nn.Module):
    """torch.nn.utils.parametrizations._WeightNorm of PyTorch 2.x, verbatim in substance."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return torch._weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return torch.norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name='weight', dim=0):
    parametrize.register_parametrization(module, name, WeightNorm(dim), unsafe=True)
    return module


def weight_norm_case(module, dim, x):
    before = {key: entry(value) for key, value in module.state_dict().items()}
    weight_norm(module, dim=dim)
    record = step(module, x, 'train')
    return {'dim': dim, 'plainState': before, 'stateDictKeys': list(module.state_dict().keys()), 'step': record}


cases['weightNormLinear'] = weight_norm_case(nn.Linear(5, 4), 0, torch.randn(3, 5))
cases['weightNormConv2d'] = weight_norm_case(nn.Conv2d(3, 4, 3), 0, torch.randn(2, 3, 5, 5))
cases['weightNormConv2dDim1'] = weight_norm_case(nn.Conv2d(3, 4, 3), 1, torch.randn(2, 3, 5, 5))
cases['weightNormWhole'] = weight_norm_case(nn.Linear(5, 4), None, torch.randn(3, 5))

# A chain: weight norm first (two originals), spectral norm second (its buffers under 1.).
chained = nn.Linear(5, 4)
weight_norm(chained)
spectral_norm(chained)
with torch.no_grad():
    sn = chained.parametrizations.weight[1]
    sn._u.copy_(F.normalize(torch.randn(sn._u.shape), dim=0))
    sn._v.copy_(F.normalize(torch.randn(sn._v.shape), dim=0))
cases['chainWeightNormSpectralNorm'] = {
    'stateDictKeys': list(chained.state_dict().keys()),
    'initialState': state_dict_entries(chained),
    'steps': [step(chained, torch.randn(3, 5), 'eval'), step(chained, torch.randn(3, 5), 'train')],
}


def ws_case(weight_shape, standardize, x, conv_options, extra=None):
    """Conv2d with a standardized weight, every tensor a leaf; standardize(weight, **extra) -> weight."""
    weight = torch.randn(weight_shape)
    if extra is not None and 'flat_unit' in extra:
        # One output channel with a tiny spread, so the eps clamp of the 'max' form is active for it.
        with torch.no_grad():
            weight[extra['flat_unit']] = 0.3 + 1e-4 * torch.randn(weight_shape[1:])
    weight.requires_grad_(True)
    bias = torch.randn(weight_shape[0]).requires_grad_(True)
    gain = torch.rand(weight_shape[0], 1, 1, 1).add(0.5).requires_grad_(True)
    x = x.requires_grad_(True)
    w_hat = standardize(weight, gain)
    out = F.conv2d(x, w_hat, bias, **conv_options)
    upstream = torch.randn(out.shape)
    (out * upstream).sum().backward()
    return {
        'weight': entry(weight), 'bias': entry(bias), 'gain': entry(gain), 'x': entry(x),
        'standardized': entry(w_hat), 'output': entry(out), 'upstream': entry(upstream),
        'grads': {name: entry(t.grad) for name, t in [('weight', weight), ('bias', bias), ('gain', gain), ('x', x)] if t.grad is not None},
        'options': conv_options,
    }


def plain_ws(weight, _gain, eps=1e-5):
    mean = weight.mean(dim=(1, 2, 3), keepdim=True)
    var = weight.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return (weight - mean) / torch.sqrt(var + eps)


RELU_GAMMA = 1.7139588594436646


def timm_scaled_ws(weight, gain, eps=1e-6):
    """timm.layers.std_conv.ScaledStdConv2d.forward's weight, verbatim."""
    fan_in = weight[0].numel()
    scale = RELU_GAMMA * fan_in ** -0.5
    return F.batch_norm(weight.reshape(1, weight.shape[0], -1), None, None,
                        weight=(gain * scale).view(-1), training=True, momentum=0., eps=eps).reshape_as(weight)


def deepmind_scaled_ws(weight, gain, eps=1e-4):
    """nfnets/base.py WSConv2D.standardize_weight (haiku), in PyTorch's OIHW layout."""
    fan_in = weight[0].numel()
    mean = weight.mean(dim=(1, 2, 3), keepdim=True)
    var = weight.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
    scale = torch.rsqrt(torch.clamp(var * fan_in, min=eps)) * gain
    shift = mean * scale
    return weight * scale - shift


conv_options = {'stride': 1, 'padding': 1}
cases['wsPlain'] = ws_case([4, 3, 3, 3], plain_ws, torch.randn(2, 3, 5, 5), conv_options)
cases['wsTimmScaled'] = ws_case([4, 3, 3, 3], timm_scaled_ws, torch.randn(2, 3, 5, 5), conv_options)
cases['wsTimmScaled']['gamma'] = RELU_GAMMA
cases['wsDeepMind'] = ws_case([4, 3, 3, 3], deepmind_scaled_ws, torch.randn(2, 3, 5, 5), conv_options, {'flat_unit': 2})

OUT.mkdir(parents=True, exist_ok=True)
meta = {'torch': torch.__version__, 'learningRate': LEARNING_RATE, 'script': 'tools/torch-parity/weight_fixtures.py'}
(OUT / 'torch-weight.json').write_text(json.dumps({'meta': meta, **cases}, indent=None, separators=(',', ':')) + '\n')
print(f'wrote {OUT / "torch-weight.json"}')
