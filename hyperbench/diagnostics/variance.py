"""Meta-gradient variance of MAML-family learners (Sarafian, Keynan & Kraus, ICML 2021, §4.2 and Fig. 5).

At a checkpoint, build ``K`` independent meta-gradient estimates, each from its own freshly collected
meta-batch (its own tasks and episodes, so the batches are disjoint), turn each into the learner's TRPO
meta-step, apply it to a copy of the meta-parameters, and evaluate the updated policy. The spread of the
``K`` returns is the paper's architecture-independent measure of how noisy a learning step is; the
evaluation of all ``K`` updated policies uses the same seed (common random numbers), so evaluation noise
does not masquerade as gradient noise.

Also reported, but only comparable between checkpoints of the same architecture: the parameter-space
spread of the steps, ``E‖s_k − s̄‖² / ‖s̄‖²``, and the mean cosine similarity of each step to the mean step.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

__all__ = ["VarianceResult", "meta_gradient_variance", "plot_variance"]


@dataclass
class VarianceResult:
    """Outcome of :func:`meta_gradient_variance`. Arrays have one entry per estimate ``(K,)``."""

    label: str
    """name shown in plots and tables (default: the learner's variant)"""
    returns: np.ndarray
    """mean post-adaptation return of the policy updated with each estimate"""
    pre_adaptation_returns: np.ndarray
    """mean pre-adaptation return of each updated policy"""
    base_return: float
    """post-adaptation return of the checkpoint itself (same evaluation)"""
    base_pre_adaptation_return: float
    """pre-adaptation return of the checkpoint itself"""
    kl: np.ndarray
    """measured KL of each meta-step (0 where the line search rejected every candidate)"""
    accepted: np.ndarray
    """whether each meta-step was taken"""
    relative_step_variance: float
    """``E‖s_k − s̄‖² / ‖s̄‖²`` over the accepted steps (parameter space; architecture-specific)"""
    mean_cosine_to_mean: float
    """mean cosine similarity of each accepted step to the mean step"""
    settings: dict[str, Any] = field(default_factory=dict)
    """what was measured: checkpoint, estimates, tasks, episodes, seeds, timings"""

    @property
    def mean(self) -> float:
        """Mean return over the estimates."""
        return float(self.returns.mean())

    @property
    def std(self) -> float:
        """Standard deviation of the returns over the estimates (the noise measure)."""
        return float(self.returns.std(ddof=1)) if self.returns.size > 1 else 0.0

    def summary(self) -> dict[str, float]:
        """Headline numbers."""
        q25, q75 = np.percentile(self.returns, [25, 75])
        return {
            "mean": self.mean,
            "std": self.std,
            "iqr": float(q75 - q25),
            "min": float(self.returns.min()),
            "max": float(self.returns.max()),
            "base_return": self.base_return,
            "mean_improvement": self.mean - self.base_return,
            "pre_adaptation_mean": float(self.pre_adaptation_returns.mean()),
            "accepted_fraction": float(self.accepted.mean()),
            "relative_step_variance": self.relative_step_variance,
            "mean_cosine_to_mean": self.mean_cosine_to_mean,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "label": self.label,
            "summary": self.summary(),
            "returns": self.returns.tolist(),
            "pre_adaptation_returns": self.pre_adaptation_returns.tolist(),
            "base_return": self.base_return,
            "base_pre_adaptation_return": self.base_pre_adaptation_return,
            "kl": self.kl.tolist(),
            "accepted": self.accepted.astype(bool).tolist(),
            "relative_step_variance": self.relative_step_variance,
            "mean_cosine_to_mean": self.mean_cosine_to_mean,
            "settings": self.settings,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VarianceResult:
        """Inverse of :meth:`to_dict`."""
        return cls(
            label=str(data["label"]),
            returns=np.asarray(data["returns"], dtype=float),
            pre_adaptation_returns=np.asarray(data["pre_adaptation_returns"], dtype=float),
            base_return=float(data["base_return"]),
            base_pre_adaptation_return=float(data["base_pre_adaptation_return"]),
            kl=np.asarray(data["kl"], dtype=float),
            accepted=np.asarray(data["accepted"], dtype=bool),
            relative_step_variance=float(data["relative_step_variance"]),
            mean_cosine_to_mean=float(data["mean_cosine_to_mean"]),
            settings=dict(data.get("settings", {})),
        )


def _load(learner: Any) -> Any:
    if isinstance(learner, (str, Path)):
        from hyperbench.meta import load_learner

        return load_learner(learner)
    return learner


def meta_gradient_variance(
    learner: Any,
    n_estimates: int = 50,
    eval_tasks: Sequence[Any] | int | None = 10,
    eval_episodes: int = 5,
    meta_batch_size: int | None = None,
    episodes_per_task: int | None = None,
    seed: int = 0,
    label: str | None = None,
    progress: bool = False,
) -> VarianceResult:
    """Spread of the returns of ``n_estimates`` independently estimated meta-updates from one checkpoint.

    The learner is left exactly as it was (parameters, configuration and random streams).

    :param learner: a :class:`~hyperbench.meta.MAML` learner or the path of its checkpoint
    :param n_estimates: ``K``, independent meta-gradient estimates (the paper: 50)
    :param eval_tasks: tasks to evaluate each updated policy on, or how many of the family's test tasks
        (``None``: all test tasks)
    :param eval_episodes: post-adaptation episodes per evaluation task
    :param meta_batch_size: tasks per estimate (default: the learner's)
    :param episodes_per_task: episodes per task per estimate (default: the learner's)
    :param seed: seed of the estimates' batches (estimate ``k`` uses ``(seed, k)``) and of the evaluation
    :param label: name for tables and plots (default: the learner's variant)
    :param progress: print one line per estimate
    :return: the result
    """
    learner = _load(learner)
    for attr in ("collect_meta_batch", "compute_meta_step", "apply_step", "evaluate", "config"):
        if not hasattr(learner, attr):
            raise TypeError(f"meta_gradient_variance needs a MAML-family learner, got {type(learner).__name__} (no {attr!r})")
    if n_estimates < 2:
        raise ValueError(f"n_estimates must be >= 2 to measure a spread, got {n_estimates}")
    if eval_tasks is None or isinstance(eval_tasks, int):
        tasks = list(learner.family.test_tasks)[: (eval_tasks or None)]
    else:
        tasks = list(eval_tasks)
    original_config = learner.config
    overrides = {k: v for k, v in (("meta_batch_size", meta_batch_size), ("episodes_per_task", episodes_per_task)) if v}
    theta0 = th.nn.utils.parameters_to_vector(learner.policy.parameters()).detach().clone()
    start = time.time()
    returns, pre_returns, kls, accepted = [], [], [], []
    step_sum = th.zeros_like(theta0)
    sq_norm_sum, n_accepted, steps_for_cos = 0.0, 0, []
    try:
        base = learner.evaluate(tasks, eval_episodes, seed=seed)
        learner.config = dataclasses.replace(original_config, **overrides)
        for k in range(n_estimates):
            ss = np.random.SeedSequence([seed, k, 0x5A7])
            rng = np.random.default_rng(ss)
            gen = th.Generator().manual_seed(int(ss.generate_state(1)[0]))
            mb = learner.collect_meta_batch(rng=rng, generator=gen)
            meta = learner.compute_meta_step(mb)
            learner.apply_step(meta.step)
            learner.config = original_config  # evaluate with the learner's own adaptation protocol
            result = learner.evaluate(tasks, eval_episodes, seed=seed)
            learner.config = dataclasses.replace(original_config, **overrides)
            th.nn.utils.vector_to_parameters(theta0.clone(), learner.policy.parameters())
            returns.append(result.mean_return)
            pre_returns.append(result.pre_adaptation_mean_return)
            kls.append(float(meta.search.kl))  # 0-dim tensors with the batched line search (GPU)
            accepted.append(bool(meta.search.accepted))
            if accepted[-1]:
                step_sum += meta.step
                sq_norm_sum += float(meta.step @ meta.step)
                n_accepted += 1
                # cosine to the mean needs the mean: keep the steps only while they are small enough
                if theta0.numel() * n_estimates <= 50_000_000:
                    steps_for_cos.append(meta.step.clone())
            if progress:
                line = f"return {returns[-1]:.2f} (before the step {base.mean_return:.2f}), kl {kls[-1]:.4f}"
                print(f"  estimate {k + 1}/{n_estimates}: {line}", flush=True)
    finally:
        learner.config = original_config
        th.nn.utils.vector_to_parameters(theta0, learner.policy.parameters())
    rel_var, cos = float("nan"), float("nan")
    if n_accepted >= 2:
        mean_step = step_sum / n_accepted
        msq = float(mean_step @ mean_step)
        if msq > 0:
            rel_var = (sq_norm_sum / n_accepted - msq) / msq
            if steps_for_cos:
                stacked = th.stack(steps_for_cos)
                cos = float(th.nn.functional.cosine_similarity(stacked, mean_step.unsqueeze(0), dim=1).mean())
    return VarianceResult(
        label=label or str(getattr(learner, "variant", type(learner).__name__)),
        returns=np.asarray(returns, dtype=float),
        pre_adaptation_returns=np.asarray(pre_returns, dtype=float),
        base_return=base.mean_return,
        base_pre_adaptation_return=float(base.pre_adaptation_mean_return or float("nan")),
        kl=np.asarray(kls, dtype=float),
        accepted=np.asarray(accepted, dtype=bool),
        relative_step_variance=rel_var,
        mean_cosine_to_mean=cos,
        settings={
            "n_estimates": n_estimates,
            "eval_tasks": len(tasks),
            "eval_episodes": eval_episodes,
            "meta_batch_size": overrides.get("meta_batch_size", original_config.meta_batch_size),
            "episodes_per_task": overrides.get("episodes_per_task", original_config.episodes_per_task),
            "seed": seed,
            "num_timesteps": int(getattr(learner, "num_timesteps", 0)),
            "wall_s": time.time() - start,
        },
    )


def plot_variance(results: Sequence[VarianceResult], path: str | Path, title: str | None = None) -> Path:
    """Box plot (with every estimate as a dot) of the updated policies' returns, one box per result.

    :param results: one result per variant/checkpoint
    :param path: PNG file to write
    :param title: figure title
    :return: the path written
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(results), 4.0))
    data = [r.returns for r in results]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(results) + 1), [r.label for r in results])
    rng = np.random.default_rng(0)
    for i, r in enumerate(results, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, r.returns.size), r.returns, s=10, alpha=0.6, zorder=3)
        ax.plot([i - 0.3, i + 0.3], [r.base_return] * 2, color="black", linestyle="--", linewidth=1, zorder=4)
        ax.annotate(
            f"std {r.std:.2f}",
            (i, float(np.max(r.returns))),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=8,
        )
    ax.set_ylabel("post-adaptation return after one meta-step")
    ax.set_title(title or "Meta-gradient noise: returns of K independently updated policies (dashed: before)")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_results(results: Sequence[VarianceResult], path: str | Path) -> Path:
    """Write results as JSON (``{"results": [...]}``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": [r.to_dict() for r in results]}, indent=2))
    return path
