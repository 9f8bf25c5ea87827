"""normkit's `runningStats` and `importance` probes for the lab runner. `running_stats(model)` is what
@normkit/experiments' collectProbes reads from every module with both a `running_mean` and a `running_var` buffer
(BatchNorm and its relatives; batch-norm-masked-padding reads the first one's), as float lists by module path:

    {"layers.0.norm.batch-norm": {"mean": [...], "var": [...]}, ...}

`importance_probes(model)` is normkit's `importance` probe: what @normkit/experiments' Trainer reads from every module with
an `importance()` method at each evaluation (`EvalEvent.probes.importance`, packages/experiments/src/probes.ts),
here for Switchable Norm (Luo et al., 2019), whose importance is normkit's SwitchableNorm.importance():

    {"mean": {"instance": p_0, "layer": p_1, "batch": p_2}, "variance": {...}},  p = softmax(mean_weight) (resp. var_weight)

(float64; no "batch" entry with using_batch_stats=False), keyed by the module's path, which normkit_torch.models names
as normkit does (`stages.0.norm.switchable-norm`). A model with another module that has an importance (the
normalizer mixture, whose probe normkit shapes differently) gets None: the lab then returns no importance probe for
its runs, and an analysis that reads it is not replicated.

    >>> importance_probes(model)   # {"stages.0.norm.switchable-norm": {"mean": {...}, "variance": {...}}, ...}
"""
import torch

from .switchable import SwitchableNorm

STATISTICS = ("instance", "layer", "batch")


def _named_softmax(logits):
    p = torch.softmax(logits.detach().to(torch.float64), 0).tolist()
    return dict(zip(STATISTICS, p))


def running_stats(model):
    """Every module's own `running_mean` and `running_var` buffers by module path (normkit's probes.runningStats)."""
    out = {}
    for name, module in model.named_modules():
        mean, var = module._buffers.get("running_mean"), module._buffers.get("running_var")
        if mean is not None and var is not None:
            out[name] = {"mean": mean.detach().reshape(-1).tolist(), "var": var.detach().reshape(-1).tolist()}
    return out


def importance_probes(model):
    """Every SwitchableNorm's importance by module path, or None when another module of `model` has an importance."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, SwitchableNorm):
            out[name] = {"mean": _named_softmax(module.mean_weight), "variance": _named_softmax(module.var_weight)}
        elif callable(getattr(module, "importance", None)):
            return None
    return out
