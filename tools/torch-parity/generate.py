#!/usr/bin/python3
"""PyTorch parity fixtures for normkit.

Writes seeded cases (inputs, parameters, upstream gradients, outputs, input and parameter
gradients, running statistics after a few training steps, eval outputs) for every normalization
technique PyTorch has, in float64, to src/__fixtures__/<technique>.json: one JSON file per
technique, each tensor as {"shape": [...], "data": base64 of float64 little-endian bytes}.

Also the safetensors round trip: writes a small trained torch model as safetensors (the format is
written by hand below: the `safetensors` package is not needed), and checks the file normkit wrote
(src/__fixtures__/normkit-model.safetensors, from `npm run export-normkit`) by loading it into the
equivalent torch module; the verdict goes to normkit-model.torch-check.json.

Run with Debian's python3-torch (1.13): `npm run generate -w @normkit/torch-parity`.
Techniques the installed torch lacks (RMSNorm, parametrizations.weight_norm) are written out
exactly as later torch versions define them.
"""
import base64
import hashlib
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, 'src', '__fixtures__')
FORMAT = 'normkit-torch-parity/1'
torch.set_default_dtype(torch.float64)


# ---------------------------------------------------------------------------------------------
# Encoding


def encode(t):
    """A tensor as {"shape", "data": base64 float64 little-endian}."""
    # np.asarray, not ascontiguousarray: the latter turns 0-d tensors (num_batches_tracked) into 1-d.
    array = np.asarray(t.detach().to(torch.float64).cpu().numpy(), dtype='<f8')
    return {'shape': list(array.shape), 'data': base64.b64encode(array.tobytes(order='C')).decode('ascii')}


def write_fixture(technique, description, cases):
    path = os.path.join(FIXTURES, technique + '.json')
    document = {
        'format': FORMAT,
        'technique': technique,
        'description': description,
        'torch': torch.__version__,
        'generator': 'tools/torch-parity/generate.py',
        'cases': cases,
    }
    with open(path, 'w') as f:
        json.dump(document, f, indent=1)
        f.write('\n')
    print(f'wrote {os.path.relpath(path, HERE)}: {len(cases)} case(s), {os.path.getsize(path)} bytes')


def seeded(seed):
    torch.manual_seed(seed)
    return seed


def sample(shape, scale=1.5, shift=0.5):
    """Inputs with a nonzero mean and non-unit variance, so centring and scaling matter."""
    return torch.randn(*shape) * scale + shift


