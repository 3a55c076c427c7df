"""The one rollout loop of the meta-RL learners: meta-episodes of many tasks at once, Box or Discrete actions.

Every learner is driven by :class:`RolloutLoop`, for training and for evaluation, through four calls of the
learner contract (:class:`hyperbench.meta.MetaLearner`)::

    state = learner.begin_meta_episode(tasks)               # a meta-episode boundary: fresh adaptation state
    for p, phase in enumerate(phases):                      # phases = learner.meta_episode(n_episodes)
        for step in range(horizon):                         # phase.episodes lanes of every task in lockstep
            actions = learner.act(state, obs, rows, p, deterministic, generator)
            ...step the environments...
            state = learner.observe(state, Transition(obs, actions, rewards, next_obs, ...), rows, p)
        state = learner.end_phase(state, p, batch)          # e.g. MAML's inner step, PEARL's posterior

A **meta-episode** is a sequence of :class:`Phase` objects. A phase runs ``episodes`` episodes of every task
*side by side* (lanes), so a learner whose state does not change within a phase (MAML collects 20 episodes
with θ, then adapts) gets them in one batch, while a learner that updates its belief from episode to episode
(VariBAD, RL2, PEARL's posterior sampling) declares one phase per episode. Rows are tasks: ``tasks`` may
repeat a task to run several independent meta-episodes of it.

Episodes last the family horizon; one that terminates early is padded and masked (``mask == 0``). All tensors
of an :class:`EpisodeBatch` are ``(T, W, H, ...)`` (tasks, lanes, steps). Reset seeds are drawn from the
caller's NumPy generator (one per episode, before the phase starts) and the learner draws its action noise
from the caller's ``torch.Generator``, so a rollout is a deterministic function of those two generators.
Environments come from ``family.make_vector_env()`` (:mod:`hyperbench.envs.vector`): array implementations
for the pure-NumPy families, a pool of single environments otherwise. Large batches run in chunks of whole
tasks (``max_envs`` environments at a time) to bound memory for MuJoCo families.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces

if TYPE_CHECKING:  # pragma: no cover
    from hyperbench.meta.base import MetaLearner

__all__ = ["EpisodeBatch", "Headline", "MetaEpisodeRollout", "Phase", "RolloutLoop", "Transition"]


@dataclass(frozen=True)
class Phase:
    """Part of a meta-episode: ``episodes`` episodes of every task, run side by side."""

    label: str
    """name of the phase; an evaluation's per-episode matrix labels every column with it"""
    episodes: int = 1
    """episodes of each task in this phase (the learner's state is the same for all of them)"""
    explore: bool = False
    """act stochastically even in a deterministic evaluation (MAML's adaptation episodes)"""

    def __post_init__(self) -> None:
        if self.episodes < 1:
            raise ValueError(f"phase {self.label!r}: episodes must be >= 1, got {self.episodes}")


@dataclass(frozen=True)
class Headline:
    """Which numbers of the per-episode matrix are a method's score (its evaluation protocol, as data).

    ``per="episode"``: every episode of the named phases is one sample (MAML: each post-adaptation episode).
    ``per="meta-episode"``: the returns of those episodes are summed per meta-episode, one sample per task
    row (VariBAD / RL2: the meta-episode return); success is then "succeeded in any of them".
    """

    phases: tuple[str, ...] = ()
    """labels of the phases that count (empty: every phase)"""
    per: str = "episode"
    """``"episode"`` or ``"meta-episode"``"""
    description: str = ""
    """one line for reports"""

    def __post_init__(self) -> None:
        if self.per not in ("episode", "meta-episode"):
            raise ValueError(f"Headline.per must be 'episode' or 'meta-episode', got {self.per!r}")

    def columns(self, labels: Sequence[str]) -> np.ndarray:
        """Indices of the counted columns of a matrix whose columns carry ``labels``.

        :raises ValueError: when no column belongs to the headline phases
        """
        cols = np.array([i for i, lab in enumerate(labels) if not self.phases or lab in self.phases], dtype=int)
        if cols.size == 0:
            raise ValueError(f"no episode of the phases {list(self.phases)} in a meta-episode of phases {sorted(set(labels))}")
        return cols

    def samples(self, matrix: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """The headline samples ``(T, k)`` of a per-episode return matrix ``(T, E)``."""
        picked = np.asarray(matrix, dtype=float)[:, self.columns(labels)]
        return picked.sum(axis=1, keepdims=True) if self.per == "meta-episode" else picked

    def success_samples(self, matrix: np.ndarray, labels: Sequence[str]) -> np.ndarray:
        """The headline success samples ``(T, k)`` of a per-episode success matrix ``(T, E)``."""
        picked = np.asarray(matrix, dtype=float)[:, self.columns(labels)]
        return picked.max(axis=1, keepdims=True) if self.per == "meta-episode" else picked

    def to_dict(self) -> dict[str, Any]:
        """Plain form (stored in run records)."""
        return {"phases": list(self.phases), "per": self.per, "description": self.description}

    @classmethod
    def from_dict(cls, data: Any) -> Headline:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(data.get("phases", ())), str(data.get("per", "episode")), str(data.get("description", "")))


