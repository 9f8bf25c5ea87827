"""Writes torch-evo-norm.json: timm's EvoNorm2dB0 and EvoNorm2dS0 (timm/layers/evo_norm.py, whose
forward code is transcribed below: timm is not installed here) run by PyTorch in float64, for
evo-norm.test.ts. Run: /usr/bin/python3 generate-torch-evo-norm.py (PyTorch 1.13)."""
import json
import os

import torch

torch.manual_seed(0)
dt = torch.float64


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


# timm: instance_std, group_std (flatten=False), EvoNorm2dB0.forward, EvoNorm2dS0.forward. timm's
# `x.float()` / `.to(x_dtype)` around the statistics are left out: on a float64 input they would
# round the statistics to float32 (timm upcasts half inputs with them), and these fixtures are float64.
def instance_std(x, eps=1e-5):
    std = x.var(dim=(2, 3), unbiased=False, keepdim=True).add(eps).sqrt()
    return std.expand(x.shape)


def group_std(x, groups=32, eps=1e-5):
    B, C, H, W = x.shape
    x = x.reshape(B, groups, C // groups, H, W)
    std = x.var(dim=(2, 3, 4), unbiased=False, keepdim=True).add(eps).sqrt()
    return std.expand(x.shape).reshape(B, C, H, W)


def evo_b0(x, weight, bias, v, running_var, training, momentum, eps):
    v_shape = (1, -1, 1, 1)
    if training:
        var = x.var(dim=(0, 2, 3), unbiased=False)
        n = x.numel() / x.shape[1]
        running_var.copy_(running_var * (1 - momentum) + var.detach() * momentum * (n / (n - 1)))
    else:
        var = running_var
    left = var.add(eps).sqrt_().view(v_shape).expand_as(x)
    right = x * v.view(v_shape) + instance_std(x, eps)
    x = x / left.max(right)
    return x * weight.view(v_shape) + bias.view(v_shape)


def evo_s0(x, weight, bias, v, groups, eps):
    v_shape = (1, -1, 1, 1)
    x = x * (x * v.view(v_shape)).sigmoid() / group_std(x, groups, eps)
    return x * weight.view(v_shape) + bias.view(v_shape)


def param(c, scale, offset):
    return (torch.randn(c, dtype=dt) * scale + offset).requires_grad_()


s0 = []
for shape, groups, eps in [((2, 8, 3, 3), 4, 1e-5), ((3, 6, 2, 4), 1, 1e-3), ((2, 4, 1, 1), 4, 1e-5)]:
    c = shape[1]
    x = (torch.randn(*shape, dtype=dt) * 1.5 + 0.2).requires_grad_()
    weight, bias, v = param(c, 0.5, 1.0), param(c, 0.5, 0.0), param(c, 0.7, 0.5)
    y = evo_s0(x, weight, bias, v, groups, eps)
    g = torch.randn_like(y)
    y.backward(g)
    s0.append({
        'shape': list(shape), 'groups': groups, 'eps': eps, 'x': flat(x), 'weight': flat(weight), 'bias': flat(bias), 'v': flat(v),
        'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad), 'gradWeight': flat(weight.grad), 'gradBias': flat(bias.grad), 'gradV': flat(v.grad),
    })

# B0: two training steps then one eval step, on one module state (running_var carried over).
b0 = []
for shape, momentum, eps in [((4, 3, 3, 2), 0.1, 1e-3), ((2, 5, 2, 2), 0.3, 1e-5)]:
    c = shape[1]
    weight, bias, v = param(c, 0.5, 1.0), param(c, 0.5, 0.0), param(c, 1.0, 0.0)
    running_var = torch.ones(c, dtype=dt)
    initial = {'weight': flat(weight), 'bias': flat(bias), 'v': flat(v)}
    steps = []
    for training in [True, True, False]:
        for p in (weight, bias, v):
            p.grad = None
        x = (torch.randn(*shape, dtype=dt) * 1.5 + 0.3).requires_grad_()
        y = evo_b0(x, weight, bias, v, running_var, training, momentum, eps)
        g = torch.randn_like(y)
        y.backward(g)
        steps.append({
            'training': training, 'x': flat(x), 'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad), 'gradWeight': flat(weight.grad),
            'gradBias': flat(bias.grad), 'gradV': flat(v.grad), 'runningVar': flat(running_var),
        })
    b0.append({'shape': list(shape), 'momentum': momentum, 'eps': eps, **initial, 'steps': steps})

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-evo-norm.json'), 'w') as f:
    json.dump({'torch': torch.__version__, 'evoNormS0': s0, 'evoNormB0': b0}, f)