def randomize_affine(module):
    """Parameters away from their ones/zeros initialisation (an identity affine hides bugs)."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn_like(p) * 0.5 + (1.0 if name.endswith('weight') else 0.0))


# ---------------------------------------------------------------------------------------------
# Activation normalizers: a generic recorder


def record_module(module, shape, train_steps, eval_step, shape_eval=None):
    """Runs `train_steps` training forward+backward passes, then one eval pass; records everything.

    Tensors: state.<key> (initial state dict), train.<k>.input / grad_output / output / grad_input /
    grad_<param>, final.<key> (state dict after training), eval.input / grad_output / output /
    grad_input / grad_<param>.
    """
    tensors = {}
    for key, value in module.state_dict().items():
        tensors['state.' + key] = encode(value)

    def step(prefix, x_shape):
        x = sample(x_shape).requires_grad_(True)
        g = torch.randn(*x_shape)
        module.zero_grad()
        y = module(x)
        y.backward(g)
        tensors[prefix + '.input'] = encode(x)
        tensors[prefix + '.grad_output'] = encode(g)
        tensors[prefix + '.output'] = encode(y)
        tensors[prefix + '.grad_input'] = encode(x.grad)
        for name, p in module.named_parameters():
            tensors[prefix + '.grad_' + name] = encode(p.grad)

    module.train()
    for k in range(train_steps):
        step(f'train.{k}', shape)
    for key, value in module.state_dict().items():
        tensors['final.' + key] = encode(value)
    if eval_step:
        module.eval()
        step('eval', shape_eval or shape)
    return tensors


def normalizer_case(name, description, config, module, shape, train_steps=3, eval_step=True):
    randomize_affine(module)
    return {
        'name': name,
        'description': description,
        'config': config,
        'inputShape': list(shape),
        'trainSteps': train_steps,
        'hasEval': eval_step,
        'tensors': record_module(module, shape, train_steps, eval_step),
    }


def batch_norm_fixture():
    cases = []
    specs = [
        # name, module class, shape, momentum, affine, track
        ('bn1d_2d_input_momentum_0.1', nn.BatchNorm1d, (4, 3), 0.1, True, True),
        ('bn1d_3d_input_momentum_0.1', nn.BatchNorm1d, (3, 3, 5), 0.1, True, True),
        ('bn1d_momentum_none', nn.BatchNorm1d, (3, 3, 5), None, True, True),
        ('bn2d_momentum_0.1', nn.BatchNorm2d, (2, 3, 3, 3), 0.1, True, True),
        ('bn2d_momentum_0.3_no_affine', nn.BatchNorm2d, (2, 3, 3, 3), 0.3, False, True),
        ('bn2d_momentum_none', nn.BatchNorm2d, (2, 3, 3, 3), None, True, True),
        ('bn2d_no_running_stats', nn.BatchNorm2d, (2, 3, 3, 3), 0.1, True, False),
        ('bn1d_single_sample_with_length', nn.BatchNorm1d, (1, 2, 6), 0.1, True, True),
    ]
    for i, (name, cls, shape, momentum, affine, track) in enumerate(specs):
        seeded(100 + i)
        module = cls(shape[1], eps=1e-5, momentum=momentum, affine=affine, track_running_stats=track)
        config = {'numFeatures': shape[1], 'eps': 1e-5, 'momentum': momentum, 'affine': affine, 'trackRunningStats': track}
        cases.append(normalizer_case(name, f'{cls.__name__}({shape[1]}, momentum={momentum}, affine={affine}, '
                                           f'track_running_stats={track}) on {list(shape)}', config, module, shape))
    write_fixture('batch-norm', 'torch.nn.BatchNorm1d / BatchNorm2d: 3 training steps, then eval', cases)


def sync_batch_norm_fixture():
    """BatchNorm on the concatenated batch: the reference for SyncBatchNorm (torch's needs CUDA)."""
    cases = []
    specs = [
        ('two_replicas_uneven_3_2', (5, 3, 4), [3, 2]),
        ('three_replicas_uneven_1_2_3', (6, 2, 3), [1, 2, 3]),
        ('two_replicas_2d_even', (4, 2, 2, 3), [2, 2]),
    ]
    for i, (name, shape, split) in enumerate(specs):
        seeded(200 + i)
        cls = nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d
        module = cls(shape[1], eps=1e-5, momentum=0.1)
        config = {'numFeatures': shape[1], 'eps': 1e-5, 'momentum': 0.1, 'affine': True, 'trackRunningStats': True, 'split': split}
        cases.append(normalizer_case(name, f'{cls.__name__}({shape[1]}) on the concatenation of replica batches of sizes {split}',
                                     config, module, shape, train_steps=2))
    write_fixture('sync-batch-norm', 'BatchNorm over the concatenated batch, the reference for SyncBatchNorm over replicas', cases)


def layer_norm_fixture():
    cases = []
    specs = [
        ('last_dim', (3, 4), [4], True),
        ('last_two_dims', (2, 3, 4), [3, 4], True),
        ('three_dims', (2, 2, 3, 2), [2, 3, 2], True),
        ('no_affine', (3, 5), [5], False),
        ('tokens', (2, 3, 6), [6], True),
    ]
    for i, (name, shape, normalized, affine) in enumerate(specs):
        seeded(300 + i)
        module = nn.LayerNorm(normalized, eps=1e-5, elementwise_affine=affine)
        config = {'normalizedShape': normalized, 'eps': 1e-5, 'elementwiseAffine': affine}
        cases.append(normalizer_case(name, f'LayerNorm({normalized}, elementwise_affine={affine}) on {list(shape)}',
                                     config, module, shape, train_steps=1))
    write_fixture('layer-norm', 'torch.nn.LayerNorm', cases)


def group_norm_fixture():
    cases = []
    specs = [
        ('groups_3_image', (2, 6, 3, 3), 3, True),
        ('groups_2_sequence', (3, 4, 5), 2, True),
        ('one_group', (2, 4, 3), 1, True),
        ('groups_equal_channels', (2, 4, 3), 4, True),
        ('no_affine', (2, 6, 2, 2), 2, False),
        ('no_spatial', (3, 6), 3, True),
    ]
    for i, (name, shape, groups, affine) in enumerate(specs):
        seeded(400 + i)
        module = nn.GroupNorm(groups, shape[1], eps=1e-5, affine=affine)
        config = {'numGroups': groups, 'numChannels': shape[1], 'eps': 1e-5, 'affine': affine}
        cases.append(normalizer_case(name, f'GroupNorm({groups}, {shape[1]}, affine={affine}) on {list(shape)}',
                                     config, module, shape, train_steps=1))
    write_fixture('group-norm', 'torch.nn.GroupNorm', cases)


def instance_norm_fixture():
    cases = []
    specs = [
        ('in1d_defaults', nn.InstanceNorm1d, (2, 3, 5), False, False),
        ('in2d_defaults', nn.InstanceNorm2d, (2, 3, 3, 3), False, False),
        ('in2d_affine', nn.InstanceNorm2d, (2, 3, 3, 3), True, False),
        ('in1d_running_stats', nn.InstanceNorm1d, (2, 3, 5), False, True),
        ('in2d_affine_running_stats', nn.InstanceNorm2d, (3, 2, 3, 2), True, True),
    ]
    for i, (name, cls, shape, affine, track) in enumerate(specs):
        seeded(500 + i)
        module = cls(shape[1], eps=1e-5, momentum=0.1, affine=affine, track_running_stats=track)
        config = {'numFeatures': shape[1], 'eps': 1e-5, 'momentum': 0.1, 'affine': affine, 'trackRunningStats': track}
        cases.append(normalizer_case(name, f'{cls.__name__}({shape[1]}, affine={affine}, track_running_stats={track}) on {list(shape)}',
                                     config, module, shape))
    write_fixture('instance-norm', 'torch.nn.InstanceNorm1d / InstanceNorm2d: 3 training steps, then eval', cases)


class RMSNorm(nn.Module):
    """torch.nn.RMSNorm as torch >= 2.4 defines it (absent from 1.13):
    y = x * rsqrt(mean(x^2 over the normalized dims) + eps) * weight; eps=None means finfo(dtype).eps."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(self.normalized_shape)) if elementwise_affine else None

    def forward(self, x):
        eps = torch.finfo(x.dtype).eps if self.eps is None else self.eps
        dims = tuple(range(-len(self.normalized_shape), 0))
        y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
        return y * self.weight if self.weight is not None else y


def rms_norm_fixture():
    cases = []
    specs = [
        ('last_dim', (3, 4), [4], 1e-6, True),
        ('last_two_dims', (2, 3, 4), [3, 4], 1e-5, True),
        ('no_affine', (3, 5), [5], 1e-6, False),
        ('tokens', (2, 3, 6), [6], 1e-6, True),
    ]
    for i, (name, shape, normalized, eps, affine) in enumerate(specs):
        seeded(600 + i)
        module = RMSNorm(normalized, eps=eps, elementwise_affine=affine)
        config = {'normalizedShape': normalized, 'eps': eps, 'elementwiseAffine': affine}
        cases.append(normalizer_case(name, f'RMSNorm({normalized}, eps={eps}, elementwise_affine={affine}) on {list(shape)}',
                                     config, module, shape, train_steps=1))
    write_fixture('rms-norm', 'RMSNorm as torch.nn.RMSNorm (torch >= 2.4) defines it, written out for torch 1.13', cases)


# ---------------------------------------------------------------------------------------------
# Weight parametrizations


class WeightNorm(nn.Module):
    """torch.nn.utils.parametrizations.weight_norm's _WeightNorm (torch >= 2.1), absent from 1.13:
    original0 = g, original1 = v, w = g * v / ||v|| with norms over every dim but `dim`."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim  # torch's internal convention: -1 = the whole tensor

    def forward(self, weight_g, weight_v):
        return torch._weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        weight_g = torch.norm_except_dim(weight, 2, self.dim)
        return weight_g, weight


def weight_norm_fixture():
    cases = []
    specs = [
        ('linear_dim_0', lambda: nn.Linear(4, 3), (5, 4), 0),
        ('linear_dim_1', lambda: nn.Linear(4, 3), (5, 4), 1),
        ('linear_whole_tensor', lambda: nn.Linear(4, 3), (5, 4), None),
        ('conv2d_dim_0', lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 4, 4), 0),
    ]
    for i, (name, make, x_shape, dim) in enumerate(specs):
        seeded(700 + i)
        reference = make()
        kind = type(reference).__name__  # before registration renames the class (ParametrizedLinear)
        legacy = make()
        legacy.load_state_dict(reference.state_dict())
        parametrize.register_parametrization(reference, 'weight', WeightNorm(dim))
        nn.utils.weight_norm(legacy, dim=dim)
        # Move g away from ||v|| so the magnitude matters.
        with torch.no_grad():
            g = reference.parametrizations.weight.original0
            g.mul_(torch.rand_like(g) + 0.5)
            legacy.weight_g.copy_(g)
        tensors = {'state.' + k: encode(v) for k, v in reference.state_dict().items()}
        x = sample(x_shape).requires_grad_(True)
        upstream = None
        y = reference(x)
        upstream = torch.randn_like(y)
        y.backward(upstream)
        legacy_x = x.detach().clone().requires_grad_(True)
        legacy_y = legacy(legacy_x)
        legacy_y.backward(upstream)
        # The written-out parametrization agrees with torch 1.13's own weight_norm (weight_g / weight_v).
        assert torch.allclose(y, legacy_y, atol=1e-12), name
        assert torch.allclose(reference.parametrizations.weight.original0.grad, legacy.weight_g.grad, atol=1e-12), name
        assert torch.allclose(reference.parametrizations.weight.original1.grad, legacy.weight_v.grad, atol=1e-12), name
        tensors.update({
            'weight': encode(reference.weight),
            'input': encode(x),
            'grad_output': encode(upstream),
            'output': encode(y),
            'grad_input': encode(x.grad),
            'grad_g': encode(reference.parametrizations.weight.original0.grad),
            'grad_v': encode(reference.parametrizations.weight.original1.grad),
            'grad_bias': encode(reference.bias.grad),
        })
        cases.append({
            'name': name,
            'description': f'weight norm (dim={dim}) on {kind}; state keys as torch.nn.utils.parametrizations.weight_norm',
            'config': {'module': kind, 'dim': dim, 'legacyKeys': {'weight_g': 'parametrizations.weight.original0', 'weight_v': 'parametrizations.weight.original1'}},
            'tensors': tensors,
        })
    write_fixture('weight-norm', 'w = g * v / ||v||: parametrizations.weight_norm written out, checked against torch 1.13 nn.utils.weight_norm', cases)


