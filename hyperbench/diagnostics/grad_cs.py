"""Gradient accuracy of a critic ("grad-cs"): Sarafian, Keynan & Kraus, ICML 2021, §3.3 and Fig. 3.

An actor trained through a critic follows ``∇ₐQ(s, a)`` at its own action, so what matters is whether that
gradient points where the return actually increases. The measure compares it with a gradient estimated
from the environment itself:

1. **States** from the policy's own state distribution: for each of ``N`` states, reset the environment,
   run the deterministic policy for ``n ~ U{0, …, H−1}`` steps (``H`` = the episode time limit, 1000 if
   the environment has none; a new episode starts if one ends) and save the environment's state.
2. **Actions**: ``M`` actions around the policy's deterministic action ``ā`` (SAC/TQC: the mean action),
   ``a_j = clip(ā + δa_j, −1, 1)`` in SB3's scaled action space (the critic's input space), with
   ``δa_j ~ N(0, σ²)`` and ``δa_0 = 0`` (the first action is the policy's own).
3. **Returns**: from the saved state, hold ``a_j`` for ``hold`` steps, then follow the policy until the
   episode terminates or is truncated by its time limit (the limit of the episode the state came from,
   so the rollout ends where that episode would have); a truncated rollout is bootstrapped with the
   target critic: ``G_j = Σ_t γᵗ r_t + γᵀ Q_target(s_T, a_T)``.
4. **"True" gradient**: the least-squares fit ``G_j ≈ α + βᵀ(a_j − ā)``; ``β`` estimates ``∇ₐQ^π(s, ā)``.
5. **Score**: the cosine similarity ``CS = cos(β, ∇ₐQ_φ(s, ā))`` with the critic's own gradient, per
   state; reported as the mean over states and the fraction of states with ``CS > τ`` for ``τ ∈ [0, 1]``.

Defaults follow the authors' public code (keynans/HypeRL, ``TD3/bias_test.py``): 15 states × 15 actions,
σ = 0.3 with clipping to the action bounds, the first action unperturbed, ``hold = 3`` steps, one rollout
per action, states after ``U{0, …, 999}`` policy steps, rollouts cut at the remaining steps of the
1000-step episode and bootstrapped with the minimum of the twin target critics, γ = 0.99 (their training
discount; here the model's own ``gamma``, 0.99 unless trained otherwise), the critic gradient of the
online critic's first member ``Q1`` at the policy action (TD3's actor loss). Their fit regresses the
pairwise return differences on the pairwise action differences, which is the same slope as ordinary
least squares with an intercept, used here.

**Which Q** (``head``): ``"actor"`` (default) differentiates the value the algorithm's actor loss
differentiates: TD3 ``Q1`` (``critic.q1_forward``), SAC the minimum over the critic's members, TQC the
mean over all quantiles of all critics. ``"q1"`` uses the first member only (TQC: the mean of its
quantiles) for every algorithm. The bootstrap value is the algorithm's own target: the minimum over the
target critic's members (TD3, SAC; without SAC's entropy term) or TQC's truncated quantile mean.

Rollouts restart from saved states (:mod:`hyperbench.diagnostics.env_state`: MuJoCo state restore, or a
deep copy for other environments). Nothing here changes the model, the training environment or the global
random generators, so measuring during training leaves the training run itself unchanged.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    import gymnasium as gym

    from hyperbench.diagnostics.env_state import SnapshotFactory

__all__ = [
    "HEADS",
    "GradCSAgent",
    "GradCSConfig",
    "GradCSResult",
    "SB3Agent",
    "cosine_similarity",
    "fit_gradient",
    "fraction_above",
    "grad_cs",
    "plot_grad_cs",
    "save_results",
]

Head = Literal["actor", "q1"]
#: Critic heads whose gradient is measured (see the module docstring).
HEADS: tuple[str, ...] = ("actor", "q1")
#: The τ grid of the "fraction of states with CS > τ" curve.
DEFAULT_TAUS: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(21))


@dataclass(frozen=True)
class GradCSConfig:
    """Settings of one grad-cs measurement (defaults: the authors' public code, see the module docstring)."""

    states: int = 15
    """N, states sampled from the policy's state distribution"""
    actions: int = 15
    """M, actions per state, the first one the policy's own (must exceed the action dimension)"""
    std: float = 0.3
    """σ of the Gaussian action perturbation, in SB3's scaled action space [−1, 1]"""
    hold: int = 3
    """steps each perturbed action is held before the policy takes over"""
    gamma: float | None = None
    """discount of the rollout returns (``None``: the model's own ``gamma``)"""
    max_rollout_steps: int | None = None
    """cut (and bootstrap) rollouts after this many steps (``None``: at the episode's time limit)"""
    horizon: int | None = None
    """states are taken after ``U{0, …, horizon−1}`` policy steps (``None``: the env's time limit, else 1000)"""
    head: Head = "actor"
    """which Q the critic gradient is taken of: ``"actor"`` or ``"q1"``"""

    def check(self, action_dim: int | None = None) -> None:
        """Raise ``ValueError`` naming every invalid setting.

        :param action_dim: the action dimension (``actions`` must exceed it for the fit)
        """
        problems = []
        if self.states < 1:
            problems.append(f"states must be ≥ 1, got {self.states}")
        if self.actions < 3:
            problems.append(f"actions must be ≥ 3, got {self.actions}")
        if action_dim is not None and self.actions < action_dim + 2:
            problems.append(
                f"actions must be ≥ action dimension + 2 = {action_dim + 2} for the least-squares fit of the gradient "
                f"(slope and intercept with at least one residual degree of freedom), got {self.actions}"
            )
        if not (self.std > 0 and math.isfinite(self.std)):
            problems.append(f"std must be a positive number, got {self.std}")
        if self.hold < 1:
            problems.append(f"hold must be ≥ 1, got {self.hold}")
        if self.gamma is not None and not 0 < self.gamma <= 1:
            problems.append(f"gamma must be in (0, 1], got {self.gamma}")
        if self.max_rollout_steps is not None and self.max_rollout_steps < 1:
            problems.append(f"max_rollout_steps must be ≥ 1 or None, got {self.max_rollout_steps}")
        if self.horizon is not None and self.horizon < 1:
            problems.append(f"horizon must be ≥ 1 or None, got {self.horizon}")
        if self.head not in HEADS:
            problems.append(f"head must be one of {HEADS}, got {self.head!r}")
        if problems:
            raise ValueError("invalid grad-cs settings: " + "; ".join(problems))


# ----------------------------------------------------------------------------------------------------
# The agent: what the measure needs from a model


@runtime_checkable
class GradCSAgent(Protocol):
    """What grad-cs needs from an actor-critic. Actions are in the critic's (scaled) action space."""

    gamma: float
    """the discount the critic was trained with"""

    def act(self, observation: Any) -> np.ndarray:
        """Deterministic action ``(action_dim,)`` in the scaled space."""
        ...

    def env_action(self, action: np.ndarray) -> np.ndarray:
        """Map a scaled action to the environment's action space."""
        ...

    def critic_gradient(self, observations: Sequence[Any], actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(∇ₐQ (N, action_dim), Q (N,))`` at the given states and actions ``(N, action_dim)``."""
        ...

    def bootstrap(self, observation: Any, action: np.ndarray) -> float:
        """Target-critic value used to close a truncated rollout."""
        ...


def _algorithm(model: Any) -> str:
    """``td3``, ``sac`` or ``tqc``; ``TypeError`` for any other model."""
    from stable_baselines3 import SAC, TD3

    if isinstance(model, TD3):
        return "td3"
    if isinstance(model, SAC):
        return "sac"
    try:
        from sb3_contrib import TQC

        if isinstance(model, TQC):
            return "tqc"
    except ImportError:  # sb3-contrib is optional
        pass
    raise TypeError(f"grad-cs measures TD3, SAC and TQC models (an actor trained through ∇ₐQ), got {type(model).__name__}")


class SB3Agent:
    """:class:`GradCSAgent` of an SB3 / sb3-contrib TD3, SAC or TQC model.

    :param model: the algorithm instance (its ``policy`` holds actor, critic and target critic)
    :param head: ``"actor"`` (the Q the actor loss differentiates) or ``"q1"`` (first member)
    """

    def __init__(self, model: Any, head: Head = "actor") -> None:
        from gymnasium import spaces

        if head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {head!r}")
        self.algorithm = _algorithm(model)
        self.model = model
        self.policy = model.policy
        self.head = head
        self.gamma = float(model.gamma)
        if not isinstance(self.policy.action_space, spaces.Box):
            raise TypeError(f"grad-cs needs a continuous (Box) action space, got {self.policy.action_space}")
        if not getattr(self.policy, "squash_output", False):
            raise TypeError("grad-cs expects a policy with squashed (tanh) actions, as SB3's TD3/SAC/TQC policies have")
        self.policy.set_training_mode(False)

    def _obs(self, observation: Any) -> Any:
        tensor, _ = self.policy.obs_to_tensor(observation)
        return tensor

    def _batch(self, observations: Sequence[Any]) -> Any:
        first = observations[0]
        if isinstance(first, Mapping):
            stacked: Any = {key: np.stack([np.asarray(o[key]) for o in observations]) for key in first}
        else:
            stacked = np.stack([np.asarray(o) for o in observations])
        return self._obs(stacked)

    def act(self, observation: Any) -> np.ndarray:
        import torch as th

        with th.inference_mode():
            action = self.policy._predict(self._obs(observation), deterministic=True)
        return action.cpu().numpy().reshape(-1).astype(np.float64)

    def env_action(self, action: np.ndarray) -> np.ndarray:
        return np.asarray(self.policy.unscale_action(np.clip(action, -1.0, 1.0)), dtype=self.policy.action_space.dtype)

    def _q(self, critic: Any, obs: Any, actions: Any) -> Any:
        import torch as th

        if self.algorithm == "tqc":
            quantiles = critic(obs, actions)  # (N, n_critics, n_quantiles)
            return quantiles[:, 0].mean(dim=1) if self.head == "q1" else quantiles.mean(dim=2).mean(dim=1)
        if self.head == "q1" or self.algorithm == "td3":
            return critic.q1_forward(obs, actions).reshape(-1)
        return th.min(th.cat(critic(obs, actions), dim=1), dim=1).values

    def critic_gradient(self, observations: Sequence[Any], actions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch as th

        obs = self._batch(observations)
        a = th.as_tensor(np.asarray(actions), dtype=th.float32, device=self.policy.device).requires_grad_(True)
        with th.enable_grad():
            q = self._q(self.policy.critic, obs, a)
            (grad,) = th.autograd.grad(q.sum(), a)  # touches no parameter's .grad
        return grad.detach().cpu().numpy().astype(np.float64), q.detach().cpu().numpy().astype(np.float64)

    def bootstrap(self, observation: Any, action: np.ndarray) -> float:
        import torch as th

        obs = self._obs(observation)
        a = th.as_tensor(np.asarray(action)[None], dtype=th.float32, device=self.policy.device)
        target = self.policy.critic_target
        with th.no_grad():
            if self.algorithm == "tqc":
                quantiles, _ = th.sort(target(obs, a).reshape(-1))
                keep = target.quantiles_total - self.model.top_quantiles_to_drop_per_net * target.n_critics
                return float(quantiles[:keep].mean())
            return float(th.min(th.cat(target(obs, a), dim=1)))


# ----------------------------------------------------------------------------------------------------
# The estimator


def fit_gradient(perturbations: np.ndarray, returns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope of returns on action perturbations, per state.

    :param perturbations: ``(N, M, action_dim)`` executed action minus the policy action
    :param returns: ``(N, M)``
    :return: ``(slopes (N, action_dim), R² (N,))``
    """
    n, m, d = perturbations.shape
    slopes = np.zeros((n, d))
    r2 = np.zeros(n)
    for i in range(n):
        x = np.concatenate([np.ones((m, 1)), perturbations[i]], axis=1)
        coef, *_ = np.linalg.lstsq(x, returns[i], rcond=None)
        slopes[i] = coef[1:]
        resid = returns[i] - x @ coef
        total = float(np.sum((returns[i] - returns[i].mean()) ** 2))
        r2[i] = 1.0 - float(np.sum(resid**2)) / total if total > 0 else float("nan")
    return slopes, r2


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity; ``nan`` where either row is zero.

    :param a: ``(N, d)``
    :param b: ``(N, d)``
    :return: ``(N,)``
    """
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cs = np.sum(a * b, axis=1) / (na * nb)
    return np.where((na > 0) & (nb > 0), cs, np.nan)


def fraction_above(cs: np.ndarray, taus: Sequence[float] = DEFAULT_TAUS) -> np.ndarray:
    """Fraction of states with ``CS > τ`` for each τ (undefined CS counts as not above).

    :param cs: ``(N,)`` cosine similarities
    :param taus: thresholds
    :return: ``(len(taus),)``
    """
    cs = np.asarray(cs, dtype=float)
    return np.array([float(np.mean(np.nan_to_num(cs, nan=-np.inf) > t)) for t in taus])


def _rollout(
    env: gym.Env, agent: GradCSAgent, action: np.ndarray, hold: int, gamma: float, max_steps: int | None
) -> tuple[float, int, bool]:
    """Hold ``action`` for ``hold`` steps, then follow the policy. Returns ``(return, steps, bootstrapped)``."""
    ret, discount, steps = 0.0, 1.0, 0
    a = action
    while True:
        obs, reward, terminated, truncated, _ = env.step(agent.env_action(a))
        ret += discount * float(reward)
        discount *= gamma
        steps += 1
        if terminated:
            return ret, steps, False
        if steps >= hold:
            a = agent.act(obs)
        if truncated or (max_steps is not None and steps >= max_steps):
            return ret + discount * agent.bootstrap(obs, a), steps, True


def _time_limit(env: gym.Env) -> int | None:
    spec = getattr(env, "spec", None)
    steps = getattr(spec, "max_episode_steps", None)
    return int(steps) if steps else None


@dataclass
class GradCSResult:
    """Outcome of :func:`grad_cs`. ``N`` states, ``M`` actions per state, ``d`` action dimensions."""

    label: str
    """name in tables and plots"""
    cs: np.ndarray
    """``(N,)`` cosine similarity of the critic's ∇ₐQ with the fitted gradient (``nan`` if either is zero)"""
    true_grad: np.ndarray
    """``(N, d)`` least-squares slope of the rollout returns on the action perturbation"""
    critic_grad: np.ndarray
    """``(N, d)`` the critic's ∇ₐQ at the policy action"""
    q_critic: np.ndarray
    """``(N,)`` the critic's Q at the policy action (the measured head)"""
    returns: np.ndarray
    """``(N, M)`` discounted rollout returns (column 0: the policy's own action)"""
    perturbations: np.ndarray
    """``(N, M, d)`` executed (clipped) action minus the policy action"""
    fit_r2: np.ndarray
    """``(N,)`` R² of the linear fit (how linear the return is in the action at this scale)"""
    rollout_steps: np.ndarray
    """``(N, M)`` environment steps of each rollout"""
    bootstrapped: np.ndarray
    """``(N, M)`` whether the rollout was truncated and closed with the target critic"""
    settings: dict[str, Any] = field(default_factory=dict)
    """what was measured: algorithm, head, config, seed, env, timings"""

    @property
    def mean(self) -> float:
        """Mean CS over the states where it is defined (the paper's headline number)."""
        finite = self.cs[np.isfinite(self.cs)]
        return float(finite.mean()) if finite.size else float("nan")

    def fraction_above(self, taus: Sequence[float] = DEFAULT_TAUS) -> np.ndarray:
        """Fraction of states with ``CS > τ`` (see :func:`fraction_above`)."""
        return fraction_above(self.cs, taus)

    def summary(self) -> dict[str, Any]:
        """Headline numbers (JSON-ready)."""
        finite = self.cs[np.isfinite(self.cs)]
        return {
            "mean_cs": self.mean,
            "median_cs": float(np.median(finite)) if finite.size else float("nan"),
            "std_cs_ddof1": float(np.std(finite, ddof=1)) if finite.size > 1 else float("nan"),
            "fraction_positive": float(fraction_above(self.cs, [0.0])[0]),
            "n_states": int(self.cs.size),
            "n_undefined": int(self.cs.size - finite.size),
            "mean_fit_r2": float(np.nanmean(self.fit_r2)) if np.isfinite(self.fit_r2).any() else float("nan"),
            "bootstrapped_fraction": float(self.bootstrapped.mean()),
            "env_steps": int(self.rollout_steps.sum() + self.settings.get("sampling_steps", 0)),
        }

    def to_dict(self, taus: Sequence[float] = DEFAULT_TAUS) -> dict[str, Any]:
        """JSON form: summary, the τ curve and every per-state quantity."""
        return {
            "label": self.label,
            "summary": self.summary(),
            "tau": [float(t) for t in taus],
            "fraction_above": self.fraction_above(taus).tolist(),
            "settings": self.settings,
            "states": {
                "cs": _nan_to_none(self.cs),
                "true_grad": self.true_grad.tolist(),
                "critic_grad": self.critic_grad.tolist(),
                "q_critic": self.q_critic.tolist(),
                "returns": self.returns.tolist(),
                "perturbations": self.perturbations.tolist(),
                "fit_r2": _nan_to_none(self.fit_r2),
                "rollout_steps": self.rollout_steps.tolist(),
                "bootstrapped": self.bootstrapped.tolist(),
            },
        }


def _nan_to_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def grad_cs(
    model: Any,
    env: gym.Env,
    config: GradCSConfig | None = None,
    *,
    seed: int = 0,
    label: str | None = None,
    snapshot: SnapshotFactory | None = None,
    log: Callable[[str], None] | None = None,
) -> GradCSResult:
    """Measure how well the critic's ∇ₐQ agrees with the return's gradient (see the module docstring).

    :param model: an SB3 TD3 / SAC or sb3-contrib TQC model, or any :class:`GradCSAgent`
    :param env: a single (not vectorised) Gymnasium environment of the task, built like the training one
        (the same wrappers and observation layout); it is reset and stepped, the model is not changed
    :param config: settings (default: the public code's)
    :param seed: seed of the state sampling (environment resets, step counts) and of the perturbations
    :param label: name in tables and plots (default: the algorithm)
    :param snapshot: how environment states are saved and restored
        (default: :func:`~hyperbench.diagnostics.env_state.capture`)
    :param log: called with one progress line per state
    :return: the per-state cosine similarities and everything they were computed from
    :raises ValueError: invalid settings (e.g. fewer actions than the fit needs)
    :raises TypeError: unsupported model or action space
    :raises ~hyperbench.diagnostics.env_state.EnvNotRestorableError: the environment's state cannot be restored
    """
    from gymnasium import spaces

    from hyperbench.diagnostics.env_state import capture

    snapshot = snapshot or capture
    config = config or GradCSConfig()
    agent: GradCSAgent = model if isinstance(model, GradCSAgent) else SB3Agent(model, config.head)
    if not isinstance(env.action_space, spaces.Box):
        raise TypeError(f"grad-cs needs a continuous (Box) action space, got {env.action_space}")
    dim = int(np.prod(env.action_space.shape))
    config.check(dim)
    gamma = agent.gamma if config.gamma is None else config.gamma
    horizon = config.horizon or _time_limit(env) or 1000
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6C5]))
    n, m = config.states, config.actions
    t0 = time.perf_counter()

    observations: list[Any] = []
    base_actions = np.zeros((n, dim))
    perturbations = np.zeros((n, m, dim))
    returns = np.zeros((n, m))
    steps = np.zeros((n, m), dtype=int)
    bootstrapped = np.zeros((n, m), dtype=bool)
    sampling_steps = 0
    for i in range(n):
        # 1. a state from the policy's own distribution
        obs, _ = env.reset(seed=int(rng.integers(2**31 - 1)))
        for _ in range(int(rng.integers(horizon))):
            obs, _r, terminated, truncated, _ = env.step(agent.env_action(agent.act(obs)))
            sampling_steps += 1
            if terminated or truncated:
                obs, _ = env.reset()
        saved = snapshot(env, obs)
        observations.append(saved.observation)
        base = agent.act(obs)
        base_actions[i] = base
        # 2.-3. perturbed actions (the first one unperturbed) and their returns
        for j in range(m):
            noise = rng.normal(0.0, config.std, size=dim) if j else np.zeros(dim)
            action = np.clip(base + noise, -1.0, 1.0)
            perturbations[i, j] = action - base
            rollout_env = saved.restore()
            returns[i, j], steps[i, j], bootstrapped[i, j] = _rollout(
                rollout_env, agent, action, config.hold, gamma, config.max_rollout_steps
            )
        if log is not None:
            log(f"state {i + 1}/{n}: {int(steps[i].sum())} rollout steps, return at ā {returns[i, 0]:.2f}")

    # 4.-5. fitted gradient vs the critic's gradient
    true_grad, r2 = fit_gradient(perturbations, returns)
    critic_grad, q = agent.critic_gradient(observations, base_actions)
    cs = cosine_similarity(critic_grad, true_grad)
    settings: dict[str, Any] = {
        "algorithm": getattr(agent, "algorithm", type(agent).__name__),
        "head": getattr(agent, "head", None),
        "config": asdict(config),
        "gamma": gamma,
        "horizon": horizon,
        "seed": seed,
        "env": getattr(getattr(env, "spec", None), "id", None) or str(env),
        "action_dim": dim,
        "sampling_steps": sampling_steps,
        "wall_s": round(time.perf_counter() - t0, 3),
    }
    return GradCSResult(
        label=label or str(settings["algorithm"]),
        cs=cs,
        true_grad=true_grad,
        critic_grad=critic_grad,
        q_critic=q,
        returns=returns,
        perturbations=perturbations,
        fit_r2=r2,
        rollout_steps=steps,
        bootstrapped=bootstrapped,
        settings=settings,
    )


