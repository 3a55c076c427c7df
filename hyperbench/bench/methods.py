"""Built-in methods: TD3 / SAC / TQC with the paper's critics, and context-conditioned multi-task SAC.

Names are ``<algorithm>-<critic>``:

- ``td3-*`` and ``sac-*`` for the critics ``mlp`` (SB3's own ``MlpPolicy``, MLP-Standard 2×256),
  ``sa-hyper``, ``as-hyper`` (Sarafian et al., ICML 2021) and the paper's baselines ``mlp-small``,
  ``mlp-large``, ``resnet-features``, ``res35``, ``d2rl``, all built from ``hyperbench.sb3``'s
  ``"SAHyperPolicy"`` alias with ``policy_kwargs["critic"]`` naming the critic;
- ``tqc-mlp`` (sb3-contrib's TQC) and ``tqc-sa-hyper`` (a quantile SA-Hyper critic);
- ``sac-context-mlp`` (SB3's ``MultiInputPolicy`` on the Dict observation ``{"observation", "context"}``)
  and ``sac-context-hyper`` (``"ContextHyperPolicy"``: the context generates the actor's weights);
- the meta learners of :mod:`hyperbench.meta` (``maml``, ``context-maml``, ``hyper-maml``, …), registered by
  ``hyperbench.meta.registry.register_all``.

Defaults follow the paper's public code where it states them (docs/sources.md §2): learning rate 3e-4 for
the actor and MLP critics, 5e-5 for hypernetwork critics (``critic_lr``), TD3 batch 100 with 1000 random
start steps and Gaussian exploration noise 0.1, twin critics, the ``paper`` hypernetwork preset. Suites
override them per method and per task (``preset: lite`` in ``mini-rl``).
"""

from __future__ import annotations

import functools
from typing import Any

from hyperbench.bench.registry import BuildContext, register_method, thaw

__all__ = ["ALGORITHMS", "CRITICS", "HYPER_CRITICS"]

#: Critic variants of the paper, as understood by ``hyperbench.sb3``'s ``SAHyperPolicy``.
CRITICS: tuple[str, ...] = ("mlp", "sa-hyper", "as-hyper", "mlp-small", "mlp-large", "resnet-features", "res35", "d2rl")
#: Critics that are hypernetworks (critic learning rate 5e-5 and the hypernetwork settings apply).
HYPER_CRITICS: tuple[str, ...] = ("sa-hyper", "as-hyper")
ALGORITHMS: tuple[str, ...] = ("td3", "sac", "tqc")

_COMMON: dict[str, Any] = {
    "learning_rate": 3e-4,
    "buffer_size": 1_000_000,
    "learning_starts": 1000,
    "tau": 0.005,
    "gamma": 0.99,
    "train_freq": 1,
    "gradient_steps": 1,
    "net_arch": [256, 256],
    "device": "auto",
}
_ALGO_DEFAULTS: dict[str, dict[str, Any]] = {
    "td3": {
        "batch_size": 100,
        "action_noise_std": 0.1,
        "policy_delay": 2,
        "target_policy_noise": 0.2,
        "target_noise_clip": 0.5,
    },
    "sac": {"batch_size": 256, "ent_coef": "auto", "target_entropy": "auto"},
    "tqc": {
        "batch_size": 256,
        "ent_coef": "auto",
        "target_entropy": "auto",
        "top_quantiles_to_drop_per_net": 2,
        "n_quantiles": 25,
        "n_critics": 2,
    },
}
#: Settings of hypernetwork critics, passed in ``policy_kwargs`` (``None`` = leave to hyperbench.sb3).
_HYPER_DEFAULTS: dict[str, Any] = {"preset": "paper", "init": None, "dynamic_hidden": [256], "critic_lr": 5e-5}
_PRESET_CRITICS = ("resnet-features",)  # baselines built around the paper-size primary network


def _algorithm_class(algo: str) -> Any:
    if algo == "td3":
        from stable_baselines3 import TD3

        return TD3
    if algo == "sac":
        from stable_baselines3 import SAC

        return SAC
    from sb3_contrib import TQC

    return TQC


def _algorithm_kwargs(algo: str, cfg: dict[str, Any], env: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        key: cfg[key]
        for key in (
            "learning_rate",
            "buffer_size",
            "learning_starts",
            "batch_size",
            "tau",
            "gamma",
            "gradient_steps",
            "device",
        )
    }
    kwargs["train_freq"] = cfg["train_freq"]
    if algo == "td3":
        import numpy as np
        from stable_baselines3.common.noise import NormalActionNoise

        n_actions = int(np.prod(env.action_space.shape))
        if cfg["action_noise_std"] > 0:
            kwargs["action_noise"] = NormalActionNoise(np.zeros(n_actions), cfg["action_noise_std"] * np.ones(n_actions))
        kwargs.update({k: cfg[k] for k in ("policy_delay", "target_policy_noise", "target_noise_clip")})
    else:
        kwargs.update({k: cfg[k] for k in ("ent_coef", "target_entropy")})
        if algo == "tqc":
            kwargs["top_quantiles_to_drop_per_net"] = cfg["top_quantiles_to_drop_per_net"]
    return kwargs


