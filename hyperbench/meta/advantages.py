"""Advantage estimation for the on-policy meta-learners: a linear feature baseline and GAE.

The linear feature baseline is the one of rllab, used by the published MAML code (Finn et al. 2017) and by
ProMP: per task, a ridge regression of the discounted return-to-go on the features
``[o, o², t, t², t³, 1]`` with ``o`` the observation clipped to ±10 and ``t`` the time step / 100. It is
refitted on every batch, so it has no state to save.
"""

from __future__ import annotations

import torch as th

from hyperbench.meta.rollout import EpisodeBatch

__all__ = ["discounted_returns", "fit_linear_baseline", "gae", "linear_baseline_features", "sequence_gae", "task_advantages"]


def discounted_returns(rewards: th.Tensor, mask: th.Tensor, gamma: float) -> th.Tensor:
    """Discounted return-to-go of every step.

    :param rewards: ``(..., H)``
    :param mask: ``(..., H)`` valid-step flags
    :param gamma: discount
    :return: ``(..., H)``, 0 on padding
    """
    out = th.zeros_like(rewards)
    running = th.zeros_like(rewards[..., 0])
    for h in range(rewards.shape[-1] - 1, -1, -1):
        running = (rewards[..., h] + gamma * running) * mask[..., h]
        out[..., h] = running
    return out


def linear_baseline_features(obs: th.Tensor, mask: th.Tensor) -> th.Tensor:
    """rllab's ``LinearFeatureBaseline`` features.

    :param obs: ``(T, N, H, obs_dim)``
    :param mask: ``(T, N, H)``
    :return: ``(T, N, H, 2·obs_dim + 4)``, zero on padding
    """
    o = obs.clamp(-10.0, 10.0)
    horizon = obs.shape[2]
    t = (th.arange(horizon, dtype=obs.dtype) / 100.0).view(1, 1, horizon, 1).expand(*obs.shape[:3], 1)
    feats = th.cat([o, o * o, t, t * t, t * t * t, th.ones_like(t)], dim=-1)
    return feats * mask.unsqueeze(-1)


def fit_linear_baseline(batch: EpisodeBatch, gamma: float, reg: float = 1e-5) -> th.Tensor:
    """Fit one linear baseline per task and return its value predictions.

    :param batch: episodes of ``T`` tasks
    :param gamma: discount of the regression targets
    :param reg: ridge coefficient (multiplied by 10 until the solve is finite, as rllab does)
    :return: values ``(T, N, H)``
    """
    feats = linear_baseline_features(batch.obs, batch.mask).double()
    targets = discounted_returns(batch.rewards, batch.mask, gamma).double()
    n_tasks, n_feat = feats.shape[0], feats.shape[-1]
    x = feats.reshape(n_tasks, -1, n_feat)
    y = targets.reshape(n_tasks, -1, 1)
    xtx = x.transpose(1, 2) @ x
    xty = x.transpose(1, 2) @ y
    eye = th.eye(n_feat, dtype=th.float64)
    coef = None
    for _ in range(5):
        coef = th.linalg.solve(xtx + reg * eye, xty)
        if th.isfinite(coef).all():
            break
        reg *= 10.0
    assert coef is not None
    values = (x @ coef).reshape(batch.rewards.shape)
    return values.to(batch.rewards.dtype) * batch.mask


def gae(rewards: th.Tensor, values: th.Tensor, mask: th.Tensor, gamma: float, lam: float) -> th.Tensor:
    """Generalised advantage estimation (Schulman et al. 2016, Eq. 16) along the last dimension.

    An episode's last real step bootstraps from 0 (the end of an episode is treated as terminal, as in the
    published MAML code).

    :param rewards: ``(..., H)``
    :param values: ``(..., H)``
    :param mask: ``(..., H)``
    :param gamma: discount
    :param lam: GAE λ
    :return: advantages ``(..., H)``, 0 on padding
    """
    adv = th.zeros_like(rewards)
    running = th.zeros_like(rewards[..., 0])
    next_value = th.zeros_like(rewards[..., 0])
    for h in range(rewards.shape[-1] - 1, -1, -1):
        m = mask[..., h]
        delta = rewards[..., h] + gamma * next_value - values[..., h]
        running = (delta + gamma * lam * running) * m
        adv[..., h] = running
        next_value = values[..., h] * m
    return adv


def task_advantages(batch: EpisodeBatch, gamma: float, lam: float, normalize: bool = True) -> th.Tensor:
    """Per-task GAE advantages with the linear baseline, normalised per task (rllab's ``center_adv``).

    :param batch: episodes of ``T`` tasks
    :param gamma: discount
    :param lam: GAE λ
    :param normalize: centre and scale the advantages of every task over its real steps
    :return: ``(T, N, H)``, 0 on padding
    """
    values = fit_linear_baseline(batch, gamma)
    adv = gae(batch.rewards, values, batch.mask, gamma, lam)
    if normalize:
        dims = (1, 2)
        count = batch.mask.sum(dims, keepdim=True).clamp_min(1.0)
        mean = adv.sum(dims, keepdim=True) / count
        var = ((adv - mean).pow(2) * batch.mask).sum(dims, keepdim=True) / count
        adv = (adv - mean) / (var.sqrt() + 1e-8) * batch.mask
    return adv


def sequence_gae(rewards: th.Tensor, values: th.Tensor, mask: th.Tensor, gamma: float, lam: float) -> th.Tensor:
    """GAE along whole sequences whose padded steps are skipped, not treated as episode ends.

    For recurrent meta-learners (VariBAD, RL2) a meta-episode is one episode of the BAMDP: returns flow
    across the boundaries of the episodes inside it, and only its last real step bootstraps from 0. Padding
    left by an early termination inside the sequence is skipped (the next real step's value carries over).

    :param rewards: ``(N, L)``
    :param values: ``(N, L)``
    :param mask: ``(N, L)`` 1 for real steps
    :param gamma: discount
    :param lam: GAE λ
    :return: advantages ``(N, L)``, 0 on padding
    """
    adv = th.zeros_like(rewards)
    running = th.zeros_like(rewards[:, 0])
    next_value = th.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        m = mask[:, t] > 0
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        new_running = delta + gamma * lam * running
        running = th.where(m, new_running, running)
        next_value = th.where(m, values[:, t], next_value)
        adv[:, t] = th.where(m, new_running, th.zeros_like(new_running))
    return adv