class Transition(NamedTuple):
    """One step of ``k`` task rows × ``W`` lanes, as :meth:`MetaLearner.observe` receives it.

    The tensors may share memory with the loop's buffers: copy what you keep (``.clone()``).
    """

    obs: th.Tensor
    """``(k, W, obs_dim)``"""
    action: th.Tensor
    """``(k, W, act_dim)`` float (Box; as the learner returned it, before clipping) or ``(k, W)`` int64 (Discrete)"""
    reward: th.Tensor
    """``(k, W)``"""
    next_obs: th.Tensor
    """``(k, W, obs_dim)``"""
    terminated: th.Tensor
    """``(k, W)`` bool"""
    truncated: th.Tensor
    """``(k, W)`` bool (the horizon's last step is truncated)"""
    alive: th.Tensor
    """``(k, W)`` bool: the lane really stepped (its episode had not ended); other entries are padding"""
    step: int
    """time step inside the episode"""


class EpisodeBatch(NamedTuple):
    """``W`` episodes of each of ``T`` tasks, padded to the horizon ``H``."""

    obs: th.Tensor
    """``(T, W, H, obs_dim)`` observation at each step"""
    actions: th.Tensor
    """``(T, W, H, act_dim)`` the actions the learner returned (unclipped), or ``(T, W, H)`` int64 (Discrete)"""
    rewards: th.Tensor
    """``(T, W, H)``"""
    mask: th.Tensor
    """``(T, W, H)`` 1 for real steps, 0 for padding after an early termination"""
    successes: th.Tensor | None
    """``(T, W)`` 1 if the episode succeeded at any step (families with a success notion), else ``None``"""
    next_obs: th.Tensor | None = None
    """``(T, W, H, obs_dim)`` observation after each step"""
    terminated: th.Tensor | None = None
    """``(T, W, H)`` bool"""
    extras: dict[str, th.Tensor] | None = None
    """``(T, W, H, ...)`` per-step values the learner returned from ``act`` (e.g. values, log-probabilities)"""

    @property
    def returns(self) -> th.Tensor:
        """Undiscounted episode returns ``(T, W)``."""
        return (self.rewards * self.mask).sum(-1)

    @property
    def n_steps(self) -> int:
        """Number of real environment steps in the batch."""
        return int(self.mask.sum().item())

    def task(self, index: int) -> EpisodeBatch:
        """The episodes of one task, keeping a task dimension of size 1."""
        sl = slice(index, index + 1)

        def cut(t: th.Tensor | None) -> th.Tensor | None:
            return None if t is None else t[sl]

        extras = None if self.extras is None else {k: v[sl] for k, v in self.extras.items()}
        return EpisodeBatch(
            self.obs[sl], self.actions[sl], self.rewards[sl], self.mask[sl], cut(self.successes),
            cut(self.next_obs), cut(self.terminated), extras,
        )  # fmt: skip


