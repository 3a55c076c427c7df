"""grad-cs: the estimator recovers a known ∇ₐQ, corrupted critics score low, env states restore exactly, SB3 heads."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch as th

from hyperbench.diagnostics.env_state import CopySnapshot, EnvNotRestorableError, MujocoSnapshot, capture
from hyperbench.diagnostics.grad_cs import (
    GradCSConfig,
    SB3Agent,
    cosine_similarity,
    fit_gradient,
    fraction_above,
    grad_cs,
    plot_grad_cs,
    save_results,
)
from tests.diagnostics.closed_form import OracleAgent, make_env


def test_exact_critic_is_recovered_at_the_default_settings():
    env = make_env()
    result = grad_cs(OracleAgent(env, "exact"), env, seed=0)
    assert result.cs.shape == (15,) and result.returns.shape == (15, 15) and result.perturbations.shape == (15, 15, 4)
    assert result.mean > 0.95
    assert result.fraction_above([0.8])[0] == 1.0
    # the first action of every state is the policy's own, the others are perturbed within the bounds
    assert np.all(result.perturbations[:, 0] == 0) and np.all(np.abs(result.perturbations[:, 1:]).sum(axis=2) > 0)
    # time-limited episodes that never terminate: every rollout is truncated and bootstrapped
    assert result.bootstrapped.all()


def test_one_step_episodes_need_no_bootstrap():
    env = make_env(terminate=True)
    result = grad_cs(OracleAgent(env, "exact"), env, seed=1)
    assert not result.bootstrapped.any() and np.all(result.rollout_steps == 1)
    assert result.mean > 0.95


@pytest.mark.parametrize("critic", ["negated", "random"])
def test_wrong_critics_score_low(critic):
    env = make_env()
    exact = grad_cs(OracleAgent(env, "exact"), env, seed=0)
    wrong = grad_cs(OracleAgent(env, critic), env, seed=0)
    np.testing.assert_allclose(wrong.returns, exact.returns)  # same rollouts: only the critic differs
    if critic == "negated":
        assert wrong.mean < -0.95 and wrong.fraction_above([0.0])[0] == 0.0
    else:
        assert abs(wrong.mean) < 0.4 and wrong.mean < exact.mean - 0.5


def test_fit_gradient_recovers_a_linear_function_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 3))
    beta = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    y = 4.0 + np.einsum("nmd,nd->nm", x, beta)
    slopes, r2 = fit_gradient(x, y)
    np.testing.assert_allclose(slopes, beta, atol=1e-10)
    np.testing.assert_allclose(r2, 1.0)


def test_cosine_and_fraction_above_by_hand():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    b = np.array([[2.0, 0.0], [-1.0, -1.0], [1.0, 0.0], [0.0, 5.0]])
    cs = cosine_similarity(a, b)
    np.testing.assert_allclose(cs[[0, 1, 3]], [1.0, -1.0, 0.0])
    assert np.isnan(cs[2])
    np.testing.assert_allclose(fraction_above(cs, [-0.5, 0.0, 0.99]), [0.5, 0.25, 0.25])  # nan never counts


def test_invalid_settings_are_refused_before_any_rollout():
    env = make_env(action_dim=4)
    with pytest.raises(ValueError, match=r"actions must be ≥ action dimension \+ 2 = 6"):
        grad_cs(OracleAgent(env), env, GradCSConfig(actions=5))
    with pytest.raises(ValueError, match=r"std must be a positive number.*hold must be ≥ 1"):
        GradCSConfig(std=0.0, hold=0).check()


# ----------------------------------------------------------------------------------------------------
# Environment states


def _replay(env, actions):
    out = []
    for a in actions:
        obs, reward, terminated, truncated, _ = env.step(a)
        out.append((obs.tolist(), reward, terminated, truncated))
        if terminated or truncated:
            break
    return out


def test_mujoco_state_restores_bit_for_bit_including_the_time_limit():
    env = gym.make("Hopper-v5", max_episode_steps=60)
    obs, _ = env.reset(seed=3)
    for _ in range(20):
        obs, *_ = env.step(np.zeros(3, np.float32))
    snapshot = capture(env, obs)
    assert isinstance(snapshot, MujocoSnapshot)
    actions = [0.1 * np.sin(np.arange(3) + t).astype(np.float32) for t in range(100)]
    first = _replay(snapshot.restore(), actions)
    second = _replay(snapshot.restore(), actions)
    assert first == second
    assert len(first) == 40 and first[-1][3]  # truncated where the original episode would have been (60 − 20)
    np.testing.assert_array_equal(snapshot.observation, obs)


def test_other_envs_are_deep_copied_and_unrestorable_ones_say_how_to_fix():
    env = make_env()
    obs, _ = env.reset(seed=0)
    snapshot = capture(env, obs)
    assert isinstance(snapshot, CopySnapshot) and snapshot.restore() is not env

    class Unrestorable(gym.Wrapper):
        def __init__(self, inner: gym.Env) -> None:
            super().__init__(inner)
            self.stream = (i for i in range(3))  # generators cannot be copied

    with pytest.raises(EnvNotRestorableError, match=r"not a MuJoCo environment.*deep-copyable"):
        capture(Unrestorable(make_env()), obs)


# ----------------------------------------------------------------------------------------------------
# SB3 models


def _manual_gradient(q_fn, obs, actions):
    a = th.as_tensor(actions, dtype=th.float32).requires_grad_(True)
    q = q_fn(th.as_tensor(obs, dtype=th.float32), a)
    (grad,) = th.autograd.grad(q.sum(), a)
    return grad.numpy()


@pytest.mark.parametrize("algo", ["td3", "sac", "tqc"])
def test_sb3_heads_differentiate_the_value_the_actor_uses(algo):
    from sb3_contrib import TQC
    from stable_baselines3 import SAC, TD3

    env = make_env()
    cls = {"td3": TD3, "sac": SAC, "tqc": TQC}[algo]
    model = cls("MlpPolicy", env, policy_kwargs={"net_arch": [16]}, seed=0)
    obs = np.random.default_rng(0).uniform(-1, 1, (5, 3)).astype(np.float32)
    actions = np.random.default_rng(1).uniform(-1, 1, (5, 4))
    critic = model.policy.critic
    actor_q = {
        "td3": lambda o, a: critic.q1_forward(o, a),
        "sac": lambda o, a: th.min(th.cat(critic(o, a), dim=1), dim=1).values,
        "tqc": lambda o, a: critic(o, a).mean(dim=(1, 2)),
    }[algo]
    q1 = {
        "td3": lambda o, a: critic.q1_forward(o, a),
        "sac": lambda o, a: critic.q1_forward(o, a),
        "tqc": lambda o, a: critic(o, a)[:, 0].mean(dim=1),
    }[algo]
    for head, fn in (("actor", actor_q), ("q1", q1)):
        grad, q = SB3Agent(model, head).critic_gradient(list(obs), actions)
        np.testing.assert_allclose(grad, _manual_gradient(fn, obs, actions), rtol=1e-5, atol=1e-6)
        with th.no_grad():
            expected_q = fn(th.as_tensor(obs), th.as_tensor(actions, dtype=th.float32)).reshape(-1).numpy()
        np.testing.assert_allclose(q, expected_q, rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in model.policy.parameters())  # the measurement touches no parameter gradient
    # the bootstrap value is the algorithm's own target: min over target critics, TQC's truncated quantile mean
    target = model.policy.critic_target
    o, a = th.as_tensor(obs[:1]), th.as_tensor(actions[:1], dtype=th.float32)
    with th.no_grad():
        if algo == "tqc":
            kept = th.sort(target(o, a).reshape(-1)).values[: 2 * 25 - 2 * model.top_quantiles_to_drop_per_net]
            expected_v = float(kept.mean())
        else:
            expected_v = float(th.min(th.cat(target(o, a), dim=1)))
    assert SB3Agent(model).bootstrap(obs[0], actions[0]) == pytest.approx(expected_v, rel=1e-5)
    # the policy's deterministic action, in the scaled space
    agent = SB3Agent(model)
    expected = model.policy._predict(th.as_tensor(obs[:1]), deterministic=True).detach().numpy()[0]
    np.testing.assert_allclose(agent.act(obs[0]), expected, rtol=1e-6)


def test_unsupported_models_are_refused():
    from stable_baselines3 import PPO

    env = make_env()
    with pytest.raises(TypeError, match="TD3, SAC and TQC"):
        grad_cs(PPO("MlpPolicy", env, n_steps=8, batch_size=8), env)


def test_smoke_on_a_td3_model_on_hopper(tmp_path):
    from stable_baselines3 import TD3

    env = gym.make("Hopper-v5")
    model = TD3("MlpPolicy", env, policy_kwargs={"net_arch": [32]}, learning_starts=50, seed=0)
    model.learn(100)
    params = [p.detach().clone() for p in model.policy.parameters()]
    result = grad_cs(model, env, GradCSConfig(states=3, actions=6), seed=0, label="td3")
    assert all(th.equal(a, b) for a, b in zip(params, model.policy.parameters()))  # the model is not changed
    assert result.settings["algorithm"] == "td3" and result.settings["head"] == "actor" and result.settings["gamma"] == 0.99
    assert np.all(np.abs(result.cs) <= 1.0 + 1e-9) and np.isfinite(result.returns).all()
    assert result.critic_grad.shape == (3, 3) and result.summary()["env_steps"] > 0
    # the same seed gives the same states, perturbations and returns
    again = grad_cs(model, env, GradCSConfig(states=3, actions=6), seed=0)
    np.testing.assert_array_equal(again.returns, result.returns)
    save_results([result, again], tmp_path / "gcs.json")
    doc = json.loads((tmp_path / "gcs.json").read_text())
    assert doc["kind"] == "hyperbench.GradCS" and len(doc["results"]) == 2
    first = doc["results"][0]
    assert len(first["tau"]) == len(first["fraction_above"]) == 21 and first["tau"][0] == 0.0 and first["tau"][-1] == 1.0
    assert first["summary"]["mean_cs"] == pytest.approx(result.mean)
    assert plot_grad_cs([result], tmp_path / "gcs.png").stat().st_size > 1000