def spectral_norm_fixture():
    cases = []
    specs = [
        ('linear', lambda: nn.Linear(5, 4), (3, 5), None),
        ('conv2d', lambda: nn.Conv2d(2, 3, 3), (2, 2, 4, 4), None),
    ]
    for i, (name, make, x_shape, _dim) in enumerate(specs):
        seeded(800 + i)
        module = make()
        kind = type(module).__name__  # before registration renames the class (ParametrizedLinear)
        original = module.weight.detach().clone()
        nn.utils.parametrizations.spectral_norm(module, n_power_iterations=1, eps=1e-12)
        initial = {'initial.' + k: encode(v) for k, v in module.state_dict().items()}
        # Converge the power iteration: training-mode reads run one iteration each.
        module.train()
        for _ in range(500):
            module.weight
        matrix = original.reshape(original.shape[0], -1)
        exact_sigma = torch.linalg.svdvals(matrix)[0]
        module.eval()
        weight = module.weight
        sigma = (original / weight).flatten()[0]
        tensors = dict(initial)
        tensors.update({'state.' + k: encode(v) for k, v in module.state_dict().items()})
        x = sample(x_shape).requires_grad_(True)
        y = module(x)
        upstream = torch.randn_like(y)
        y.backward(upstream)
        tensors.update({
            'original': encode(original),
            'sigma': encode(sigma.reshape(1)),
            'exact_sigma': encode(exact_sigma.reshape(1)),
            'weight': encode(weight),
            'input': encode(x),
            'grad_output': encode(upstream),
            'output': encode(y),
            'grad_input': encode(x.grad),
            'grad_original': encode(module.parametrizations.weight.original.grad),
            'grad_bias': encode(module.bias.grad),
        })
        assert abs(sigma.item() - exact_sigma.item()) < 1e-10, (name, sigma.item(), exact_sigma.item())
        cases.append({
            'name': name,
            'description': f'parametrizations.spectral_norm on {kind} after 500 training reads (converged), then eval',
            'config': {'module': kind, 'nPowerIterations': 1, 'eps': 1e-12, 'convergenceReads': 500},
            'tensors': tensors,
        })
    write_fixture('spectral-norm', 'torch.nn.utils.parametrizations.spectral_norm: converged sigma, normalised weight, eval gradients', cases)


