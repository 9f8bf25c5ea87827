"""Writes torch-unit-norms.json: torch.nn.functional.normalize (float64) outputs and input gradients,
and ScaleNorm and LayerScale as their reference code writes them in PyTorch, for l2-norm.test.ts,
scale-norm.test.ts and layer-scale.test.ts. Run: /usr/bin/python3 generate-torch-unit-norms.py (PyTorch 1.13)."""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
dt = torch.float64


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


normalize = []
# p = 2 over the last dim, over two dims, over dim 1 (F.normalize's default), p = 1 and 3; rows of
# norm 0 and below eps (the clamp: no gradient through the norm there).
for shape, dims, p, eps, tiny_rows in [
    ((3, 5), [-1], 2.0, 1e-12, []),
    ((2, 3, 4), [1, 2], 2.0, 1e-12, []),
    ((2, 4, 3), [1], 2.0, 1e-12, []),
    ((4, 6), [-1], 1.0, 1e-12, []),
    ((3, 2, 5), [-1], 3.0, 1e-12, []),
    ((4, 3), [-1], 2.0, 1e-2, [1, 2]),
]:
    x = torch.randn(*shape, dtype=dt) * 1.5
    for r in tiny_rows:
        x[r] = 0.0 if r == 1 else x[r] * 1e-4
    x.requires_grad_()
    # F.normalize takes one dim: several dims are the same formula with the norm over them.
    if len(dims) == 1:
        y = F.normalize(x, p=p, dim=dims[0], eps=eps)
    else:
        y = x / x.norm(p=p, dim=dims, keepdim=True).clamp_min(eps)
    g = torch.randn_like(y)
    y.backward(g)
    normalize.append({'shape': list(shape), 'axes': dims, 'p': p, 'eps': eps, 'x': flat(x), 'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad)})

# ScaleNorm, the paper's code (Nguyen & Salazar): x * g / ||x||.clamp(min=eps), g = sqrt(d) then moved.
scale_norm = []
for shape, eps in [((2, 3, 8), 1e-5), ((4, 6), 1e-5)]:
    d = shape[-1]
    x = (torch.randn(*shape, dtype=dt)).requires_grad_()
    g_param = torch.tensor(d ** 0.5 * 0.8, dtype=dt, requires_grad=True)
    y = x * g_param / torch.norm(x, dim=-1, keepdim=True).clamp(min=eps)
    up = torch.randn_like(y)
    y.backward(up)
    scale_norm.append({'shape': list(shape), 'eps': eps, 'scale': float(g_param), 'x': flat(x), 'y': flat(y), 'upstream': flat(up),
                       'gradX': flat(x.grad), 'gradScale': float(g_param.grad)})

# timm's LayerScale: x * gamma.
x = torch.randn(2, 3, 6, dtype=dt, requires_grad=True)
gamma = (torch.randn(6, dtype=dt) * 0.1).requires_grad_()
y = x * gamma
up = torch.randn_like(y)
y.backward(up)
layer_scale = {'shape': [2, 3, 6], 'x': flat(x), 'gamma': flat(gamma), 'y': flat(y), 'upstream': flat(up), 'gradX': flat(x.grad), 'gradGamma': flat(gamma.grad)}

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-unit-norms.json'), 'w') as f:
    json.dump({'torch': torch.__version__, 'normalize': normalize, 'scaleNorm': scale_norm, 'layerScale': layer_scale}, f)
