"""nGPT's block and its post-step renormalisation, as @normkit/layer's `NGPTBlock`, `markUnitNormWeight`,
`normalizeMarkedWeights` and `ngptWeightNormalization` (same state-dict keys)."""
import math

import torch
from torch import nn
import torch.nn.functional as F

from .l2_norm import l2_norm

# The attribute a marked weight carries: the axis kept at unit norm (normkit keeps a WeakMap).
_AXIS = "_normkit_unit_norm_axis"


@torch.no_grad()
def _normalize_along(weight, axis):
    norms = weight.pow(2).sum(axis, keepdim=True).sqrt()
    # An all-zero vector stays zero.
    weight.div_(torch.where(norms == 0, torch.ones_like(norms), norms))


def mark_unit_norm_weight(weight, axis):
    """Marks a [rows, cols] weight to be kept at unit L2 norm along `axis` (nGPT: the embedding dimension; axis 1 for
    d_model -> * projections, 0 for * -> d_model), and normalises it now."""
    if weight.dim() != 2 or axis not in (0, 1):
        raise ValueError(f"mark_unit_norm_weight: expected a 2-D weight and axis 0 or 1, got shape {list(weight.shape)}, axis {axis!r}")
    setattr(weight, _AXIS, axis)
    _normalize_along(weight, axis)


def normalize_marked_weights(model):
    """Renormalises every marked weight of `model` onto the unit sphere (nGPT's projection after each optimizer step,
    or after loading a checkpoint); returns how many matrices it renormalised."""
    matrices = 0
    for p in model.parameters():
        axis = getattr(p, _AXIS, None)
        if axis is not None:
            _normalize_along(p, axis)
            matrices += 1
    return matrices


def ngpt_weight_normalization(model):
    """The post-step hook: a function `hook(optimizer, args, kwargs)` renormalising `model`'s marked weights. On
    torch >= 2.0 register it, `optimizer.register_step_post_hook(ngpt_weight_normalization(model))`; on 1.13 (no
    step hooks) call `normalize_marked_weights(model)` after every `optimizer.step()`."""
    def hook(optimizer=None, args=None, kwargs=None):
        normalize_marked_weights(model)
    return hook


def _scaled(options, defaults, name):
    resolved = dict(defaults, **(options or {}))
    for key in ("init", "scale"):
        value = resolved[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value)) or (key == "scale" and value <= 0):
            raise ValueError(f"NGPTBlock: expected {name}.{key} to be a finite number{' > 0' if key == 'scale' else ''}, got {value!r}")
    return resolved


class _ScaledUnitHead(nn.Module):
    """s_qk * q / ||q|| per head, times `factor` (d_k on q: the softmax scale becomes sqrt(d_k)). No parameters."""

    def __init__(self, block, factor):
        super().__init__()
        self._block = (block,)
        self.factor = factor

    def forward(self, x):
        block = self._block[0]
        return l2_norm(x, -1, 2.0, 1e-12) * block.sqk_heads() * self.factor