def _build_sb3(ctx: BuildContext, *, algo: str, policy: str, critic: str | None, policy_keys: tuple[str, ...]) -> Any:
    """Build an SB3 / sb3-contrib algorithm on ``ctx.env`` from a resolved configuration."""
    if policy not in ("MlpPolicy", "MultiInputPolicy"):
        import hyperbench.sb3  # noqa: F401  (registers the policy aliases)
    cfg = thaw(ctx.config)
    # hyperbench's critics have their own architecture: ``net_arch`` sizes the actor only.
    mlp_policy = policy in ("MlpPolicy", "MultiInputPolicy")
    policy_kwargs: dict[str, Any] = {"net_arch": cfg["net_arch"] if mlp_policy else {"pi": cfg["net_arch"], "qf": []}}
    if critic is not None:
        policy_kwargs["critic"] = critic
    for key in policy_keys:
        if cfg.get(key) is not None:
            value = cfg[key]
            policy_kwargs[key] = tuple(value) if key == "dynamic_hidden" else value
    if algo == "tqc":
        policy_kwargs["n_quantiles"] = cfg["n_quantiles"]
        policy_kwargs["n_critics"] = cfg["n_critics"]
    cls = _algorithm_class(algo)
    assert ctx.env is not None, "SB3 methods are built on the training env the runner provides"
    return cls(policy, ctx.env, policy_kwargs=policy_kwargs, seed=ctx.seed, verbose=0, **_algorithm_kwargs(algo, cfg, ctx.env))


def _alias_check(algo: str, alias: str) -> str | None:
    cls = _algorithm_class(algo)
    if alias not in getattr(cls, "policy_aliases", {}):
        return f"{cls.__name__} has no policy alias {alias!r} after importing hyperbench.sb3"
    return None


def _register_builtins() -> None:
    for algo in ALGORITHMS:
        critics = CRITICS if algo != "tqc" else ("mlp", "sa-hyper")
        for critic in critics:
            name = f"{algo}-{critic}"
            defaults = {**_COMMON, **_ALGO_DEFAULTS[algo]}
            keys: tuple[str, ...] = ()
            if critic == "mlp":
                policy, critic_arg = "MlpPolicy", None
                requires: tuple[str, ...] = ("sb3_contrib",) if algo == "tqc" else ()
                check = None
                description = f"{algo.upper()} with SB3's MLP critic (MLP-Standard, 2×256)"
            else:
                policy, critic_arg = "SAHyperPolicy", critic
                if critic in HYPER_CRITICS:
                    keys = tuple(_HYPER_DEFAULTS)
                    defaults.update(_HYPER_DEFAULTS)
                elif critic in _PRESET_CRITICS:
                    keys = ("preset", "critic_lr")
                    defaults.update({"preset": "paper", "critic_lr": None})
                else:
                    keys = ("critic_lr",)
                    defaults["critic_lr"] = None
                requires = ("hyperbench.sb3",) + (("sb3_contrib",) if algo == "tqc" else ())
                check = functools.partial(_alias_check, algo, "SAHyperPolicy")
                description = f"{algo.upper()} with the {critic} critic (hyperbench.sb3)"
            register_method(
                name,
                functools.partial(_build_sb3, algo=algo, policy=policy, critic=critic_arg, policy_keys=keys),
                kind="sb3",
                defaults=defaults,
                description=description,
                action_kinds=("box",),
                requires=requires,
                check=check,
            )
    sac_defaults = {**_COMMON, **_ALGO_DEFAULTS["sac"]}
    register_method(
        "sac-context-mlp",
        functools.partial(_build_sb3, algo="sac", policy="MultiInputPolicy", critic=None, policy_keys=()),
        defaults=sac_defaults,
        observation="context",
        action_kinds=("box",),
        description="multi-task SAC, MLPs on [observation, oracle context] (SB3 MultiInputPolicy)",
    )
    register_method(
        "sac-context-hyper",
        functools.partial(
            _build_sb3, algo="sac", policy="ContextHyperPolicy", critic=None, policy_keys=("preset", "init", "critic_lr")
        ),
        # preset pinned: the policy's own default ("auto") depends on the machine, a suite's runs must not.
        defaults={**sac_defaults, "preset": "paper", "init": None, "critic_lr": None},
        observation="context",
        action_kinds=("box",),
        description="multi-task SAC, oracle context → hypernetwork actor (hyperbench.sb3 ContextHyperPolicy)",
        requires=("hyperbench.sb3",),
        check=functools.partial(_alias_check, "sac", "ContextHyperPolicy"),
    )


def _register_meta_learners() -> None:
    """The meta-RL learners of :mod:`hyperbench.meta` (lazy entry points; ``meta`` does not import ``bench``)."""
    from hyperbench.meta.registry import register_all

    register_all(register_method)


_register_builtins()
_register_meta_learners()