class MetaEpisodeRollout(NamedTuple):
    """What :meth:`RolloutLoop.run` returns."""

    state: Any
    """the learner's state at the end of the meta-episode"""
    phases: tuple[Phase, ...]
    """the phases that ran"""
    batches: list[EpisodeBatch]
    """one batch per phase"""

    @property
    def labels(self) -> tuple[str, ...]:
        """The phase label of every episode column, in meta-episode order."""
        return tuple(p.label for p in self.phases for _ in range(p.episodes))

    @property
    def returns(self) -> np.ndarray:
        """Per-episode returns ``(T, E)`` with ``E`` = every episode of the meta-episode, in order."""
        return np.concatenate([b.returns.numpy().astype(float) for b in self.batches], axis=1)

    @property
    def successes(self) -> np.ndarray | None:
        """Per-episode successes ``(T, E)``, or ``None`` without a success notion."""
        if any(b.successes is None for b in self.batches):
            return None
        return np.concatenate([b.successes.numpy().astype(float) for b in self.batches if b.successes is not None], axis=1)

    @property
    def n_steps(self) -> int:
        """Real environment steps of the whole rollout."""
        return sum(b.n_steps for b in self.batches)


class RolloutLoop:
    """Runs meta-episodes of many tasks of one family for any :class:`~hyperbench.meta.MetaLearner`.

    :param family: a :class:`hyperbench.envs.TaskFamily` (``make_vector_env()``, ``horizon``, ``has_success``)
    :param max_envs: largest number of environments stepped together; larger batches run in chunks of whole
        tasks
    """

    def __init__(self, family: Any, max_envs: int = 1024) -> None:
        if max_envs < 1:
            raise ValueError(f"max_envs must be >= 1, got {max_envs}")
        from hyperbench.envs.vector import SerialVectorEnv

        self.family = family
        self.max_envs = int(max_envs)
        self.horizon = int(family.horizon)
        self.has_success = bool(getattr(family, "has_success", False))
        make = getattr(family, "make_vector_env", None)
        self.envs = make() if make is not None else SerialVectorEnv(family)
        self.observation_space = self.envs.observation_space
        self.action_space = self.envs.action_space
        self.obs_dim = int(np.prod(self.observation_space.shape or (1,)))
        self.discrete = isinstance(self.action_space, spaces.Discrete)
        if self.discrete:
            assert isinstance(self.action_space, spaces.Discrete)
            self.act_dim = 1
            self.n_actions = int(self.action_space.n)
            self.action_low = self.action_high = np.zeros(0)
        elif isinstance(self.action_space, spaces.Box):
            self.act_dim = int(np.prod(self.action_space.shape))
            self.n_actions = 0
            self.action_low = np.asarray(self.action_space.low, dtype=np.float64).reshape(-1)
            self.action_high = np.asarray(self.action_space.high, dtype=np.float64).reshape(-1)
        else:
            raise TypeError(f"the rollout loop supports Box and Discrete action spaces, got {self.action_space}")

    def close(self) -> None:
        """Close the environments."""
        self.envs.close()

    def run(
        self,
        learner: MetaLearner,
        tasks: Sequence[Any],
        phases: Sequence[Phase],
        rng: np.random.Generator,
        generator: th.Generator,
        deterministic: bool = False,
    ) -> MetaEpisodeRollout:
        """Run one meta-episode of every task: a fresh state, then each phase in turn.

        :param learner: the learner that acts
        :param tasks: the ``T`` tasks (rows)
        :param phases: the meta-episode (usually ``learner.meta_episode(n)``)
        :param rng: draws the reset seeds
        :param generator: passed to ``learner.act`` for its action noise
        :param deterministic: act deterministically (except in phases marked ``explore``)
        :return: the final state and one batch per phase
        """
        tasks = list(tasks)
        if not tasks or not phases:
            raise ValueError(f"a meta-episode needs at least one task and one phase, got {len(tasks)} and {len(phases)}")
        state = learner.begin_meta_episode(tasks)
        batches = []
        for index, phase in enumerate(phases):
            det = deterministic and not phase.explore
            batch, state = self.run_phase(learner, state, tasks, phase.episodes, index, rng, generator, det)
            state = learner.end_phase(state, index, batch)
            batches.append(batch)
        return MetaEpisodeRollout(state, tuple(phases), batches)

    @th.no_grad()
    def run_phase(
        self,
        learner: MetaLearner,
        state: Any,
        tasks: Sequence[Any],
        episodes: int,
        phase: int,
        rng: np.random.Generator,
        generator: th.Generator,
        deterministic: bool,
    ) -> tuple[EpisodeBatch, Any]:
        """Run ``episodes`` episodes of every task side by side (one phase), without ``end_phase``.

        :return: the batch and the learner's state after its last ``observe``
        """
        n_tasks, horizon, width = len(tasks), self.horizon, int(episodes)
        # NumPy buffers (cheaper to index per step than tensors), handed over as tensors at the end
        obs = np.zeros((n_tasks, width, horizon, self.obs_dim), dtype=np.float32)
        next_obs = np.zeros_like(obs)
        if self.discrete:
            actions = np.zeros((n_tasks, width, horizon), dtype=np.int64)
        else:
            actions = np.zeros((n_tasks, width, horizon, self.act_dim), dtype=np.float32)
        rewards = np.zeros((n_tasks, width, horizon), dtype=np.float32)
        mask = np.zeros((n_tasks, width, horizon), dtype=np.float32)
        terminated = np.zeros((n_tasks, width, horizon), dtype=bool)
        successes = np.zeros((n_tasks, width), dtype=np.float32) if self.has_success else None
        extras: dict[str, th.Tensor] = {}
        seeds = rng.integers(0, 2**31 - 1, size=(n_tasks, width))
        per_chunk = max(1, self.max_envs // width)
        for start in range(0, n_tasks, per_chunk):
            rows = slice(start, min(n_tasks, start + per_chunk))
            k = rows.stop - rows.start
            flat_tasks = [tasks[t] for t in range(rows.start, rows.stop) for _ in range(width)]
            current = self.envs.reset(flat_tasks, seeds[rows].reshape(-1)).reshape(k, width, self.obs_dim)
            alive = np.ones((k, width), dtype=bool)
            for h in range(horizon):
                obs[rows, :, h] = current
                cur = th.from_numpy(current)  # contiguous (k, W, obs_dim)
                out = learner.act(state, cur, rows, phase, deterministic, generator)
                action, step_extras = out if isinstance(out, tuple) else (out, None)
                action_np = action.detach().cpu().numpy()  # a learner on a GPU acts there
                actions[rows, :, h] = action_np
                mask[rows, :, h] = alive
                if step_extras:
                    for key, value in step_extras.items():
                        if key not in extras:
                            extras[key] = th.zeros(n_tasks, width, horizon, *value.shape[2:], dtype=value.dtype)
                        extras[key][rows, :, h] = value
                if self.discrete:
                    env_actions = action_np.astype(np.int64).reshape(k * width)
                else:
                    flat = action_np.astype(np.float64).reshape(k * width, self.act_dim)
                    env_actions = np.clip(flat, self.action_low, self.action_high)
                result = self.envs.step(env_actions, alive.reshape(-1))
                current = result.obs.reshape(k, width, self.obs_dim)
                next_obs[rows, :, h] = current
                rewards[rows, :, h] = result.rewards.reshape(k, width)
                term = result.terminated.reshape(k, width) & alive
                trunc = (result.truncated.reshape(k, width) | (h == horizon - 1)) & alive
                terminated[rows, :, h] = term
                if successes is not None:
                    np.maximum(successes[rows], result.success.reshape(k, width) & alive, out=successes[rows])
                transition = Transition(
                    cur, action, th.from_numpy(rewards[rows, :, h]), th.from_numpy(next_obs[rows, :, h]),
                    th.from_numpy(term), th.from_numpy(trunc), th.from_numpy(alive), h,
                )  # fmt: skip
                state = learner.observe(state, transition, rows, phase)
                alive = alive & ~(term | trunc)
                if not alive.any():
                    break
        batch = EpisodeBatch(
            th.from_numpy(obs), th.from_numpy(actions), th.from_numpy(rewards), th.from_numpy(mask),
            None if successes is None else th.from_numpy(successes), th.from_numpy(next_obs), th.from_numpy(terminated),
            extras or None,
        )  # fmt: skip
        return batch, state
