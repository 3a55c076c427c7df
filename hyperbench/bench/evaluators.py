"""Evaluators: one evaluation of a learner on a task's held-out episodes, as an :class:`EvalOutcome`.

Every kind of method (:mod:`hyperbench.bench.kinds`) has its evaluator; the runner (periodic and final
evaluations) and ``hyperbench leaderboard verify`` (re-evaluation on fresh seeds) use the same ones.

An outcome holds the **headline samples** (``returns``: what the method's score is the mean of) and the
**per-episode matrix** (``episode_returns``: every episode of every held-out task, in meta-episode order, with
the phase label of each column). For SB3 methods both are the evaluation episodes; for a meta learner the
headline is the method's declaration (:attr:`hyperbench.meta.MetaLearner.headline`: MAML's post-adaptation
episodes, a recurrent learner's meta-episode return, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hyperbench.bench.tasks import TaskHandle

__all__ = ["EvalOutcome", "MetaEvaluator", "Sb3Evaluator", "derived_seed"]

#: Phase label of the plain evaluation episodes of SB3 methods.
EPISODE = "episode"


def derived_seed(*parts: int) -> int:
    """A seed in ``[0, 2**31 - 1)`` derived from integers (NumPy's ``SeedSequence``)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] % (2**31 - 1))


@dataclass
class EvalOutcome:
    """Returns of one evaluation."""

    returns: list[float]
    """the headline samples (all tasks, task-major): what the score is the mean of"""
    successes: list[bool] | None
    """per-sample success, or ``None`` when the task has no success signal"""
    per_task: dict[str, float] | None
    """mean headline return per held-out task (task families)"""
    episode_returns: list[list[float]] | None = None
    """every episode's return, ``(n_tasks, n_episodes)`` in meta-episode order"""
    episode_successes: list[list[float]] | None = None
    """every episode's success (1.0 / 0.0), same shape, or ``None``"""
    phases: list[str] | None = None
    """phase label of each column of ``episode_returns``"""
    headline: dict[str, Any] | None = None
    """the method's headline declaration (:class:`hyperbench.meta.rollout.Headline` as a dict)"""
    scores: dict[str, float] | None = None
    """the headline and any secondary scores, as means"""

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        return float(np.std(self.returns))

    @property
    def success_rate(self) -> float | None:
        return None if not self.successes else float(np.mean(self.successes))

    def episodes_dict(self) -> dict[str, Any] | None:
        """The per-episode part, as stored in run records (``None`` if the evaluator had none)."""
        if self.episode_returns is None:
            return None
        return {
            "returns": self.episode_returns,
            "successes": self.episode_successes,
            "phases": self.phases,
            "headline": self.headline,
            "scores": self.scores,
        }


def _held_out(task: TaskHandle, max_tasks: int | None, split: str) -> list[Any]:
    # the one-argument call for "test" keeps task objects that only know test_tasks(max_tasks) working
    return task.test_tasks(max_tasks) if split == "test" else task.test_tasks(max_tasks, split)


class Sb3Evaluator:
    """Evaluate an SB3 model with ``evaluate_policy`` on held-out episodes (and test tasks for families).

    :param task: the task
    :param context: use the context observation
    :param episodes: episodes per test task
    :param max_tasks: number of test tasks to use (families)
    :param seed: the run's seed (evaluation episode seeds derive from it)
    :param split: which held-out tasks: ``"test"`` or ``"ood_test"`` (families that define it)
    """

    def __init__(
        self, task: TaskHandle, context: bool, episodes: int, max_tasks: int | None, seed: int, split: str = "test"
    ) -> None:
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        self.task = task
        self.tasks = _held_out(task, max_tasks, split)
        self.split = split
        self.is_family = task.is_family
        first = self.tasks[0]
        self.env = DummyVecEnv([lambda: Monitor(task.make_env(context=context, train=False, task=first))])
        self.episodes = episodes
        self.seed = seed

    def __call__(self, model: Any) -> EvalOutcome:
        from stable_baselines3.common.evaluation import evaluate_policy

        returns: list[float] = []
        successes: list[bool] = []
        per_task: dict[str, float] = {}
        matrix: list[list[float]] = []

        def record_success(locals_: dict[str, Any], _globals: dict[str, Any]) -> None:
            if locals_["done"]:
                value = locals_["info"].get("is_success")
                if value is not None:
                    successes.append(bool(value))

        for index, task in enumerate(self.tasks):
            if self.is_family:
                self.task.set_task(self.env.envs[0], task)
            # The same episode seeds at every evaluation: curves move only when the policy does.
            self.env.seed(derived_seed(self.seed, 0xE7A1, index))
            episode_returns, _lengths = evaluate_policy(
                model,
                self.env,
                n_eval_episodes=self.episodes,
                deterministic=True,
                return_episode_rewards=True,
                callback=record_success,
                warn=False,
            )
            values = [float(r) for r in np.atleast_1d(np.asarray(episode_returns, dtype=float))]
            returns.extend(values)
            matrix.append(values)
            if self.is_family:
                per_task[f"{self.split}-{index}"] = float(np.mean(values))
        n = len(returns)
        has_success = len(successes) == n and n > 0
        width = len(matrix[0]) if matrix else 0
        rectangular = all(len(row) == width for row in matrix)
        return EvalOutcome(
            returns=returns,
            successes=successes if has_success else None,
            per_task=per_task or None,
            episode_returns=matrix if rectangular else None,
            episode_successes=(
                np.asarray(successes, dtype=float).reshape(len(matrix), width).tolist()
                if has_success and rectangular
                else None
            ),
            phases=[EPISODE] * width if rectangular else None,
            headline={"phases": [EPISODE], "per": "episode", "description": "return of each evaluation episode"},
            scores={"headline": float(np.mean(returns))} if returns else None,
        )

    def close(self) -> None:
        self.env.close()


class MetaEvaluator:
    """Evaluate a meta learner with its own ``evaluate(tasks, n_episodes, seed)`` on the held-out test tasks.

    The outcome's ``returns`` are the learner's headline samples; the per-episode matrix of every
    meta-episode comes along.

    :param task: the task family
    :param episodes: the protocol's ``eval.episodes``
    :param max_tasks: evaluate on the first ``max_tasks`` test tasks
    :param seed: evaluation seed (the runner uses 0 at every evaluation of a run: common random numbers,
        mixed with the learner's own seed; ``leaderboard verify`` passes fresh ones)
    :param split: which held-out tasks: ``"test"`` or ``"ood_test"`` (families that define it)
    """

    def __init__(self, task: TaskHandle, episodes: int, max_tasks: int | None, seed: int = 0, split: str = "test") -> None:
        self.tasks = _held_out(task, max_tasks, split)
        self.split = split
        self.episodes = episodes
        self.seed = int(seed)

    def __call__(self, learner: Any) -> EvalOutcome:
        from hyperbench.meta.base import EvalResult

        result = learner.evaluate(self.tasks, self.episodes, seed=self.seed)
        if not isinstance(result, EvalResult):
            raise TypeError(
                f"{type(learner).__name__}.evaluate must return a hyperbench.meta.EvalResult, got {type(result).__name__}"
            )
        if result.episode_returns.shape[0] != len(self.tasks):
            raise ValueError(
                f"{type(learner).__name__}.evaluate returned {result.episode_returns.shape[0]} task results "
                f"for {len(self.tasks)} tasks"
            )
        head = result.returns
        succ = result.successes
        return EvalOutcome(
            returns=[float(x) for x in head.reshape(-1)],
            successes=None if succ is None else [bool(s) for s in succ.reshape(-1)],
            per_task={f"{self.split}-{i}": float(np.mean(row)) for i, row in enumerate(head)},
            episode_returns=result.episode_returns.tolist(),
            episode_successes=None if result.episode_successes is None else result.episode_successes.tolist(),
            phases=list(result.phases),
            headline=result.headline.to_dict(),
            scores=result.scores(),
        )

    def close(self) -> None:
        pass
