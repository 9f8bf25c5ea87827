"""PyTorch reference values for @normkit/tensor's nn layers and safetensors reader/writer.

Writes packages/tensor/src/__fixtures__/nn-layers.json (forward outputs and gradients of
Linear, Conv2d, ConvTranspose2d, Embedding and nn.MultiheadAttention in float64, PyTorch's
state-dict key names, and `convSweep`: convolutions over the geometries the wasm kernels choose
between, from float32-representable operands, for float32 checks on both backends) and packages/tensor/src/__fixtures__/torch.safetensors (written by
safetensors.torch.save_file).

Run from the repo root with Debian's PyTorch (apt-get install -y python3-torch) and the
safetensors wheel on PYTHONPATH:
    /usr/bin/python3 tools/torch-parity/nn_layers.py
Every loss is sum(output * upstream) with a stored random `upstream`, so the tests can replay it.
"""
import json
import pathlib

import torch
import torch.nn.functional as F

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)
OUT = pathlib.Path(__file__).resolve().parents[2] / 'packages' / 'tensor' / 'src' / '__fixtures__'


def flat(t):
    return t.detach().reshape(-1).tolist()


def tensor_entry(t):
    return {'shape': list(t.shape), 'data': flat(t)}


def run(output_fn, tensors):
    """Runs output_fn, backpropagates sum(out * upstream), returns output, upstream and grads."""
    for t in tensors.values():
        t.requires_grad_(True)
    out = output_fn()
    upstream = torch.randn(out.shape)
    (out * upstream).sum().backward()
    return {
        'inputs': {name: tensor_entry(t) for name, t in tensors.items()},
        'output': tensor_entry(out),
        'upstream': tensor_entry(upstream),
        'grads': {name: tensor_entry(t.grad) for name, t in tensors.items()},
    }


cases = {}

# Linear on [2, 2, 3] -> [2, 2, 2].
x = torch.randn(2, 2, 3)
w = torch.randn(2, 3)
b = torch.randn(2)
cases['linear'] = run(lambda: F.linear(x, w, b), {'x': x, 'weight': w, 'bias': b})

# Conv2d, groups 2, stride 2, padding 1.
conv_options = dict(stride=2, padding=1, dilation=1, groups=2)
x = torch.randn(2, 4, 7, 6)
w = torch.randn(6, 2, 3, 3)
b = torch.randn(6)
cases['conv2d'] = run(lambda: F.conv2d(x, w, b, **conv_options), {'x': x, 'weight': w, 'bias': b})
cases['conv2d']['options'] = conv_options

# ConvTranspose2d, groups 2, stride 2, padding 1, output padding 1.
deconv_options = dict(stride=2, padding=1, output_padding=1, dilation=1, groups=2)
x = torch.randn(2, 4, 3, 4)
w = torch.randn(4, 3, 3, 3)
b = torch.randn(6)
cases['convTranspose2d'] = run(lambda: F.conv_transpose2d(x, w, b, **deconv_options), {'x': x, 'weight': w, 'bias': b})
cases['convTranspose2d']['options'] = deconv_options

# Embedding with repeated indices (the weight gradient adds them up).
indices = torch.tensor([[0, 4, 2], [2, 2, 1]])
w = torch.randn(5, 3)
cases['embedding'] = run(lambda: F.embedding(indices, w), {'weight': w})
cases['embedding']['indices'] = tensor_entry(indices.double())


def attention_case(embed_dim, num_heads, n, length, source_length, key_padding=None, causal=False, cross=False):
    mha = torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True)
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape) * 0.5)
    query = torch.randn(n, length, embed_dim)
    key = torch.randn(n, source_length, embed_dim) if cross else query
    value = torch.randn(n, source_length, embed_dim) if cross else query
    attn_mask = torch.triu(torch.ones(length, source_length, dtype=torch.bool), 1) if causal else None
    # PyTorch: True = ignore this key. The fixture stores normkit's convention: 1 = real key.
    padding = None if key_padding is None else torch.tensor(key_padding) == 0
    state = {name: p for name, p in mha.named_parameters()}
    inputs = {'query': query, **state}
    if cross:
        inputs.update(key=key, value=value)

    def forward():
        out, _ = mha(query, key, value, key_padding_mask=padding, attn_mask=attn_mask, need_weights=False)
        return out

    case = run(forward, inputs)
    case['options'] = {'embedDim': embed_dim, 'numHeads': num_heads, 'causal': causal, 'cross': cross}
    if key_padding is not None:
        case['mask'] = tensor_entry(torch.tensor(key_padding, dtype=torch.float64))
    case['stateDictKeys'] = list(mha.state_dict().keys())
    return case


