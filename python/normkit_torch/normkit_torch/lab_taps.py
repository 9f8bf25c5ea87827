"""normkit's activation taps for the lab runner: the per-layer activation statistics that @normkit/experiments'
Trainer puts in every evaluation event (`EvalEvent.activations`), measured on the PyTorch model.

normkit's families put an `ActivationTap` (packages/experiments/src/models/tap.ts) after each hidden layer; during
the training-mode forward of a probe step (every `evalEvery` steps and the last) each tap keeps the mean and the
population standard deviation of what passes through it, over real tokens only when there is a padding mask:

    mean = sum(x) / n,   std = sqrt(max(0, sum(x^2) / n - mean^2))      (float64 sums, n = real positions)

and the evaluation after that step reports them by the tap's name. The names and places, per family:

    transformer, residual, ngpt   `blocks.i`   the output of block i (the residual stream), masked
    mlp                           `layers.i`   the output of layer i (after its activation), masked
    cnn                           `stages.i`   activation(norm(conv(x))) of stage i, before its pooling

`ActivationTaps(model)` records them with forward hooks while `recording` is on; `read()` gives the statistics of
the last recorded forward. A model of any other family has no taps here (`supported(model)` is False): the lab
then returns no activations for its runs, and an analysis that reads them is not replicated.

    >>> taps = ActivationTaps(model)
    >>> with taps.recording(mask):
    ...     loss = F.cross_entropy(model(x, mask), y)
    >>> taps.read()   # {"blocks.0": {"mean": ..., "std": ...}, ...}
"""
import contextlib
import math

import torch

from . import models


def activation_stats(x, mask=None):
    """normkit's activationStats: mean and population std of `x`'s values in float64, over the positions where
    `mask` (the leading dimensions of `x`, e.g. [N, L] for tokens [N, L, D]) is not 0; NaN for both when none is."""
    data = x.detach().to(torch.float64)
    if mask is not None:
        keep = (mask != 0).reshape(tuple(mask.shape) + (1,) * (data.dim() - mask.dim())).expand_as(data)
        data = data[keep]
    count = data.numel()
    if count == 0:
        return {"mean": math.nan, "std": math.nan}
    mean = float(data.sum()) / count
    squares = float((data * data).sum()) / count
    return {"mean": mean, "std": math.sqrt(max(0.0, squares - mean * mean))}


def _tap_points(model):
    """(name, module, after) for each of normkit's taps in `model`: the statistics are of `after(module's output)`;
    None when normkit_torch does not know where this family's taps are."""
    identity = lambda y: y  # noqa: E731
    if isinstance(model, (models.TinyTransformer, models.ResidualNet, models.NGPTClassifier)):
        return [(f"blocks.{i}", block, identity) for i, block in enumerate(model.blocks)]
    if isinstance(model, models.Mlp):
        return [(f"layers.{i}", layer, identity) for i, layer in enumerate(model.layers)]
    if isinstance(model, models.Cnn):
        # The tap sits between the activation and the pooling, inside the stage: the norm's output, activated.
        return [(f"stages.{i}", stage.norm, stage.activation) for i, stage in enumerate(model.stages)]
    return None


def supported(model):
    """Whether `model`'s family has normkit's taps here (see the module docstring)."""
    return _tap_points(model) is not None


class ActivationTaps:
    """Forward hooks on `model` that record normkit's tap statistics while `recording(mask)` is active."""

    def __init__(self, model):
        points = _tap_points(model)
        if points is None:
            raise ValueError(f"lab_taps: expected a model of a family with normkit's activation taps (transformer, residual, ngpt, mlp, cnn), "
                             f"got {type(model).__name__}")
        self._names = [name for name, _, _ in points]
        self._last = {}
        self._mask = None
        self._on = False
        self._handles = [module.register_forward_hook(self._hook(name, after)) for name, module, after in points]

    def _hook(self, name, after):
        def hook(_module, _inputs, output):
            if self._on:
                with torch.no_grad():
                    self._last[name] = activation_stats(after(output), self._mask)
        return hook

    @contextlib.contextmanager
    def recording(self, mask=None):
        """Records the forward passes inside the block (the last one of each tap is kept); `mask`: the batch's padding mask or None."""
        self._last, self._mask, self._on = {}, mask, True
        try:
            yield self
        finally:
            self._on, self._mask = False, None

    def read(self):
        """The statistics of the last recorded forward, by tap name, in the model's order (taps that saw nothing are left out)."""
        return {name: dict(self._last[name]) for name in self._names if name in self._last}

    def remove(self):
        for handle in self._handles:
            handle.remove()
        self._handles = []
