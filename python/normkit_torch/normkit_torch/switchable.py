"""Switchable Normalization (Luo et al., ICLR 2019), as @normkit/switchable defines it."""
import torch
from torch import nn

from ._stats import channel_view, update_running


class SwitchableNorm(nn.Module):
    """Mixes instance, layer and batch means and (biased) variances with softmax(mean_weight) and
    softmax(var_weight) (order instance, layer, batch), then one per-channel affine. Keys `weight`,
    `bias`, `mean_weight`, `var_weight` ([3], or [2] with using_batch_stats=False) and `running_mean`,
    `running_var`, `num_batches_tracked`. Running averages as BatchNorm (PyTorch's momentum; the
    cumulative average with using_moving_average=False); eval takes the batch statistics from them."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, using_batch_stats=True, using_moving_average=True, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.using_batch_stats = using_batch_stats
        self.using_moving_average = using_moving_average
        self.all_reduce = None
        k = 3 if using_batch_stats else 2
        self.weight = nn.Parameter(torch.ones(num_features, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(num_features, dtype=dtype))
        self.mean_weight = nn.Parameter(torch.ones(k, dtype=dtype))
        self.var_weight = nn.Parameter(torch.ones(k, dtype=dtype))
        if using_batch_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", torch.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def forward(self, x):
        n, c = x.shape[:2]
        xs = x.reshape(n, c, -1)
        s = xs.shape[2]
        mu_in = xs.mean(2)
        var_in = (xs - mu_in.unsqueeze(2)).pow(2).mean(2)
        mu_ln = mu_in.mean(1, keepdim=True)
        var_ln = (var_in + (mu_in - mu_ln).pow(2)).mean(1, keepdim=True)
        a = torch.softmax(self.mean_weight, 0)
        b = torch.softmax(self.var_weight, 0)
        mean = a[0] * mu_in + a[1] * mu_ln
        var = b[0] * var_in + b[1] * var_ln
        if self.using_batch_stats:
            if self.training:
                count = torch.full((c,), float(n * s), dtype=x.dtype)
                total = mu_in.sum(0)
                if self.all_reduce is not None:
                    # Sums over processes of the instance statistics give the global batch ones.
                    count = self.all_reduce(count)
                    total = self.all_reduce(total)
                samples = count / s
                mu_bn = total / samples
                spread = (var_in + (mu_in - mu_bn).pow(2)).sum(0)
                if self.all_reduce is not None:
                    spread = self.all_reduce(spread)
                var_bn = spread / samples
                update_running(self.running_mean, self.running_var, self.num_batches_tracked, count, mu_bn.detach(), var_bn.detach(),
                               self.momentum if self.using_moving_average else None)
            else:
                mu_bn, var_bn = self.running_mean, self.running_var
            mean = mean + a[2] * mu_bn
            var = var + b[2] * var_bn
        y = (xs - mean.unsqueeze(2)) * torch.rsqrt(var + self.eps).unsqueeze(2)
        y = y.reshape(x.shape)
        return y * channel_view(self.weight, x.dim()) + channel_view(self.bias, x.dim())


class NormalizerMixture(nn.Module):
    """A learned, softmax-weighted mix of the OUTPUTS of whole normalizers, normkit's `NormalizerMixture`:

        y = sum_k softmax(logits / temperature)_k * candidate_k(x)

    Each candidate keeps its own statistics, affine parameters and running averages (SwitchableNorm
    instead mixes statistics and normalises once). `hard=True` runs only the argmax candidate (first on
    ties, like normkit and torch.argmax); `collapse()` returns that module itself. Keys `logits` [K]
    (zeros: equal weights) and `candidates.<k>.*`. Candidates are modules (`mixture_of(...)` builds
    them from normkit plugin names); forward keyword arguments (mask, condition, labels) go to the
    candidates whose forward takes them."""

    def __init__(self, num_features, candidates, temperature=1.0, hard=False, dtype=None):
        super().__init__()
        if len(candidates) == 0:
            raise ValueError("NormalizerMixture: expected a non-empty list of candidates")
        if not temperature > 0:
            raise ValueError(f"NormalizerMixture: temperature must be > 0, got {temperature}")
        self.num_features = num_features
        self.temperature = temperature
        self.hard = hard
        self.candidates = nn.ModuleList(candidates)
        self.logits = nn.Parameter(torch.zeros(len(candidates), dtype=dtype))

    def importance(self):
        """softmax(logits / temperature): each candidate's current weight."""
        return torch.softmax(self.logits.detach() / self.temperature, 0)

    def argmax(self):
        return int(torch.argmax(self.logits.detach()))

    def collapse(self):
        return self.candidates[self.argmax()]

    @staticmethod
    def _call(candidate, x, context):
        import inspect

        accepted = inspect.signature(candidate.forward).parameters
        return candidate(x, **{k: v for k, v in context.items() if v is not None and k in accepted})

    def forward(self, x, **context):
        if context.get("mask") is not None:
            import inspect

            refusing = [type(c).__name__ for c in self.candidates if "mask" not in inspect.signature(c.forward).parameters]
            if refusing:
                # As normkit: a mask only when every candidate accepts one (else some would normalise the padding).
                raise ValueError(f"NormalizerMixture: expected no mask (candidate(s) {', '.join(refusing)} accept none)")
        if self.hard:
            return self._call(self.collapse(), x, context)
        weights = torch.softmax(self.logits / self.temperature, 0)
        outputs = [self._call(c, x, context) for c in self.candidates]
        y = weights[0] * outputs[0]
        for k in range(1, len(outputs)):
            y = y + weights[k] * outputs[k]
        return y


def mixture_of(num_features, candidates, temperature=1.0, hard=False, dtype=None):
    """A NormalizerMixture from normkit candidate specs: plugin names ('batch-norm') or
    {"candidate": name, "options": {...}} with normkit's camelCase options (see `models.normalizer`)."""
    from .models import normalizer

    modules = []
    for spec in candidates:
        choice = {"name": spec, "options": {}} if isinstance(spec, str) else {"name": spec["candidate"], "options": spec.get("options") or {}}
        modules.append(normalizer(choice, num_features, dtype=dtype))
    return NormalizerMixture(num_features, modules, temperature, hard, dtype)