cases['attention'] = attention_case(8, 2, 2, 4, 4)
cases['attentionCross'] = attention_case(8, 2, 2, 3, 5, cross=True)
cases['attentionMaskedCausal'] = attention_case(6, 3, 2, 5, 5, key_padding=[[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], causal=True)

# State-dict key names of a small model, to compare with normkit's.
model = torch.nn.Sequential(
    torch.nn.Conv2d(3, 4, 3),
    torch.nn.ReLU(),
    torch.nn.ConvTranspose2d(4, 2, 2),
    torch.nn.Flatten(),
    torch.nn.Linear(8, 2, bias=False),
    torch.nn.Embedding(3, 2),
)
cases['sequentialStateDictKeys'] = list(model.state_dict().keys())



def float32_values(*shape):
    """Random values exactly representable in float32, so a float32 tensor holds PyTorch's float64 inputs."""
    return torch.randn(*shape).float().double()


def rounded_entry(t, digits):
    """A tensor entry with `digits` significant digits: 9 give back a float32 value exactly (read it
    through Math.fround), 12 keep a float64 result far inside any float32 tolerance; the file stays small."""
    return {'shape': list(t.shape), 'data': [float(f'{v:.{digits}g}') for v in flat(t)]}


def conv_sweep_case(kind, x_shape, out_channels, kernel, options):
    """One convolution in float64 from float32-representable inputs and upstream, so a float32
    implementation sees exactly PyTorch's operands and can be held to the float32 summation bound
    (inputs stored to 9 significant digits, results to 12)."""
    in_channels = x_shape[1]
    groups = options.get('groups', 1)
    if kind == 'conv2d':
        w_shape = (out_channels, in_channels // groups, *kernel)
        fn = F.conv2d
    else:
        w_shape = (in_channels, out_channels // groups, *kernel)
        fn = F.conv_transpose2d
    tensors = {'x': float32_values(*x_shape), 'weight': float32_values(*w_shape), 'bias': float32_values(out_channels)}
    for t in tensors.values():
        t.requires_grad_(True)
    out = fn(tensors['x'], tensors['weight'], tensors['bias'], **options)
    upstream = float32_values(*out.shape)
    (out * upstream).sum().backward()
    return {
        'kind': kind,
        'outChannels': out_channels,
        'kernel': list(kernel),
        'options': options,
        'inputs': {name: rounded_entry(t, 9) for name, t in tensors.items()},
        'output': rounded_entry(out, 12),
        'upstream': rounded_entry(upstream, 9),
        'grads': {name: rounded_entry(t.grad, 12) for name, t in tensors.items()},
    }


# Convolutions large enough for the wasm backend's module (float32, above its 4,096 multiply-add gate), over
# the geometries its kernels pick between: im2col + GEMM, 1x1 without im2col, the depthwise loop, groups,
# dilation, odd sizes, asymmetric windows, and the transposed convolution. Small, so the file stays small.
cases['convSweep'] = [
    conv_sweep_case('conv2d', (1, 8, 7, 6), 8, (3, 3), dict(stride=1, padding=1, dilation=1, groups=1)),
    conv_sweep_case('conv2d', (1, 6, 9, 8), 8, (3, 3), dict(stride=1, padding=2, dilation=2, groups=1)),
    conv_sweep_case('conv2d', (2, 4, 9, 7), 6, (5, 5), dict(stride=2, padding=2, dilation=1, groups=1)),
    conv_sweep_case('conv2d', (1, 24, 5, 7), 16, (1, 1), dict(stride=1, padding=0, dilation=1, groups=1)),
    conv_sweep_case('conv2d', (1, 32, 7, 8), 12, (1, 1), dict(stride=2, padding=0, dilation=1, groups=1)),
    conv_sweep_case('conv2d', (2, 8, 8, 7), 8, (3, 3), dict(stride=1, padding=1, dilation=1, groups=8)),
    conv_sweep_case('conv2d', (2, 6, 13, 11), 6, (5, 5), dict(stride=2, padding=2, dilation=2, groups=6)),
    conv_sweep_case('conv2d', (1, 16, 6, 6), 16, (3, 3), dict(stride=1, padding=1, dilation=1, groups=4)),
    conv_sweep_case('conv2d', (1, 12, 9, 10), 12, (3, 2), dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)),
    conv_sweep_case('convTranspose2d', (1, 8, 4, 5), 6, (4, 4), dict(stride=2, padding=1, output_padding=0, dilation=1, groups=1)),
    conv_sweep_case('convTranspose2d', (1, 8, 7, 6), 6, (3, 3), dict(stride=2, padding=1, output_padding=1, dilation=1, groups=2)),
]

OUT.mkdir(parents=True, exist_ok=True)
(OUT / 'nn-layers.json').write_text(json.dumps(cases, separators=(',', ':')) + '\n')

# A file written by the reference implementation: mixed dtypes, a scalar, an empty tensor, metadata.
from safetensors.torch import save_file  # noqa: E402

save_file(
    {
        'layer.weight': torch.tensor([[1.0, -2.0, 3.5], [0.25, 1e-8, -0.0]], dtype=torch.float32),
        'layer.bias': torch.tensor([0.1, -0.2], dtype=torch.float32),
        'scale': torch.tensor(2.0, dtype=torch.float32),
        'running': torch.tensor([1.0 / 3.0, 2.0 ** -60, 1e300], dtype=torch.float64),
        'empty': torch.zeros(0, 3, dtype=torch.float32),
    },
    str(OUT / 'torch.safetensors'),
    metadata={'format': 'pt'},
)
print('wrote', OUT / 'nn-layers.json', 'and', OUT / 'torch.safetensors')
