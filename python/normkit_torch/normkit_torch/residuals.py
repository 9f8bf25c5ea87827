"""A residual connection with a placed normalizer, as @normkit/layer's `Residual` / `residual(...)`."""
from torch import nn

from .layer_scale import LayerScale

PLACEMENTS = ("pre", "post", "peri", "output", "deepnorm")


def apply_norm(norm, x, layout="channels-last", **context):
    """norm(x) on tokens [N, ..., D]; a channels-first normalizer (BatchNorm-style) sees [N, D, ...] and its output is
    transposed back (normkit's applyNorm)."""
    if layout == "channels-last" or x.dim() < 3:
        return norm(x, **context)
    last = x.dim() - 1
    to_first = [0, last] + list(range(1, last))
    to_last = [0] + list(range(2, last + 1)) + [1]
    return norm(x.permute(to_first), **context).permute(to_last)


class Residual(nn.Module):
    """A residual connection around a sublayer f with the normalizer placed (normkit's `Residual`):

        pre:      y = x + ls(f(norm(x)))                  post:     y = norm(x + ls(f(x)))
        peri:     y = x + ls(output_norm(f(norm(x))))     output:   y = x + ls(norm(f(x)))
        deepnorm: y = norm(alpha * x + ls(f(x)))          (DeepNet; `deep_norm_constants` gives alpha)

    `layer_scale` (a LayerScale) scales the branch just before it joins the skip path. `gate=True` (adaLN-Zero, DiT;
    norm an AdaLNZero, placements pre and post): pre x + gate(c) * f(modulated LN(x)), post modulated LN(x + gate(c) f(x)).
    Children, as in normkit: `norm`, `output_norm`, `sublayer` (when it is a module), `layer_scale`. `f` is a module
    or a callable f(x, **context); `forward(x, mask=None, condition=None, **context)` hands `mask` to the norm when
    `accepts_mask` and everything to f.

        block = Residual(nn.Linear(64, 64), norm=RMSNorm(64), placement="pre")
    """

    def __init__(self, sublayer, norm, placement, output_norm=None, alpha=None, layer_scale=None, gate=False,
                 layout="channels-last", accepts_mask=True):
        super().__init__()
        if placement not in PLACEMENTS:
            raise ValueError(f"Residual: expected placement {', '.join(repr(p) for p in PLACEMENTS)}, got {placement!r}")
        if (placement == "peri") != (output_norm is not None):
            raise ValueError("Residual: expected output_norm (the normalizer on f's output) with placement 'peri'" if placement == "peri"
                             else f"Residual: expected output_norm only with placement 'peri', got it with {placement!r}")
        if placement == "deepnorm":
            if not (isinstance(alpha, (int, float)) and alpha > 0 and alpha != float("inf")):
                raise ValueError(f"Residual: expected alpha, a finite number > 0, with placement 'deepnorm', got alpha = {alpha!r}")
        elif alpha is not None:
            raise ValueError(f"Residual: expected alpha only with placement 'deepnorm', got alpha = {alpha!r} with {placement!r}")
        if layer_scale is not None and not isinstance(layer_scale, LayerScale):
            raise ValueError(f"Residual: expected layer_scale to be a LayerScale module, got {type(layer_scale).__name__}")
        if layout not in ("channels-last", "channels-first"):
            raise ValueError(f"Residual: expected layout 'channels-first' or 'channels-last', got {layout!r}")
        if gate:
            if not hasattr(norm, "modulation") or getattr(norm, "chunks", 2) != 3:
                raise ValueError(f"Residual: expected a gated normalizer (AdaLNZero) with gate=True, got a {type(norm).__name__}")
            if placement not in ("pre", "post"):
                raise ValueError(f"Residual: expected placement 'pre' or 'post' with gate=True, got {placement!r}")
        self.norm = norm
        self.output_norm = output_norm
        if isinstance(sublayer, nn.Module):
            self.sublayer = sublayer
        else:
            self._function = sublayer
        self.layer_scale = layer_scale
        self.placement, self.gate, self.layout, self.accepts_mask = placement, gate, layout, accepts_mask
        self.alpha = float(alpha) if placement == "deepnorm" else 1.0

    def _f(self, x, context):
        if "sublayer" in self._modules:
            return self.sublayer(x)
        return self._function(x, **context)

    def _scaled(self, branch):
        return self.layer_scale(branch) if self.layer_scale is not None else branch

    def forward(self, x, mask=None, condition=None, **context):
        context = dict(context, mask=mask) if mask is not None else dict(context)
        norm_context = {"mask": mask} if mask is not None and self.accepts_mask else {}
        if self.gate:
            return self._gated(x, condition, context, norm_context)
        if condition is not None:
            norm_context["condition"] = condition

        def norm(h, which=None):
            return apply_norm(which if which is not None else self.norm, h, self.layout, **norm_context)

        p = self.placement
        if p == "pre":
            return x + self._scaled(self._f(norm(x), context))
        if p == "post":
            return norm(x + self._scaled(self._f(x, context)))
        if p == "peri":
            return x + self._scaled(norm(self._f(norm(x), context), self.output_norm))
        if p == "output":
            return x + self._scaled(norm(self._f(x, context)))
        return norm(x * self.alpha + self._scaled(self._f(x, context)))

    def _gated(self, x, condition, context, norm_context):
        if condition is None:
            raise ValueError("Residual.forward: expected a condition with gate=True: forward(x, condition=c)")
        shift, scale, gate = self.norm.modulation(condition)
        view = lambda t: t.reshape((t.shape[0],) + (1,) * (x.dim() - t.dim()) + tuple(t.shape[1:]))  # noqa: E731
        mask = norm_context.get("mask")
        if self.placement == "pre":
            return x + view(gate) * self._scaled(self._f(self.norm.normalize_with(x, shift, scale, mask), context))
        return self.norm.normalize_with(x + view(gate) * self._scaled(self._f(x, context)), shift, scale, mask)


def residual(sublayer, **options):
    """`Residual(sublayer, **options)` (normkit's `residual(...)`)."""
    return Residual(sublayer, **options)


__all__ = ["PLACEMENTS", "Residual", "apply_norm", "residual"]
