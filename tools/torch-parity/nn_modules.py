"""PyTorch reference values for @normkit/tensor's parameter-free layer modules.

Writes packages/tensor/src/__fixtures__/nn-modules.json: forward outputs and input gradients of
nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Sigmoid, nn.Softmax and nn.Upsample (PyTorch's
own defaults, e.g. stride = kernel_size) in float64. Every loss is sum(output * upstream) with a
stored random `upstream`. Run from the repo root with Debian's PyTorch:
    /usr/bin/python3 tools/torch-parity/nn_modules.py
"""
import json
import pathlib

import torch
import torch.nn as nn

torch.manual_seed(4321)
torch.set_default_dtype(torch.float64)
OUT = pathlib.Path(__file__).resolve().parents[2] / 'packages' / 'tensor' / 'src' / '__fixtures__' / 'nn-modules.json'


def entry(t):
    return {'shape': list(t.shape), 'data': t.detach().reshape(-1).tolist()}


def case(module, shape, options):
    x = torch.randn(*shape, requires_grad=True)
    y = module(x)
    upstream = torch.randn(y.shape)
    (y * upstream).sum().backward()
    return {'options': options, 'x': entry(x), 'output': entry(y), 'upstream': entry(upstream), 'gx': entry(x.grad)}


cases = {
    # Option names are normkit's (camelCase); each case builds the PyTorch module with the same values.
    'MaxPool2d': [
        case(nn.MaxPool2d(2), (2, 3, 6, 5), {'kernelSize': 2}),
        case(nn.MaxPool2d(3, stride=2, padding=1, dilation=(1, 2)), (2, 2, 9, 10), {'kernelSize': 3, 'stride': 2, 'padding': 1, 'dilation': [1, 2]}),
        case(nn.MaxPool2d((2, 3)), (3, 6, 7), {'kernelSize': [2, 3]}),
    ],
    'AvgPool2d': [
        case(nn.AvgPool2d(2), (2, 3, 6, 5), {'kernelSize': 2}),
        case(nn.AvgPool2d(3, stride=2, padding=1), (2, 2, 7, 8), {'kernelSize': 3, 'stride': 2, 'padding': 1}),
        case(nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), (2, 2, 5, 5), {'kernelSize': 3, 'stride': 1, 'padding': 1, 'countIncludePad': False}),
    ],
    'AdaptiveAvgPool2d': [
        case(nn.AdaptiveAvgPool2d(1), (2, 3, 5, 7), {'outputSize': 1}),
        case(nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5), {'outputSize': [3, 2]}),
    ],
    'Sigmoid': [case(nn.Sigmoid(), (3, 4), {})],
    'Softmax': [
        case(nn.Softmax(dim=1), (2, 4, 3), {'dim': 1}),
        case(nn.Softmax(dim=-1), (2, 5), {'dim': -1}),
    ],
    'Upsample': [
        case(nn.Upsample(scale_factor=2), (2, 3, 3, 4), {'scaleFactor': 2}),
        case(nn.Upsample(scale_factor=1.5), (2, 3, 4, 6), {'scaleFactor': 1.5}),
        case(nn.Upsample(scale_factor=(2.5, 0.7)), (1, 2, 4, 10), {'scaleFactor': [2.5, 0.7]}),
        case(nn.Upsample(size=(7, 5)), (1, 2, 4, 3), {'size': [7, 5]}),
        case(nn.Upsample(scale_factor=1.5, mode='bilinear'), (2, 3, 4, 6), {'scaleFactor': 1.5, 'mode': 'bilinear'}),
        case(nn.Upsample(size=(7, 9), mode='bilinear', align_corners=True), (1, 2, 4, 3), {'size': [7, 9], 'mode': 'bilinear', 'alignCorners': True}),
        case(nn.Upsample(scale_factor=0.6, mode='bilinear'), (1, 2, 10, 7), {'scaleFactor': 0.6, 'mode': 'bilinear'}),
    ],
}

OUT.write_text(json.dumps({'torch': torch.__version__, 'cases': cases}))
print(f'wrote {OUT} (torch {torch.__version__})')