# ---------------------------------------------------------------------------------------------
# Gradient clipping


def gradient_clipping_fixture():
    cases = []
    specs = [
        ('norm_l2_clipped', 'norm', 1.0, 2.0),
        ('norm_l2_not_clipped', 'norm', 100.0, 2.0),
        ('norm_inf_clipped', 'norm', 0.5, float('inf')),
        ('norm_l1_clipped', 'norm', 2.0, 1.0),
        ('value_clipped', 'value', 0.3, None),
    ]
    shapes = [(4, 3), (4,), (2, 3, 3, 3)]
    for i, (name, kind, limit, norm_type) in enumerate(specs):
        seeded(900 + i)
        params = [nn.Parameter(torch.randn(*s)) for s in shapes]
        for p in params:
            p.grad = torch.randn_like(p)
        tensors = {}
        for j, p in enumerate(params):
            tensors[f'param.{j}'] = encode(p)
            tensors[f'grad_before.{j}'] = encode(p.grad)
        if kind == 'norm':
            total = nn.utils.clip_grad_norm_(params, max_norm=limit, norm_type=norm_type)
            tensors['total_norm'] = encode(total.reshape(1))
            config = {'kind': 'norm', 'maxNorm': limit, 'normType': 'inf' if norm_type == float('inf') else norm_type}
        else:
            nn.utils.clip_grad_value_(params, clip_value=limit)
            config = {'kind': 'value', 'clipValue': limit}
        for j, p in enumerate(params):
            tensors[f'grad_after.{j}'] = encode(p.grad)
        config['parameters'] = len(params)
        cases.append({'name': name, 'description': f'torch.nn.utils.clip_grad_{kind}_ {config}', 'config': config, 'tensors': tensors})
    write_fixture('gradient-clipping', 'torch.nn.utils.clip_grad_norm_ (norm types 2, inf, 1; coefficient max_norm / (norm + 1e-6)) and clip_grad_value_', cases)


