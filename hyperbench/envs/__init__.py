"""Task families for RL and meta-RL, registered with Gymnasium under the ``hyperbench/`` namespace.

Families: ``halfcheetah-vel``, ``halfcheetah-vel-medium``, ``halfcheetah-dir``, ``ant-dir``, ``ant-fwd-back``,
``ant-vel``, ``ant-goal`` (Gymnasium MuJoCo v5), ``point-robot``, ``sparse-point-robot``, ``gridnavi``
(pure NumPy) and ``ml1``, ``ml10``, ``ml45`` (Meta-World)::

    import gymnasium as gym
    import hyperbench.envs as henvs

    family = henvs.make_family("halfcheetah-vel", seed=0)
    env = family.make_env(resample_on_reset=True, context_obs=True)   # obs["context"] = oracle context
    env = gym.make("hyperbench/HalfCheetahVel-v0", task=family.test_tasks[0])

Importing this package registers the Gymnasium ids; it does not import MuJoCo or Meta-World.
"""

from hyperbench.envs.base import CONTEXT_KEY, OBSERVATION_KEY, SPLITS, TaskEnv, TaskFamily
from hyperbench.envs.registry import ENV_IDS, ENV_KWARGS, FAMILIES, FamilyInfo, make_family, make_task_env, register_envs
from hyperbench.envs.tasks import (
    TASK_TYPES,
    AngleTask,
    DirectionTask,
    GoalTask,
    GridGoalTask,
    MetaWorldTask,
    Task,
    VelocityTask,
    task_from_dict,
)

register_envs()

__all__ = [
    "CONTEXT_KEY",
    "ENV_IDS",
    "ENV_KWARGS",
    "FAMILIES",
    "OBSERVATION_KEY",
    "SPLITS",
    "TASK_TYPES",
    "AngleTask",
    "DirectionTask",
    "FamilyInfo",
    "GoalTask",
    "GridGoalTask",
    "MetaWorldTask",
    "Task",
    "TaskEnv",
    "TaskFamily",
    "VelocityTask",
    "make_family",
    "make_task_env",
    "register_envs",
    "task_from_dict",
]
