"""VariBAD's recurrent encoder and reward decoder (Zintgraf et al., ICLR 2020), also RL2's recurrent core.

The encoder embeds each transition ``(a_t, r_t, s_{t+1})`` (plus the episode-end flag ``d_t`` for RL2),
feeds it to a GRU whose state ``h_t`` summarises the history of the meta-episode, and (VariBAD) maps ``h_t``
to a diagonal Gaussian ``q(m | τ_{:t}) = N(μ_t, σ²_t)`` over the task latent ``m``. ``h_0 = 0``, so the
posterior before the first step (the prior of the meta-episode) is the head's output at ``h_0``.

Sequences are whole meta-episodes ``(B, L, ...)`` with a mask: padded steps (after an early termination)
leave the state unchanged. :meth:`RecurrentEncoder.sequence` moves the real steps of each row to the front
(a stable sort), runs :class:`torch.nn.GRU` over them once, and scatters the states back, which is exact and
much faster than a Python loop of GRU cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch as th
from torch import nn

from hyperbench.meta.policies import mlp

__all__ = ["RecurrentEncoder", "RewardDecoder"]


class RecurrentEncoder(nn.Module):
    """GRU over transition embeddings, with an optional Gaussian head.

    :param obs_dim: state size
    :param action_dim: action input size (one-hot size for Discrete actions)
    :param hidden: GRU state size
    :param latent_dim: size of the Gaussian latent (0: no head; the representation is the GRU state)
    :param state_embed: state embedding width
    :param action_embed: action embedding width (0: the raw action is concatenated)
    :param reward_embed: reward embedding width
    :param done_input: also feed the episode-end flag (RL2)
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: int,
        latent_dim: int = 0,
        state_embed: int = 32,
        action_embed: int = 16,
        reward_embed: int = 16,
        done_input: bool = False,
    ) -> None:
        super().__init__()
        self.obs_dim, self.action_dim, self.hidden = int(obs_dim), int(action_dim), int(hidden)
        self.latent_dim = int(latent_dim)
        self.done_input = bool(done_input)
        self.state_embed = nn.Linear(self.obs_dim, state_embed)
        self.action_embed = nn.Linear(self.action_dim, action_embed) if action_embed > 0 else None
        self.reward_embed = nn.Linear(1, reward_embed)
        gru_in = state_embed + (action_embed if action_embed > 0 else self.action_dim) + reward_embed + int(done_input)
        self.gru = nn.GRU(gru_in, self.hidden, batch_first=True)
        self.head = nn.Linear(self.hidden, 2 * self.latent_dim) if self.latent_dim > 0 else None

    @property
    def repr_dim(self) -> int:
        """Size of the task representation: ``2 · latent_dim`` (mean and variance) or the GRU state."""
        return 2 * self.latent_dim if self.head is not None else self.hidden

    def embed(self, action: th.Tensor, reward: th.Tensor, next_obs: th.Tensor, done: th.Tensor) -> th.Tensor:
        """GRU inputs ``(..., gru_in)`` of transitions (``action`` already one-hot for Discrete actions)."""
        parts = [th.relu(self.state_embed(next_obs))]
        parts.append(th.relu(self.action_embed(action)) if self.action_embed is not None else action)
        parts.append(th.relu(self.reward_embed(reward.unsqueeze(-1))))
        if self.done_input:
            parts.append(done.unsqueeze(-1).to(next_obs.dtype))
        return th.cat(parts, dim=-1)

    def step(self, h: th.Tensor, inputs: th.Tensor, alive: th.Tensor) -> th.Tensor:
        """One GRU step ``(B, hidden)`` of ``inputs`` ``(B, gru_in)``; rows not ``alive`` keep their state."""
        new = self.gru(inputs.unsqueeze(1), h.unsqueeze(0))[1][0]
        return th.where(alive.unsqueeze(-1), new, h)

    def sequence(self, inputs: th.Tensor, mask: th.Tensor) -> th.Tensor:
        """States after every step of whole sequences, with ``h_0 = 0`` first.

        :param inputs: ``(B, L, gru_in)``
        :param mask: ``(B, L)`` 1 for real steps
        :return: ``(B, L + 1, hidden)``: ``h_0`` then the state after each step (padded steps repeat the state)
        """
        batch, length = mask.shape
        real = mask > 0
        order = th.argsort((~real).to(th.int8), dim=1, stable=True)  # real steps first, in order
        packed = inputs.gather(1, order.unsqueeze(-1).expand_as(inputs))
        out, _ = self.gru(packed)  # (B, L, hidden); entries past a row's real length are unused
        # position of each step in the packed sequence = number of real steps up to and including it, minus 1
        count = real.long().cumsum(1)
        idx = (count - 1).clamp_min(0)
        states = out.gather(1, idx.unsqueeze(-1).expand(batch, length, self.hidden))
        states = th.where((count > 0).unsqueeze(-1), states, th.zeros_like(states))  # before the first real step
        return th.cat([inputs.new_zeros(batch, 1, self.hidden), states], dim=1)

    def posterior(self, h: th.Tensor) -> tuple[th.Tensor, th.Tensor]:
        """``(mean, logvar)`` of ``q(m | h)`` (VariBAD)."""
        assert self.head is not None, "this encoder has no Gaussian head (latent_dim=0)"
        mean, logvar = self.head(h).chunk(2, dim=-1)
        return mean, logvar

    def representation(self, h: th.Tensor) -> th.Tensor:
        """What the policy conditions on: ``[μ, σ²]`` (VariBAD) or the GRU state (RL2)."""
        if self.head is None:
            return h
        mean, logvar = self.posterior(h)
        return th.cat([mean, logvar.exp()], dim=-1)


class RewardDecoder(nn.Module):
    """``p(r_{t} | m, s_t, a_t, s_{t+1})``: an MLP regressing the reward (VariBAD's deterministic reward head).

    :param latent_dim: task latent size
    :param obs_dim: state size
    :param action_dim: action input size (one-hot for Discrete)
    :param hidden: hidden widths
    :param input_prev: also take ``(s_t, a_t)`` (VariBAD's MuJoCo setting); ``s_{t+1}`` is always an input
    """

    def __init__(self, latent_dim: int, obs_dim: int, action_dim: int, hidden: Sequence[int], input_prev: bool) -> None:
        super().__init__()
        self.input_prev = bool(input_prev)
        size = latent_dim + obs_dim + ((obs_dim + action_dim) if input_prev else 0)
        self.net = mlp((size, *(int(h) for h in hidden), 1))

    def forward(self, z: th.Tensor, obs: th.Tensor, action: th.Tensor, next_obs: th.Tensor) -> th.Tensor:
        """Predicted rewards ``(...)`` for broadcastable ``z``, ``obs``, ``action``, ``next_obs`` ``(..., dim)``."""
        parts = [z, next_obs, obs, action] if self.input_prev else [z, next_obs]
        shape = th.broadcast_shapes(*(p.shape[:-1] for p in parts))
        return self.net(th.cat([p.expand(*shape, p.shape[-1]) for p in parts], dim=-1))[..., 0]