# ---------------------------------------------------------------------------------------------
# Safetensors, written and read by hand: 8-byte little-endian header length, JSON header, raw data


SAFETENSORS_DTYPES = {torch.float32: ('F32', '<f4', 4), torch.float64: ('F64', '<f8', 8)}


def save_safetensors(state, path, metadata=None):
    """The reference layout: tensors by alignment (largest first), then by name; header padded with
    spaces so the data starts at a multiple of 8."""
    entries = sorted(state.items(), key=lambda kv: (-SAFETENSORS_DTYPES[kv[1].dtype][2], kv[0]))
    header = {}
    if metadata:
        header['__metadata__'] = metadata
    blobs = []
    offset = 0
    for key, tensor in entries:
        code, numpy_dtype, _ = SAFETENSORS_DTYPES[tensor.dtype]
        blob = np.asarray(tensor.detach().cpu().numpy(), dtype=numpy_dtype).tobytes(order='C')
        header[key] = {'dtype': code, 'shape': list(tensor.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    encoded = json.dumps(header, separators=(',', ':')).encode('utf-8')
    encoded += b' ' * ((8 - len(encoded) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(encoded)))
        f.write(encoded)
        for blob in blobs:
            f.write(blob)


def load_safetensors(path):
    with open(path, 'rb') as f:
        raw = f.read()
    (length,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + length].decode('utf-8'))
    metadata = header.pop('__metadata__', None)
    data = raw[8 + length:]
    codes = {'F32': ('<f4', torch.float32), 'F64': ('<f8', torch.float64)}
    state = {}
    for key, info in header.items():
        numpy_dtype, torch_dtype = codes[info['dtype']]
        begin, end = info['data_offsets']
        array = np.frombuffer(data[begin:end], dtype=numpy_dtype).reshape(info['shape'])
        state[key] = torch.from_numpy(array.copy()).to(torch_dtype)
    return state, metadata


def parity_model():
    """The model both sides build: Linear(4, 8) -> GroupNorm(2, 8) -> ReLU -> Linear(8, 3) -> LayerNorm(3).
    normkit's is in src/model.ts."""
    return nn.Sequential(nn.Linear(4, 8), nn.GroupNorm(2, 8), nn.ReLU(), nn.Linear(8, 3), nn.LayerNorm(3))


def torch_model_fixture():
    """A torch-trained model saved as float32 safetensors, with an input and torch's output."""
    seeded(1000)
    model = parity_model().to(torch.float32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        x = torch.randn(6, 4, dtype=torch.float32)
        target = torch.randn(6, 3, dtype=torch.float32)
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), target).backward()
        optimizer.step()
    model.eval()
    x = torch.randn(5, 4, dtype=torch.float32)
    with torch.no_grad():
        y = model(x)
    path = os.path.join(FIXTURES, 'torch-model.safetensors')
    save_safetensors(model.state_dict(), path, {'format': 'pt', 'producer': 'tools/torch-parity/generate.py'})
    loaded, _ = load_safetensors(path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded[key], value), key
    write_fixture('torch-model', 'A torch-trained Linear-GroupNorm-ReLU-Linear-LayerNorm model saved as torch-model.safetensors (float32)', [{
        'name': 'torch_model',
        'description': 'eval-mode output of the model in torch-model.safetensors on `input` (float32 computation)',
        'config': {'file': 'torch-model.safetensors', 'keys': sorted(model.state_dict().keys())},
        'tensors': {'input': encode(x), 'output': encode(y)},
    }])


