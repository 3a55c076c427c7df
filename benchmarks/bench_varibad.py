"""Cost per 1000 environment steps (collection + update) of VariBAD and RL2 against SB3's PPO and
sb3-contrib's RecurrentPPO, on the same family and batch sizes, measured in the same run.

Usage: ``python benchmarks/bench_varibad.py [--families gridnavi halfcheetah-dir] [--iterations 2] [--rounds 3]
[--meta-batch 16] [--threads 1]``

One iteration of every candidate collects ``meta_batch`` parallel streams × one meta-episode of steps
(GridNavi 4 × 15, HalfCheetah-Dir 2 × 200) and updates on them: VariBAD / RL2 with their defaults (2 PPO
epochs, 4 minibatches; VariBAD adds its VAE steps), the SB3 baselines with ``n_envs = meta_batch``,
``n_steps`` = the meta-episode length, ``n_epochs = 2``, ``batch_size`` = a quarter of the rollout, the same
hidden widths and tanh (RecurrentPPO: an LSTM of the GRU's width, ``shared_lstm=False``, no critic LSTM).
SB3 trains on the family's single-task Gymnasium environment (``family.make_env(resample_on_reset=True)``)
in a ``DummyVecEnv``; VariBAD / RL2 use the shared rollout loop (NumPy-vectorised for GridNavi).
Candidates run round-robin (``--rounds`` rounds, median per candidate) so that load from other processes
hits all of them alike. Targets: RL2 ≤ 1.5× RecurrentPPO, VariBAD ≤ 3× PPO.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from hyperbench.envs import make_family
from hyperbench.meta import RL2, VariBAD


def _learner_step(learner: VariBAD) -> Callable[[], int]:
    def run() -> int:
        steps, _ = learner._train_iteration()
        return steps

    return run


def _sb3_step(model: PPO | RecurrentPPO, steps: int) -> Callable[[], int]:
    model.learn(steps)  # set up (first reset) outside the timing

    def run() -> int:
        model.learn(steps, reset_num_timesteps=False)
        return steps

    return run


def candidates(family_name: str, meta_batch: int) -> dict[str, Callable[[], int]]:
    family = make_family(family_name)
    cfg = {"meta_batch_size": meta_batch}
    varibad = VariBAD(family, seed=0, config=cfg)
    s = varibad.settings
    assert s.episodes_per_meta_episode is not None and s.policy_hidden is not None
    n_steps = s.episodes_per_meta_episode * family.horizon
    hidden = list(s.policy_hidden)
    ppo_kwargs = {
        "n_steps": n_steps, "batch_size": n_steps * meta_batch // 4, "n_epochs": 2, "learning_rate": 7e-4, "seed": 0,
        "gamma": s.gamma, "gae_lambda": s.gae_lambda, "ent_coef": s.entropy_coef, "clip_range": 0.1, "device": "cpu",
    }  # fmt: skip

    def venv() -> DummyVecEnv:
        return DummyVecEnv([lambda: family.make_env(resample_on_reset=True) for _ in range(meta_batch)])

    ppo = PPO("MlpPolicy", venv(), policy_kwargs={"net_arch": hidden, "activation_fn": th.nn.Tanh}, **ppo_kwargs)
    rppo = RecurrentPPO(
        "MlpLstmPolicy", venv(), **ppo_kwargs,
        policy_kwargs={"net_arch": hidden, "activation_fn": th.nn.Tanh, "lstm_hidden_size": s.gru_hidden,
                       "shared_lstm": False, "enable_critic_lstm": False},
    )  # fmt: skip
    return {
        "sb3-ppo": _sb3_step(ppo, n_steps * meta_batch),
        "varibad": _learner_step(varibad),
        "hyper-varibad": _learner_step(VariBAD(family, variant="hyper-varibad", seed=0, config=cfg)),
        "sb3-contrib-recurrent-ppo": _sb3_step(rppo, n_steps * meta_batch),
        "rl2": _learner_step(RL2(family, seed=0, config=cfg)),
        "hyper-rl2": _learner_step(RL2(family, variant="hyper-rl2", seed=0, config=cfg)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=["gridnavi", "halfcheetah-dir"])
    parser.add_argument("--iterations", type=int, default=2, help="iterations per timing")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--meta-batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    th.set_num_threads(args.threads)
    for family in args.families:
        runs = candidates(family, args.meta_batch)
        costs: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                start = time.perf_counter()
                steps = sum(run() for _ in range(args.iterations))
                costs[name].append((time.perf_counter() - start) / steps * 1000.0)
        med = {name: statistics.median(v) for name, v in costs.items()}
        print(f"\n{family}: seconds per 1000 env steps (collection + update), median of {args.rounds} rounds")
        for name, value in med.items():
            base = "sb3-ppo" if "varibad" in name else "sb3-contrib-recurrent-ppo"
            ratio = "" if name.startswith("sb3") else f"   {value / med[base]:.2f}x {base}"
            print(f"  {name:28s} {value:8.3f} s{ratio}")
        print(f"  targets: rl2 <= 1.5x recurrent-ppo (now {med['rl2'] / med['sb3-contrib-recurrent-ppo']:.2f}x), "
              f"varibad <= 3x ppo (now {med['varibad'] / med['sb3-ppo']:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