class NGPTBlock(nn.Module):
    """A block of the Normalized Transformer, nGPT (Loshchilov, Hsieh, Sun & Ginsburg, 2024), normkit's `NGPTBlock`:

        h_A = Norm(Attn(h));   h = Norm(h + alpha_A * (h_A - h))
        h_M = Norm(MLP(h));    h = Norm(h + alpha_M * (h_M - h))

    Attention normalises q and k per head, scales both by s_qk, softmax scale sqrt(d_k); the MLP is gated,
    W_o(s_u W_u h * SiLU(s_v sqrt(d) W_v h)); no biases, no LayerNorm. Each learned scale is stored starting at `scale`
    and used as param * init / scale. q, k, v, W_u, W_v are kept at unit norm along their input dim and the output
    projections along their output dim: at construction, and after each step with `normalize_marked_weights(model)`
    (1.13) or `optimizer.register_step_post_hook(ngpt_weight_normalization(model))` (2.x). Keys `self_attn.q_proj.weight`,
    ..., `mlp_u`, `mlp_v`, `mlp_out`, `alpha_attn`, `alpha_mlp`, `sqk`, `su`, `sv`. `forward(h, mask=None, causal=False)`.

        block = NGPTBlock(64, 4)
        y = block(F.normalize(torch.randn(2, 16, 64), dim=-1))
    """

    def __init__(self, dim, num_heads, feedforward_dim=None, alpha=None, sqk=None, su=None, sv=None, dtype=None):
        super().__init__()
        from .models import MultiHeadAttention

        feedforward_dim = feedforward_dim or 4 * dim
        for name, value in (("dim", dim), ("num_heads", num_heads), ("feedforward_dim", feedforward_dim)):
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"NGPTBlock: expected {name} to be a positive integer, got {name} = {value!r}")
        if dim % num_heads:
            raise ValueError(f"NGPTBlock: expected dim divisible by num_heads, got dim = {dim}, num_heads = {num_heads}")
        alpha = _scaled(alpha, {"init": 0.05, "scale": 1 / math.sqrt(dim)}, "alpha")
        sqk = _scaled(sqk, {"init": 1.0, "scale": 1 / math.sqrt(dim)}, "sqk")
        su = _scaled(su, {"init": 1.0, "scale": 1.0}, "su")
        sv = _scaled(sv, {"init": 1.0, "scale": 1.0}, "sv")
        self.dim, self.num_heads, self.feedforward_dim = dim, num_heads, feedforward_dim
        self.ratios = {k: v["init"] / v["scale"] for k, v in (("alpha", alpha), ("sqk", sqk), ("su", su), ("sv", sv))}
        head_dim = dim // num_heads
        dtype = dtype or torch.get_default_dtype()
        self.sqk = nn.Parameter(torch.full((num_heads, head_dim), sqk["scale"], dtype=dtype))
        self.self_attn = MultiHeadAttention(dim, num_heads, lambda hd, which: _ScaledUnitHead(self, hd if which == "q" else 1), bias=False, dtype=dtype)
        self.mlp_u = nn.Linear(dim, feedforward_dim, bias=False, dtype=dtype)
        self.mlp_v = nn.Linear(dim, feedforward_dim, bias=False, dtype=dtype)
        self.mlp_out = nn.Linear(feedforward_dim, dim, bias=False, dtype=dtype)
        self.alpha_attn = nn.Parameter(torch.full((dim,), alpha["scale"], dtype=dtype))
        self.alpha_mlp = nn.Parameter(torch.full((dim,), alpha["scale"], dtype=dtype))
        self.su = nn.Parameter(torch.full((feedforward_dim,), su["scale"], dtype=dtype))
        self.sv = nn.Parameter(torch.full((feedforward_dim,), sv["scale"], dtype=dtype))
        attention = self.self_attn
        for linear in (attention.q_proj, attention.k_proj, attention.v_proj, self.mlp_u, self.mlp_v):
            mark_unit_norm_weight(linear.weight, 1)
        for linear in (attention.out_proj, self.mlp_out):
            mark_unit_norm_weight(linear.weight, 0)

    def sqk_heads(self):
        return (self.sqk * self.ratios["sqk"]).reshape(1, self.num_heads, 1, self.dim // self.num_heads)

    def effective(self, name):
        """The value a learned scale is used with: param * init / scale (`alpha_attn`, `alpha_mlp`, `sqk`, `su`, `sv`)."""
        ratio = self.ratios["alpha"] if name.startswith("alpha") else self.ratios[name]
        return getattr(self, name) * ratio

    def mlp(self, h):
        u = self.mlp_u(h) * self.effective("su")
        v = self.mlp_v(h) * (self.effective("sv") * math.sqrt(self.dim))
        return self.mlp_out(u * F.silu(v))

    def forward(self, h, mask=None, causal=False):
        if h.dim() != 3 or h.shape[2] != self.dim:
            raise ValueError(f"NGPTBlock.forward: expected tokens of shape [N, L, {self.dim}], got {list(h.shape)}")
        unit = lambda t: l2_norm(t, -1, 2.0, 1e-12)  # noqa: E731
        attention = unit(self.self_attn(h, mask, causal))
        after_attention = unit(h + self.effective("alpha_attn") * (attention - h))
        feedforward = unit(self.mlp(after_attention))
        return unit(after_attention + self.effective("alpha_mlp") * (feedforward - after_attention))