def check_normkit_model():
    """Loads the model normkit wrote into the torch module and compares outputs; records the verdict."""
    path = os.path.join(FIXTURES, 'normkit-model.safetensors')
    expected_path = os.path.join(FIXTURES, 'normkit-model.json')
    if not os.path.exists(path) or not os.path.exists(expected_path):
        print('normkit-model.safetensors missing: run `npm run export-normkit -w @normkit/torch-parity` first', file=sys.stderr)
        sys.exit(1)
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    state, metadata = load_safetensors(path)
    with open(expected_path) as f:
        expected = json.load(f)
    dtype = next(iter(state.values())).dtype
    model = parity_model().to(dtype)
    model.load_state_dict(state, strict=True)
    model.eval()

    def decode(entry):
        array = np.frombuffer(base64.b64decode(entry['data']), dtype='<f8').reshape(entry['shape'])
        return torch.from_numpy(array.copy())

    x = decode(expected['input']).to(dtype)
    with torch.no_grad():
        y = model(x).to(torch.float64)
    max_abs = (y - decode(expected['output'])).abs().max().item()
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    verdict = {
        'file': 'normkit-model.safetensors',
        'sha256': digest,
        'torch': torch.__version__,
        'dtype': str(dtype).replace('torch.', ''),
        'keys': sorted(state.keys()),
        'metadata': metadata,
        'maxAbsDifference': max_abs,
        'tolerance': tolerance,
        'passed': max_abs <= tolerance,
    }
    with open(os.path.join(FIXTURES, 'normkit-model.torch-check.json'), 'w') as f:
        json.dump(verdict, f, indent=1)
        f.write('\n')
    print(f'normkit-model.safetensors loaded into torch: max |torch - normkit| = {max_abs:.3g} (tolerance {tolerance})')
    if not verdict['passed']:
        sys.exit(1)


GENERATORS = {
    'batch-norm': batch_norm_fixture,
    'sync-batch-norm': sync_batch_norm_fixture,
    'layer-norm': layer_norm_fixture,
    'group-norm': group_norm_fixture,
    'instance-norm': instance_norm_fixture,
    'rms-norm': rms_norm_fixture,
    'weight-norm': weight_norm_fixture,
    'spectral-norm': spectral_norm_fixture,
    'gradient-clipping': gradient_clipping_fixture,
    'torch-model': torch_model_fixture,
}


def main(argv):
    os.makedirs(FIXTURES, exist_ok=True)
    check_only = '--check-normkit-only' in argv
    if not check_only:
        names = [a for a in argv if not a.startswith('--')] or list(GENERATORS)
        for name in names:
            GENERATORS[name]()
    if '--skip-normkit-check' not in argv:
        check_normkit_model()


if __name__ == '__main__':
    main(sys.argv[1:])
