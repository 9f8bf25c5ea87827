"""Writes torch-group.json: PyTorch (float64) forwards, gradients and running statistics that
the group package's tests compare against. Run: /usr/bin/python3 generate-torch.py (PyTorch 1.13)."""
import json
import os

import torch

torch.manual_seed(0)
dt = torch.float64


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def leaf(shape, scale=1.0, offset=0.0):
    return (torch.randn(*shape, dtype=dt) * scale + offset).requires_grad_()


fixtures = {'torch': torch.__version__}

# GroupNorm: 6 channels in 3 groups, random affine, eps 1e-5.
x = leaf((2, 6, 3, 2), 2.0, 0.5)
gn = torch.nn.GroupNorm(3, 6, eps=1e-5).to(dt)
with torch.no_grad():
    gn.weight.copy_(torch.randn(6, dtype=dt))
    gn.bias.copy_(torch.randn(6, dtype=dt))
y = gn(x)
g = torch.randn_like(y)
y.backward(g)
fixtures['groupNorm'] = {
    'shape': list(x.shape), 'numGroups': 3, 'eps': 1e-5, 'x': flat(x), 'weight': flat(gn.weight), 'bias': flat(gn.bias),
    'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad), 'gradWeight': flat(gn.weight.grad), 'gradBias': flat(gn.bias.grad),
}

# InstanceNorm2d with running statistics: two training steps, then eval.
inorm = torch.nn.InstanceNorm2d(4, eps=1e-5, momentum=0.2, affine=True, track_running_stats=True).to(dt)
with torch.no_grad():
    inorm.weight.copy_(torch.randn(4, dtype=dt))
    inorm.bias.copy_(torch.randn(4, dtype=dt))
steps = []
for step in range(2):
    xs = leaf((3, 4, 3, 3), 1.5, 0.3 * (step + 1))
    inorm.zero_grad()
    ys = inorm(xs)
    gs = torch.randn_like(ys)
    ys.backward(gs)
    steps.append({
        'x': flat(xs), 'y': flat(ys), 'upstream': flat(gs), 'gradX': flat(xs.grad), 'gradWeight': flat(inorm.weight.grad),
        'gradBias': flat(inorm.bias.grad), 'runningMean': flat(inorm.running_mean), 'runningVar': flat(inorm.running_var),
    })
inorm.eval()
xe = torch.randn(2, 4, 3, 3, dtype=dt)
fixtures['instanceNorm'] = {
    'shape': [3, 4, 3, 3], 'evalShape': list(xe.shape), 'momentum': 0.2, 'eps': 1e-5,
    'weight': flat(inorm.weight), 'bias': flat(inorm.bias), 'steps': steps, 'evalX': flat(xe), 'evalY': flat(inorm(xe)),
    'stateDictKeys': list(inorm.state_dict().keys()), 'numBatchesTracked': int(inorm.num_batches_tracked),
}


# FRN + TLU with the learned epsilon, as the reference code writes it.
def frn_tlu(x, weight, bias, tau, eps, eps_learned):
    nu2 = x.pow(2).mean(dim=tuple(range(2, x.dim())), keepdim=True)
    view = (1, -1) + (1,) * (x.dim() - 2)
    y = x * torch.rsqrt(nu2 + eps + eps_learned.abs()) * weight.view(view) + bias.view(view)
    return torch.max(y, tau.view(view))


cases = []
for shape in [(2, 3, 4, 3), (2, 3, 1, 1)]:
    x = leaf(shape, 1.0, 0.2)
    c = shape[1]
    weight = leaf((c,), 0.5, 1.0)
    bias = leaf((c,), 0.3)
    tau = leaf((c,), 0.3, -0.1)
    eps_learned = torch.tensor([0.02], dtype=dt, requires_grad=True)
    z = frn_tlu(x, weight, bias, tau, 1e-6, eps_learned)
    g = torch.randn_like(z)
    z.backward(g)
    cases.append({
        'shape': list(shape), 'eps': 1e-6, 'x': flat(x), 'weight': flat(weight), 'bias': flat(bias), 'tau': flat(tau),
        'epsLearned': flat(eps_learned), 'z': flat(z), 'upstream': flat(g), 'gradX': flat(x.grad), 'gradWeight': flat(weight.grad),
        'gradBias': flat(bias.grad), 'gradTau': flat(tau.grad), 'gradEpsLearned': flat(eps_learned.grad),
    })
fixtures['filterResponseNormTLU'] = cases

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-group.json'), 'w') as f:
    json.dump(fixtures, f)
