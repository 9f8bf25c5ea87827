"""Writes torch-local-response-norm.json: torch.nn.LocalResponseNorm (float64) outputs and input
gradients that local-response-norm.test.ts compares against.
Run: /usr/bin/python3 generate-torch-local-response-norm.py (PyTorch 1.13)."""
import json
import os

import torch

torch.manual_seed(0)
dt = torch.float64


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


cases = []
# Odd and even sizes (the window is [c - size//2, c + (size-1)//2]), a window wider than C, size 1,
# PyTorch's defaults and AlexNet's k = 2, ranks 3 to 5.
for shape, size, alpha, beta, k in [
    ((2, 7, 3, 2), 5, 1e-4, 0.75, 1.0),
    ((2, 6, 4), 4, 0.5, 0.75, 1.0),
    ((3, 5, 2, 2), 2, 0.3, 0.6, 2.0),
    ((2, 3, 3), 7, 1.0, 1.5, 0.5),
    ((1, 4, 2, 2, 2), 3, 2.0, 0.75, 1.0),
    ((2, 4, 5), 1, 0.1, 0.75, 1.0),
]:
    x = (torch.randn(*shape, dtype=dt) * 2.0).requires_grad_()
    lrn = torch.nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)
    y = lrn(x)
    g = torch.randn_like(y)
    y.backward(g)
    cases.append({
        'shape': list(shape), 'size': size, 'alpha': alpha, 'beta': beta, 'k': k,
        'x': flat(x), 'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad),
    })

fixtures = {'torch': torch.__version__, 'localResponseNorm': cases}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-local-response-norm.json'), 'w') as f:
    json.dump(fixtures, f)
