"""Rebuild a stored SB3 policy from its run spec and safetensors weights (nothing is unpickled).

``hyperbench run --save-policies`` stores each run's final policy as ``policy.safetensors`` (the whole SB3
policy: actor, critic and target critic) beside the run's ``spec.json``; leaderboard submissions may carry
only ``actor.safetensors``. The network is rebuilt by the method registry from the spec, then the weights
are loaded into it strictly with :func:`safetensors.torch.load_model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperbench.bench.registry import BuildContext, MethodSpec, get_method
from hyperbench.bench.suite import RunSpec
from hyperbench.bench.tasks import TaskHandle, resolve_task

__all__ = ["ACTOR_WEIGHTS", "POLICY_WEIGHTS", "RebuiltPolicy", "load_sb3_weights", "rebuild_sb3"]

POLICY_WEIGHTS, ACTOR_WEIGHTS = "policy.safetensors", "actor.safetensors"


class MethodUnavailableError(RuntimeError):
    """The run's method cannot be built here (a missing optional dependency)."""


@dataclass
class RebuiltPolicy:
    """An SB3 learner rebuilt from a stored policy."""

    learner: Any
    """the SB3 algorithm, its policy holding the stored weights"""
    method: MethodSpec
    task: TaskHandle
    context: bool
    """whether the method observes the task context (Dict observations)"""

    def make_env(self, *, train: bool = True) -> Any:
        """One environment of the run's task, with the observation layout the policy expects.

        :param train: for task families, training tasks (resampled at each reset) rather than a fixed test task
        """
        return self.task.make_env(context=self.context, train=train)


def rebuild_sb3(spec: RunSpec, weights: str | Path) -> RebuiltPolicy:
    """Build the run's SB3 learner and load stored weights into its policy (or its actor).

    :param spec: the run (``spec.json`` read with :meth:`RunSpec.from_dict`)
    :param weights: ``policy.safetensors`` (the whole policy) or ``actor.safetensors`` (the actor only)
    :return: the learner and how to build its environments
    :raises MethodUnavailableError: if the method cannot run here
    :raises ValueError: if the method is not an SB3 method
    """
    import torch
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    torch.set_num_threads(1)
    method = get_method(spec.method_id)
    reason = method.availability()
    if reason is not None:
        raise MethodUnavailableError(reason)
    if method.kind != "sb3":
        raise ValueError(f"method {spec.method_id!r} is a {method.kind} learner, not an SB3 policy")
    task = resolve_task(spec.task, spec.env_kwargs)
    config = dict(spec.config)
    if isinstance(config.get("buffer_size"), int):  # the replay buffer is not part of the policy: keep it small
        config["buffer_size"] = min(config["buffer_size"], 1000)
    context = method.observation == "context"
    ctx = BuildContext(config=config, seed=spec.seed, task=task)
    ctx.env = DummyVecEnv([lambda: Monitor(task.make_env(context=context, train=True))])
    learner = method.build(ctx)
    load_sb3_weights(learner, weights)
    return RebuiltPolicy(learner=learner, method=method, task=task, context=context)


def load_sb3_weights(learner: Any, weights: str | Path) -> None:
    """Load stored weights into an SB3 learner's policy, strictly (into ``policy.actor`` for ``actor.safetensors``).

    :param learner: an SB3 algorithm built by the method registry
    :param weights: ``policy.safetensors`` or ``actor.safetensors``
    """
    from safetensors.torch import load_model

    weights = Path(weights)
    module = learner.policy.actor if weights.name == ACTOR_WEIGHTS else learner.policy
    load_model(module, str(weights), strict=True)