# ----------------------------------------------------------------------------------------------------
# Output


def save_results(results: Sequence[GradCSResult], path: str | Path, taus: Sequence[float] = DEFAULT_TAUS) -> Path:
    """Write results as JSON (atomically).

    :param results: measurements
    :param path: target file
    :param taus: the τ grid of the fraction curve
    :return: the path
    """
    from hyperbench.bench.files import atomic_write_json, json_safe

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"kind": "hyperbench.GradCS", "schema_version": 1, "results": [r.to_dict(taus) for r in results]}
    atomic_write_json(path, json_safe(doc))
    return path


def plot_grad_cs(results: Sequence[GradCSResult], path: str | Path, taus: Sequence[float] = DEFAULT_TAUS) -> Path:
    """Plot the fraction of states with ``CS > τ`` against τ and the per-state CS of each result.

    :param results: measurements (one line / column each)
    :param path: target PNG
    :param taus: the τ grid
    :return: the path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for k, r in enumerate(results):
        left.plot(taus, r.fraction_above(taus), marker="o", ms=3, label=f"{r.label} (mean {r.mean:.2f})", color=f"C{k}")
        finite = r.cs[np.isfinite(r.cs)]
        jitter = np.random.default_rng(k).uniform(-0.15, 0.15, finite.size)
        right.scatter(np.full(finite.size, k) + jitter, finite, s=12, color=f"C{k}", alpha=0.7)
        right.hlines(r.mean, k - 0.3, k + 0.3, color=f"C{k}")
    left.set(xlabel="τ", ylabel="fraction of states with CS > τ", ylim=(-0.02, 1.02), title="gradient accuracy")
    left.legend(fontsize=8)
    right.axhline(0.0, color="grey", lw=0.5)
    right.set(
        xticks=range(len(results)),
        xticklabels=[r.label for r in results],
        ylim=(-1.05, 1.05),
        ylabel="cos(∇ₐQ critic, fitted ∇ₐ return)",
        title="per state (line: mean)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Read a file written by :func:`save_results` (plain dicts).

    :param path: the JSON file
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(doc, dict) or doc.get("kind") != "hyperbench.GradCS":
        raise ValueError(f"{path} is not a grad-cs result file (kind 'hyperbench.GradCS')")
    return list(doc["results"])
