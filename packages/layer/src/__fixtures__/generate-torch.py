"""Writes torch-layer.json: PyTorch (float64) forwards and gradients that the layer package's tests
compare against. Run: /usr/bin/python3 generate-torch.py (PyTorch 1.13, which has no nn.RMSNorm:
Llama's formula is written out)."""
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

# LayerNorm over the last two dims, random affine.
x = leaf((2, 3, 4, 5), 2.0, 0.5)
ln = torch.nn.LayerNorm([4, 5], eps=1e-5).to(dt)
with torch.no_grad():
    ln.weight.copy_(torch.randn(4, 5, dtype=dt))
    ln.bias.copy_(torch.randn(4, 5, dtype=dt))
y = ln(x)
g = torch.randn_like(y)
y.backward(g)
fixtures['layerNorm'] = {
    'shape': list(x.shape), 'normalizedShape': [4, 5], 'eps': 1e-5, 'x': flat(x), 'weight': flat(ln.weight), 'bias': flat(ln.bias),
    'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad), 'gradWeight': flat(ln.weight.grad), 'gradBias': flat(ln.bias.grad),
    'stateDictKeys': list(ln.state_dict().keys()),
}


# RMSNorm as Llama writes it: x * rsqrt(mean(x^2) + eps) * weight; and eps=None (machine epsilon) as nn.RMSNorm.
def rms_norm(x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


cases = []
for eps in [1e-6, None]:
    x = leaf((3, 4, 8), 0.5, 0.2)
    weight = leaf((8,), 0.3, 1.0)
    y = rms_norm(x, weight, torch.finfo(dt).eps if eps is None else eps)
    g = torch.randn_like(y)
    y.backward(g)
    cases.append({
        'shape': list(x.shape), 'eps': eps, 'x': flat(x), 'weight': flat(weight), 'y': flat(y), 'upstream': flat(g),
        'gradX': flat(x.grad), 'gradWeight': flat(weight.grad),
    })
fixtures['rmsNorm'] = cases

# nn.TransformerEncoderLayer, batch first, GELU, no dropout, Pre-LN (norm_first) and Post-LN, with a
# key padding mask (True = ignore) and a causal mask.
blocks = []
for norm_first in [True, False]:
    layer = torch.nn.TransformerEncoderLayer(
        d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, activation='gelu', batch_first=True, norm_first=norm_first,
    ).to(dt)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith('norm') or name.endswith('bias'):
                p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith('weight') else 0.0))
    layer.train()
    x = leaf((2, 5, 8))
    padding = torch.tensor([[False, False, False, False, True], [False, False, False, True, True]])
    causal = torch.triu(torch.full((5, 5), float('-inf'), dtype=dt), diagonal=1)
    y = layer(x, src_mask=causal, src_key_padding_mask=padding)
    g = torch.randn_like(y)
    y.backward(g)
    blocks.append({
        'normFirst': norm_first, 'shape': list(x.shape), 'x': flat(x), 'mask': [[0.0 if v else 1.0 for v in row] for row in padding.tolist()],
        'stateDict': {k: {'shape': list(v.shape), 'data': flat(v)} for k, v in layer.state_dict().items()},
        'y': flat(y), 'upstream': flat(g), 'gradX': flat(x.grad),
        'gradLinear1Weight': flat(layer.linear1.weight.grad), 'gradNorm1Weight': flat(layer.norm1.weight.grad),
        'gradInProjWeight': flat(layer.self_attn.in_proj_weight.grad),
    })
fixtures['transformerEncoderLayer'] = blocks

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'torch-layer.json'), 'w') as f:
    json.dump(fixtures, f)
