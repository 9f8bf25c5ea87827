"""Local Response Normalization, as @normkit/group's `LocalResponseNorm`: torch's own, plus [N, C] inputs."""
from torch import nn
import torch.nn.functional as F


class LocalResponseNorm(nn.LocalResponseNorm):
    """Local Response Normalization (Krizhevsky et al., 2012), `torch.nn.LocalResponseNorm` on [N, C, *]:

        b_c = a_c * (k + alpha / n * sum_{c' = c - n//2}^{c + (n-1)//2} a_{c'}^2)^(-beta)

    with channels outside [0, C) counted as zeros. normkit's defaults (size 5, alpha 1e-4, beta 0.75, k 1) and,
    as in normkit, [N, C] inputs too (torch needs 3 dims). No parameters, no state-dict keys.

        lrn = LocalResponseNorm(size=5, k=2)   # AlexNet
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=1.0):
        if not (isinstance(size, int) and size >= 1):
            raise ValueError(f"LocalResponseNorm: expected size to be an integer >= 1, got {size!r}")
        if not (isinstance(alpha, (int, float)) and alpha >= 0):
            raise ValueError(f"LocalResponseNorm: expected alpha >= 0, got {alpha!r}")
        if not (isinstance(k, (int, float)) and k > 0):
            raise ValueError(f"LocalResponseNorm: expected k > 0, got {k!r}")
        super().__init__(size, alpha, beta, k)

    def forward(self, x):
        if x.dim() < 2:
            raise ValueError(f"LocalResponseNorm: expected an input of rank 2 or more, [N, C, *], got {list(x.shape)}")
        if x.dim() == 2:
            return F.local_response_norm(x.unsqueeze(2), self.size, self.alpha, self.beta, self.k).squeeze(2)
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)
