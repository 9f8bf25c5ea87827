"""The model families of normkit's playground and lab (@normkit/experiments), as PyTorch modules with the
same state-dict keys, built from a bundle's architecture description:

    {"model": {"name": "mlp", "options": {"width": 32, "depth": 3, "activation": "relu"}},
     "norms": {"hidden": {"name": "batch-norm", "options": {"momentum": 0.1}}},
     "weights": {}, "data": {"inputKind": "vector", "sampleShape": [6], "numClasses": 3}}

(what `saveBundle({ architecture: { model, norms, weights, data } })` stores from an experiment config).
Families ported: `mlp` (vector and image inputs). A normalization slot holds its normalizer as a child
named after the normkit plugin (`layers.0.norm.batch-norm.running_mean`), as normkit's NormSlot does.
"""
import torch
from torch import nn
import torch.nn.functional as F

from .batch import BatchNorm, GhostBatchNorm
from .layer import RMSNorm


def _options(choice):
    return dict(choice.get("options") or {})


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def normalizer(choice, features, dtype=None):
    """The normkit_torch (or torch) module of a normkit normalizer plugin choice {"name", "options"} (normkit's
    camelCase options and defaults) over `features` channels; `dtype` unless the options set one."""
    name = choice["name"]
    o = _options(choice)
    dtype = _DTYPES[o.pop("dtype")] if "dtype" in o else dtype
    if name == "batch-norm":
        return BatchNorm(features, eps=o.get("eps", 1e-5), momentum=o.get("momentum", 0.1), affine=o.get("affine", True),
                         track_running_stats=o.get("trackRunningStats", True), dtype=dtype)
    if name == "ghost-batch-norm":
        return GhostBatchNorm(features, virtual_batch_size=o.get("virtualBatchSize", 128), eps=o.get("eps", 1e-5),
                              momentum=o.get("momentum", 0.1), affine=o.get("affine", True),
                              track_running_stats=o.get("trackRunningStats", True), dtype=dtype)
    if name == "layer-norm":
        if o.get("bias", True) is False:
            raise NotImplementedError("models: layer-norm with bias=false needs torch>=2.1's nn.LayerNorm(bias=False)")
        return nn.LayerNorm(features, eps=o.get("eps", 1e-5), elementwise_affine=o.get("elementwiseAffine", True), dtype=dtype)
    if name == "rms-norm":
        return RMSNorm(features, eps=o.get("eps", 1e-6), elementwise_affine=o.get("elementwiseAffine", True), dtype=dtype)
    if name == "group-norm":
        return nn.GroupNorm(o.get("numGroups", 32), features, eps=o.get("eps", 1e-5), affine=o.get("affine", True), dtype=dtype)
    raise NotImplementedError(f"models: normalizer {name!r} is not mapped to a normkit_torch module yet "
                              "(mapped: batch-norm, ghost-batch-norm, layer-norm, rms-norm, group-norm)")


class NormSlot(nn.Module):
    """normkit's NormSlot on [N, D] features: the normalizer is the child named after its plugin; 'none' is the identity."""

    def __init__(self, choice, features):
        super().__init__()
        self.plugin = choice["name"]
        if self.plugin != "none":
            self.add_module(self.plugin, normalizer(choice, features))

    def forward(self, x):
        return x if self.plugin == "none" else getattr(self, self.plugin)(x)


_ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "gelu": F.gelu}


class DenseLayer(nn.Module):
    """Linear -> normalizer -> activation (keys `linear.*`, `norm.<plugin>.*`)."""

    def __init__(self, in_features, out_features, choice, activation):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.norm = NormSlot(choice, out_features)
        self.activation = _ACTIVATIONS[activation]

    def forward(self, x):
        return self.activation(self.norm(self.linear(x)))


class Mlp(nn.Module):
    """@normkit/experiments' `mlp`: `depth` DenseLayers of `width` units and a Linear `head`; images are flattened."""

    def __init__(self, in_features, out_features, width=32, depth=3, activation="relu", norm=None):
        super().__init__()
        choice = norm or {"name": "none"}
        sizes = [in_features] + [width] * depth
        self.layers = nn.ModuleList(DenseLayer(a, b, choice, activation) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], out_features)

    def forward(self, x):
        h = x.flatten(1)
        for layer in self.layers:
            h = layer(h)
        return self.head(h)


def build(architecture):
    """The PyTorch model of a bundle's architecture description (see the module docstring)."""
    model = architecture.get("model") or {}
    name = model.get("name")
    options = {"width": 32, "depth": 3, "activation": "relu", **(model.get("options") or {})}
    data = architecture.get("data") or {}
    norms = architecture.get("norms") or {}
    if architecture.get("weights"):
        raise NotImplementedError("models.build: weight parametrizations on the families are not ported yet")
    if name == "mlp":
        kind = data.get("inputKind")
        if kind not in ("vector", "image"):
            raise NotImplementedError(f"models.build: mlp on {kind!r} inputs is not ported (vector and image are)")
        in_features = 1
        for d in data["sampleShape"]:
            in_features *= d
        return Mlp(in_features, data["numClasses"], options["width"], options["depth"], options["activation"], norms.get("hidden"))
    raise NotImplementedError(f"models.build: the {name!r} family is not ported yet (ported: mlp)")
