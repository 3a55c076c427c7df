"""The schemes whose results exist keep their exact initialisation: ``kaiming``, ``hyperl``, ``hyperl-sac``,
``bias-hyperinit``, and the SB3 and MAML defaults built on them.

The fingerprints below are SHA-256 digests of every parameter and buffer (names and raw bytes) right after
construction with a fixed seed, computed on main before the HyperInit fix. They catch any change of the
random draws, their order, the parameter set or the state-dict keys. Regenerate them only for an intended
change of these schemes: ``python tests/nn/test_init_compat.py`` from the repository root prints them.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable

import gymnasium as gym
import pytest
import torch as th
from torch import nn

FINGERPRINTS: dict[str, str] = {
    "hypernet-lite-bias-hyperinit": "4401f234587ae128",
    "hypernet-lite-hyperl": "277e1fcd226141e6",
    "hypernet-lite-hyperl-sac": "8c4094f5c9764694",
    "hypernet-lite-kaiming": "a03d41fed0417039",
    "hypernet-paper-bias-hyperinit": "57e576b8e130232e",
    "hypernet-paper-hyperl": "f5ff97050cfa4fdf",
    "hypernet-paper-hyperl-sac": "2d0b952838b14b40",
    "hypernet-paper-kaiming": "a81266d5d092a891",
    "maml-hyper-maml": "04ca85c60b7f4150",
    "sac-contexthyper": "ba300e11cfdee7aa",
    "sac-sahyper-paper": "a1008f3a2b739626",
    "td3-sahyper-lite": "3675d8805e59c2d5",
}

#: ``(Σ out, Σ out²)`` of each hypernetwork above on fixed inputs, computed on main.
OUTPUTS: dict[str, tuple[float, float]] = {
    "hypernet-lite-bias-hyperinit": (-0.3848695233464241, 2.188720715906893),
    "hypernet-lite-hyperl": (-0.02999301938689314, 0.007571546704952734),
    "hypernet-lite-hyperl-sac": (-0.1333726880093309, 0.11517438486614716),
    "hypernet-lite-kaiming": (-70.67625530064106, 1238.2982061020969),
    "hypernet-paper-bias-hyperinit": (4.020946431905031, 2.5372485245702077),
    "hypernet-paper-hyperl": (-0.10284086415776983, 0.002617564179190148),
    "hypernet-paper-hyperl-sac": (-0.5997808140236884, 0.12075233912854919),
    "hypernet-paper-kaiming": (-5.2983706295490265, 195.6717435702331),
}


def fingerprint(module: nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _hypernet(preset: str, init: str) -> nn.Module:
    from hyperbench.nn import HyperNetwork

    th.manual_seed(0)
    return HyperNetwork(17, 6, 1, dynamic_hidden=(256,), primary=preset, n_members=2, init=init)


def _sb3(algo: str, policy: str, env_id: str, **policy_kwargs: object) -> nn.Module:
    from stable_baselines3 import SAC, TD3

    import hyperbench  # noqa: F401  (registers the policy aliases)

    kwargs = {"context_obs": True} if policy == "ContextHyperPolicy" else {}
    env = gym.make(env_id, **kwargs)
    model = {"TD3": TD3, "SAC": SAC}[algo](policy, env, seed=0, policy_kwargs=policy_kwargs, device="cpu")
    return model.policy


def _maml() -> nn.Module:
    from hyperbench.envs import make_family
    from hyperbench.meta import MAML

    family = make_family("point-robot", seed=0, n_train=20, n_test=10)
    return MAML(family, variant="hyper-maml", config={"meta_batch_size": 10, "episodes_per_task": 10}, seed=0).policy


BUILDERS: dict[str, Callable[[], nn.Module]] = {
    **{
        f"hypernet-{preset}-{init}": (lambda p=preset, i=init: _hypernet(p, i))
        for preset in ("lite", "paper")
        for init in ("kaiming", "hyperl", "hyperl-sac", "bias-hyperinit")
    },
    "td3-sahyper-lite": lambda: _sb3("TD3", "SAHyperPolicy", "Pendulum-v1", preset="lite"),
    "sac-sahyper-paper": lambda: _sb3("SAC", "SAHyperPolicy", "Pendulum-v1", preset="paper"),
    "sac-contexthyper": lambda: _sb3(
        "SAC", "ContextHyperPolicy", "hyperbench/PointRobot-v0", preset=(32, 64), actor_preset=(32,), dynamic_hidden=(32,)
    ),
    "maml-hyper-maml": _maml,
}


def output_moments(net: nn.Module) -> tuple[float, float]:
    gen = th.Generator().manual_seed(1)
    with th.no_grad():
        out = net(th.randn(8, 17, generator=gen) * 3.0, th.randn(8, 6, generator=gen)).double()
    return float(out.sum()), float(out.square().sum())


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_initialisation_and_outputs_match_main(name: str) -> None:
    module = BUILDERS[name]()
    assert fingerprint(module) == FINGERPRINTS[name], (
        f"{name}: the initialisation changed; if intended, regenerate with `python tests/nn/test_init_compat.py`"
    )
    if name in OUTPUTS:
        # Outputs on fixed inputs to float32 rounding (another CPU may sum in another order).
        assert output_moments(module) == pytest.approx(OUTPUTS[name], rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("init", ["kaiming", "hyperl", "hyperl-sac", "bias-hyperinit"])
def test_published_schemes_have_no_meta_normaliser(init: str) -> None:
    net = _hypernet("lite", init)
    assert net.primary.meta_norm is None  # type: ignore[union-attr]
    assert not any("meta_norm" in key for key in net.state_dict())


if __name__ == "__main__":
    th.set_num_threads(1)
    names = sys.argv[1:] or sorted(BUILDERS)
    for key in names:
        print(f'    "{key}": "{fingerprint(BUILDERS[key]())}",')
    for key in sorted(OUTPUTS) if not sys.argv[1:] else []:
        print(f'    "{key}": {output_moments(BUILDERS[key]())},')
