"""Writes torch-batch.json: PyTorch (float64) BatchNorm forwards, gradients and running statistics
that the batch package's tests compare against. Run: /usr/bin/python3 generate-torch.py (PyTorch 1.13)."""
import json
import os

import torch

torch.manual_seed(0)
dt = torch.float64


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def leaf(shape, scale=1.0, offset=0.0):
    return (torch.randn(*shape, dtype=dt) * scale + offset).requires_grad_()


def run_steps(bn, shapes, offsets):
    """Training steps with random upstream gradients, then one eval forward and its gradients."""
    steps = []
    for shape, offset in zip(shapes, offsets):
        x = leaf(shape, 1.7, offset)
        bn.zero_grad()
        y = bn(x)
        g = torch.randn_like(y)
        y.backward(g)
        steps.append({
            'shape': list(x.shape), 'x': flat(x), 'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad),
            'gradWeight': flat(bn.weight.grad), 'gradBias': flat(bn.bias.grad),
            'runningMean': flat(bn.running_mean), 'runningVar': flat(bn.running_var),
            'numBatchesTracked': int(bn.num_batches_tracked),
        })
    bn.eval()
    x = leaf(shapes[0], 1.2, -0.4)
    bn.zero_grad()
    y = bn(x)
    g = torch.randn_like(y)
    y.backward(g)
    evaluation = {'shape': list(x.shape), 'x': flat(x), 'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad),
                  'gradWeight': flat(bn.weight.grad), 'gradBias': flat(bn.bias.grad)}
    return steps, evaluation


fixtures = {'torch': torch.__version__}

# BatchNorm2d, momentum 0.1, random affine: three training steps (the last with N = 1), then eval.
bn = torch.nn.BatchNorm2d(3, eps=1e-5, momentum=0.1).to(dt)
with torch.no_grad():
    bn.weight.copy_(torch.randn(3, dtype=dt))
    bn.bias.copy_(torch.randn(3, dtype=dt))
weight, bias = flat(bn.weight), flat(bn.bias)
steps, evaluation = run_steps(bn, [(4, 3, 3, 2), (2, 3, 3, 2), (1, 3, 3, 2)], [0.5, -1.0, 2.0])
fixtures['batchNorm2d'] = {'numFeatures': 3, 'eps': 1e-5, 'momentum': 0.1, 'weight': weight, 'bias': bias, 'steps': steps, 'eval': evaluation}

# BatchNorm1d on [N, C, L], momentum None (cumulative average), eps 1e-3.
bn = torch.nn.BatchNorm1d(4, eps=1e-3, momentum=None).to(dt)
with torch.no_grad():
    bn.weight.copy_(torch.randn(4, dtype=dt))
    bn.bias.copy_(torch.randn(4, dtype=dt))
weight, bias = flat(bn.weight), flat(bn.bias)
steps, evaluation = run_steps(bn, [(3, 4, 5), (5, 4, 5), (2, 4, 5)], [0.0, 1.0, -2.0])
fixtures['batchNorm1dCumulative'] = {'numFeatures': 4, 'eps': 1e-3, 'momentum': None, 'weight': weight, 'bias': bias, 'steps': steps, 'eval': evaluation}

# BatchNorm1d on [N, C] without running statistics: eval uses batch statistics.
bn = torch.nn.BatchNorm1d(5, track_running_stats=False).to(dt)
with torch.no_grad():
    bn.weight.copy_(torch.randn(5, dtype=dt))
    bn.bias.copy_(torch.randn(5, dtype=dt))
x = leaf((6, 5), 2.0, 1.0)
bn.eval()
y = bn(x)
g = torch.randn_like(y)
y.backward(g)
fixtures['noRunningStats'] = {'numFeatures': 5, 'weight': flat(bn.weight), 'bias': flat(bn.bias), 'shape': list(x.shape), 'x': flat(x),
                              'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad), 'gradWeight': flat(bn.weight.grad), 'gradBias': flat(bn.bias.grad)}

# The error PyTorch raises for one value per channel in training.
try:
    torch.nn.BatchNorm1d(3)(torch.randn(1, 3))
except ValueError as error:
    fixtures['singleValueError'] = str(error)

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-batch.json'), 'w') as f:
    json.dump(fixtures, f)
