"""A running-statistics normaliser for a hypernetwork's meta input.

Hyperfan-in (Chang, Flokas & Lipson, ICLR 2020) and Weight-HyperInit (Beck et al., CoRL 2022) derive their
head scales for a primary network whose input has zero mean and unit variance per feature. The meta
inputs a hypernetwork really sees are not like that: raw MuJoCo states (per-feature std from ≈0.1 to ≈10,
non-zero means), one-hot task ids, a VariBAD posterior's mean and log-variance, a GRU hidden state. Beck
et al.'s public code keeps running mean/variance statistics of the hypernetwork input and standardises it;
:class:`RunningNormalizer` is that mechanism, with the statistics stored as buffers so they are saved with
the weights (``state_dict``, safetensors, SB3 ``save``/``load``).

**Buffers (state)**: ``running_mean`` ``(dim,)``, ``running_var`` ``(dim,)`` (population variance) and
``running_count`` ``()`` (samples seen). The ``running_`` prefix is what SB3's off-policy algorithms copy
from a network to its target network after every update (the hook they have for batch-norm statistics),
so a target critic normalises exactly like its critic.

**When the statistics change**: on :meth:`RunningNormalizer.update` (explicit), and — if ``auto_update``
is set, the default — in every forward pass in training mode, *before* normalising, so the first training
batch is already standardised with its own statistics (PyTorch's batch-norm convention: frozen in
``eval()`` mode). Learners that need a fixed function during an update (PPO/TRPO ratios and KL line
searches) set ``auto_update = False`` and call ``update`` once per rollout, as Beck et al. do.
"""

from __future__ import annotations

import torch as th
from torch import nn


class RunningNormalizer(nn.Module):
    """``y = clip((x − μ) / √(σ² + ε), ±clip)`` per feature, with running ``μ``, ``σ²``.

    Before the first update ``μ = 0`` and ``σ² = 1`` (the identity up to the clip).

    :param dim: number of features (the last dimension of the input)
    :param momentum: ``None``: exact mean and variance of everything seen so far (parallel-merge update,
        like SB3's ``VecNormalize`` and Beck et al.'s ``RunningMeanStd``), right for a stationary input
        such as states or task ids; a float ``α``: exponential moving average with weight ``α`` per update
        (after an exact first update), for an input that drifts during training such as a learned encoder's
        latent or a recurrent hidden state
    :param eps: added to the variance (a constant feature maps to 0, not to ±inf)
    :param clip: bound of the normalised output (VecNormalize's default, 10)
    :param auto_update: update the statistics in every training-mode forward
    """

    running_mean: th.Tensor
    running_var: th.Tensor
    running_count: th.Tensor

    def __init__(
        self, dim: int, momentum: float | None = None, eps: float = 1e-8, clip: float = 10.0, auto_update: bool = True
    ) -> None:
        super().__init__()
        if int(dim) < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if momentum is not None and not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be None (exact running statistics) or in (0, 1], got {momentum!r}")
        if clip <= 0.0 or eps <= 0.0:
            raise ValueError(f"clip and eps must be positive, got clip={clip!r}, eps={eps!r}")
        self.dim = int(dim)
        self.momentum = momentum
        self.eps = eps
        self.clip = clip
        self.auto_update = auto_update
        self.register_buffer("running_mean", th.zeros(self.dim))
        self.register_buffer("running_var", th.ones(self.dim))
        self.register_buffer("running_count", th.zeros(()))

    @th.no_grad()
    def update(self, x: th.Tensor) -> None:
        """Merge the statistics of a batch ``(..., dim)`` (every leading dimension is a sample).

        :param x: a batch of inputs; needs at least 2 samples (a variance of one sample is meaningless)
        :raises ValueError: wrong feature size, fewer than 2 samples, or non-finite values
        """
        if x.shape[-1] != self.dim:
            raise ValueError(f"expected inputs with {self.dim} features in the last dimension, got shape {tuple(x.shape)}")
        n = x.numel() // self.dim
        if n < 2:
            raise ValueError(f"a normaliser update needs at least 2 samples, got {n}")
        if not th.isfinite(x).all():
            raise ValueError("the batch used to update the normaliser contains NaN or infinite values")
        self._merge(x)

    @th.no_grad()
    def _merge(self, x: th.Tensor) -> None:
        """The update without host round-trips (it runs inside training steps, possibly on a GPU): the
        first-batch case is a ``where``, and a non-finite batch fails through a device-side assertion."""
        flat = x.detach().reshape(-1, self.dim).double()
        n = flat.shape[0]
        th._assert_async(th.isfinite(flat).all(), "the batch used to update the normaliser contains NaN or infinite values")
        batch_mean = flat.mean(0)
        batch_var = flat.var(0, unbiased=False)
        count = self.running_count.double()
        mean, var = self.running_mean.double(), self.running_var.double()
        delta = batch_mean - mean
        if self.momentum is None:
            # Chan, Golub & LeVeque's parallel merge of two (mean, variance, count) summaries.
            total = count + n
            merged_mean = mean + delta * (n / total)
            merged_var = (var * count + batch_var * n + delta.square() * (count * n / total)) / total
        else:
            a = self.momentum
            merged_mean = mean + a * delta
            # Variance of the mixture (1 − a)·old + a·batch around the new mean.
            merged_var = (1.0 - a) * var + a * batch_var + a * (1.0 - a) * delta.square()
        first = count == 0.0
        self.running_mean.copy_(th.where(first, batch_mean, merged_mean))
        self.running_var.copy_(th.where(first, batch_var, merged_var))
        self.running_count.add_(n)

    def forward(self, x: th.Tensor) -> th.Tensor:
        if self.training and self.auto_update and x.numel() >= 2 * self.dim:
            self._merge(x)  # a single sample has no variance: it leaves the statistics alone
        y = (x - self.running_mean) * th.rsqrt(self.running_var + self.eps)
        return y.clamp(-self.clip, self.clip)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, momentum={self.momentum}, clip={self.clip}, auto_update={self.auto_update}"
