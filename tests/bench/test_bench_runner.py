"""One run: training with SB3 evaluation and checkpoints, resume after a crash, failures recorded, meta learners."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from hyperbench.bench.files import TMP_PREFIX
from hyperbench.bench.record import TIMING_PHASES, load_record, record_path
from hyperbench.bench.runner import (
    NonFiniteError,
    RunBusyError,
    UnsafeCheckpointError,
    _check_finite_learner,
    _run_lock,
    checkpoint_dir,
    run_one,
)


class Interrupt(BaseException):
    """Stands for a kill: not an Exception, so the runner does not record it as a failure."""


def test_learns_the_bandit_and_writes_a_complete_record(tmp_path, tiny_suite):
    spec = tiny_suite(budget=400).grid()[0]
    rec = run_one(spec, tmp_path)
    assert rec.ok and rec.status == "ok" and rec.failure is None
    assert rec.curve.steps == (100, 200, 300, 400) and rec.steps_done == 400
    # untrained TD3 acts ≈ 0 (reward −0.25), a random policy gets −0.58; the learned one is near the optimum 0
    assert rec.final_score is not None and rec.final_score > -0.03
    assert rec.final is not None and len(rec.final.returns) == 3 and rec.final.success_rate is None
    assert rec.config["hyperparameters"] == {"learning_rate": 3e-3, "learning_starts": 50}
    assert rec.config_hash == spec.config_hash and rec.suite.hash == spec.suite_hash
    assert rec.provenance["packages"]["stable-baselines3"] and rec.timing.wall_s > 0 and rec.timing.cpu_s > 0
    assert rec.timing.attempts == 1 and rec.timing.resumed_from == () and _phases_add_up(rec.timing)
    assert load_record(record_path(tmp_path, spec.method, spec.task, spec.seed)) == rec
    assert not checkpoint_dir(tmp_path, spec).exists()  # cleaned after the record is written
    # SB3's logger got the evaluations
    csv = (tmp_path / "logs" / spec.method / "hb__Bandit-v0" / "seed-0" / "attempt-1" / "progress.csv").read_text()
    assert "eval/mean_reward" in csv
    assert not _open_files_under(tmp_path / "logs")  # the runner closes the logger it configured
    # idempotent: a second call returns the stored record without training
    assert run_one(spec, tmp_path) == rec


def _open_files_under(root: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc (Linux) to list this process's open files")
    targets = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            targets.append(os.readlink(fd))
    return [t for t in targets if t.startswith(str(root))]


def _phases_add_up(timing) -> bool:
    return set(timing.phases()) == set(TIMING_PHASES) and abs(sum(timing.phases().values()) - timing.wall_s) < 0.01


def test_timing_splits_a_run_into_learning_evaluation_and_runner_overhead(tmp_path, tiny_suite, monkeypatch):
    from hyperbench.bench import runner

    pause = 0.15
    evaluate, save = runner._evaluate_and_log, runner._save_checkpoint

    def slow_evaluate(*args, **kwargs):
        time.sleep(pause)
        return evaluate(*args, **kwargs)

    def slow_save(*args, **kwargs):
        time.sleep(pause)
        return save(*args, **kwargs)

    monkeypatch.setattr(runner, "_evaluate_and_log", slow_evaluate)
    monkeypatch.setattr(runner, "_save_checkpoint", slow_save)
    rec = run_one(tiny_suite(budget=400).grid()[0], tmp_path)
    t = rec.timing
    assert rec.ok and _phases_add_up(t)
    # 4 evaluations (3 of them inside learn()) and 3 checkpoints, each at least `pause`: taken out of learn_s
    assert t.eval_s >= 4 * pause and t.checkpoint_s >= 3 * pause and t.learn_s > 0 and t.setup_s > 0
    assert t.runner_overhead_s == pytest.approx(t.setup_s + t.checkpoint_s + t.finish_s, abs=0.01)
    data = json.loads(record_path(tmp_path, rec.method, rec.task, rec.seed).read_text())["timing"]
    assert {k: data[k] for k in TIMING_PHASES} == t.phases()


def test_resumes_from_the_last_checkpoint_after_a_crash(tmp_path, tiny_suite):
    spec = tiny_suite(budget=400).grid()[0]

    def crash(step: int) -> None:
        if step == 200:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_one(spec, tmp_path, _after_checkpoint=crash)
    ckpt = checkpoint_dir(tmp_path, spec)
    assert sorted(p.name for p in ckpt.iterdir()) == ["step-000000000200"]  # step-100 replaced by step-200
    state = json.loads((ckpt / "step-000000000200" / "state.json").read_text())
    assert state["steps"] == [100, 200]
    saved = sorted(p.relative_to(ckpt).as_posix() for p in (ckpt / "step-000000000200").rglob("*") if p.is_file())
    assert saved == [  # safetensors + JSON only: resuming unpickles nothing
        "step-000000000200/learner/replay_buffer.safetensors",
        "step-000000000200/learner/training_state.safetensors",
        "step-000000000200/state.json",
    ]
    assert not record_path(tmp_path, spec.method, spec.task, spec.seed).exists()

    rec = run_one(spec, tmp_path)
    assert rec.ok and rec.curve.steps == (100, 200, 300, 400) and rec.curve.return_mean[:2] == tuple(state["return_mean"])
    assert rec.timing.attempts == 2 and rec.timing.resumed_from == (200,)
    # the first attempt's phases up to its checkpoint are carried over, like its wall time
    assert state["learn_s"] > 0 and state["eval_s"] > 0 and rec.timing.learn_s > state["learn_s"]
    assert _phases_add_up(rec.timing)
    assert rec.steps_done == 400 and rec.final_score is not None and rec.final_score > -0.03


@pytest.mark.parametrize(
    ("planted", "message"),
    [
        ("replay_buffer.pkl", "never pickle"),  # what older hyperbench versions wrote
        ("learner.zip", "never pickle"),  # SB3's model.save()
        ("learner/extra.bin", "files hyperbench does not write"),
        ("symlink", "symlink"),
    ],
)
def test_a_pickle_or_foreign_file_in_a_checkpoint_is_refused_never_opened(tmp_path, tiny_suite, planted, message):
    spec = tiny_suite(budget=400).grid()[0]

    def crash(step: int) -> None:
        if step == 200:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_one(spec, tmp_path, _after_checkpoint=crash)
    step_dir = checkpoint_dir(tmp_path, spec) / "step-000000000200"
    if planted == "symlink":
        (step_dir / "learner" / "replay_buffer.safetensors").unlink()
        (step_dir / "learner" / "replay_buffer.safetensors").symlink_to(tmp_path / "elsewhere.safetensors")
    else:
        # A pickle that would run code if loaded: the test fails loudly if anything unpickles it.
        payload = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
        (step_dir / planted).write_bytes(payload)
    with pytest.raises(UnsafeCheckpointError, match=message) as info:
        run_one(spec, tmp_path)
    assert "Delete" in str(info.value) and not (tmp_path / "pwned").exists()
    assert not record_path(tmp_path, spec.method, spec.task, spec.seed).exists()


def test_incomplete_checkpoint_directories_are_ignored(tmp_path, tiny_suite):
    spec = tiny_suite().grid()[0]
    ckpt = checkpoint_dir(tmp_path, spec)
    (ckpt / f"{TMP_PREFIX}step-000000000100.123.abcd").mkdir(parents=True)  # a checkpoint killed mid-write
    rec = run_one(spec, tmp_path)
    assert rec.ok and rec.timing.resumed_from == ()


def test_exception_is_recorded_as_failure(tmp_path, tiny_suite):
    spec = tiny_suite(methods=["hb-raises"], baseline="hb-raises").grid()[0]
    rec = run_one(spec, tmp_path)
    assert rec.status == "failed" and rec.final is None and rec.final_score is None
    assert rec.failure is not None and rec.failure.error_type == "RuntimeError" and "boom" in rec.failure.reason
    assert "Traceback" in rec.failure.traceback
    assert load_record(record_path(tmp_path, spec.method, spec.task, spec.seed)).status == "failed"


@pytest.mark.filterwarnings("ignore:.*reward is a NaN")
def test_nan_returns_are_recorded_as_failure(tmp_path, tiny_suite):
    spec = tiny_suite(tasks=["hb/NaNReward-v0"]).grid()[0]
    rec = run_one(spec, tmp_path)
    assert rec.status == "failed" and rec.failure is not None
    assert rec.failure.error_type == "NonFiniteError" and "non-finite evaluation return at step 100" in rec.failure.reason
    assert rec.curve.steps == ()  # the record stays valid JSON: no NaN in it


def test_non_finite_parameters_are_detected():
    class Learner:
        policy = torch.nn.Linear(2, 2)

    learner = Learner()
    _check_finite_learner(learner)
    with torch.no_grad():
        learner.policy.weight[0, 0] = float("inf")
    with pytest.raises(NonFiniteError, match=r"policy\.weight"):
        _check_finite_learner(learner)


def test_meta_learner_through_the_registry_and_resume(tmp_path, tiny_suite):
    suite = tiny_suite(
        methods=[{"name": "hb-meta-stub", "config": {"step_size": 40}}],
        baseline="hb-meta-stub",
        tasks=["point-robot"],
        budget=400,
        eval={"frequency": 100, "episodes": 2, "max_tasks": 3},
    )
    spec = suite.grid()[0]

    def crash(step: int) -> None:
        if step >= 200:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_one(spec, tmp_path, _after_checkpoint=crash)
    rec = run_one(spec, tmp_path)
    assert rec.ok and rec.timing.resumed_from == (200,)
    # evaluated when the learner's step count crossed each point (iterations of 40 steps)
    assert rec.curve.steps == (120, 200, 320, 400)
    expected = [-100 / (1 + s / 100) for s in rec.curve.steps]
    assert np.allclose(rec.curve.return_mean, expected)
    assert rec.final is not None and set(rec.final.per_task_return or {}) == {"test-0", "test-1", "test-2"}
    assert len(rec.final.returns) == 3 * 2


def test_sb3_method_on_a_task_family_uses_held_out_tasks(tmp_path, tiny_suite):
    suite = tiny_suite(
        methods=["hb-td3-tiny", {"name": "ctx", "method": "sac-context-mlp", "tasks": ["sparse-point-robot"]}],
        tasks=["sparse-point-robot"],
        budget=100,
        eval={"frequency": 100, "episodes": 1, "max_tasks": 2},
        config={"learning_starts": 50},
    )
    for spec in suite.grid():
        if spec.method == "ctx":
            spec = type(spec)(**{**spec.__dict__, "config": {**spec.config, "net_arch": [8], "batch_size": 16}})
        rec = run_one(spec, tmp_path)
        assert rec.ok, rec.failure
        assert rec.final is not None and set(rec.final.per_task_return or {}) == {"test-0", "test-1"}
        assert rec.final.success_rate is not None  # the sparse point robot reports is_success


def test_second_process_cannot_run_the_same_run(tmp_path, tiny_suite):
    spec = tiny_suite().grid()[0]
    with _run_lock(tmp_path, spec), pytest.raises(RunBusyError, match="already running"):
        run_one(spec, tmp_path)


def test_saved_policy_weights_rebuild_the_same_policy(tmp_path, tiny_suite):
    from safetensors.torch import load_model
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from hyperbench.bench.registry import BuildContext, get_method
    from hyperbench.bench.runner import RunOptions
    from hyperbench.bench.tasks import resolve_task

    spec = tiny_suite().grid()[0]
    rec = run_one(spec, tmp_path, RunOptions(save_policy=True))
    folder = tmp_path / rec.artifacts["policy"]
    assert json.loads((folder / "spec.json").read_text())["method_id"] == "hb-td3-tiny"
    task = resolve_task(spec.task)
    env = DummyVecEnv([lambda: Monitor(task.make_env())])
    fresh = get_method(spec.method_id).build(BuildContext(config=spec.config, seed=123, task=task, env=env))
    obs = np.zeros((1, 1), np.float32)
    before = fresh.predict(obs, deterministic=True)[0]
    load_model(fresh.policy, str(folder / "policy.safetensors"))
    after = fresh.predict(obs, deterministic=True)[0]
    assert not np.allclose(before, after)
    # the loaded policy is the evaluated one: its action reproduces the final return −(a − 0.5)²
    assert rec.final_score is not None
    assert -((float(after.reshape(-1)[0]) - 0.5) ** 2) == pytest.approx(rec.final_score, abs=1e-5)


def test_meta_evaluator_passes_the_seed_and_reads_the_headline():
    from types import SimpleNamespace

    from hyperbench.bench.runner import MetaEvaluator
    from hyperbench.meta import EvalResult, Headline

    task = SimpleNamespace(test_tasks=lambda max_tasks: ["a", "b"])
    seen = []

    class TwoPhase:
        """Adaptation episodes score −seed, the headline (post) episodes +seed."""

        def evaluate(self, tasks, n_episodes, seed=0):
            seen.append(seed)
            matrix = np.array([[-float(seed)] * 2 + [float(seed)] * n_episodes] * len(tasks))
            phases = ("pre",) * 2 + ("post",) * n_episodes
            return EvalResult(matrix, [{}] * len(tasks), phases, Headline(("post",)))

    outcome = MetaEvaluator(task, 3, None, seed=7)(TwoPhase())
    assert outcome.returns == [7.0] * 6 and outcome.per_task == {"test-0": 7.0, "test-1": 7.0}
    assert outcome.episode_returns == [[-7.0, -7.0, 7.0, 7.0, 7.0]] * 2 and outcome.phases == ["pre", "pre"] + ["post"] * 3
    assert MetaEvaluator(task, 1, None)(TwoPhase()).returns == [0.0, 0.0]
    assert seen == [7, 0]

    class Untyped:
        def evaluate(self, tasks, n_episodes, seed=0):
            return {"returns": [[1.0]] * len(tasks)}

    with pytest.raises(TypeError, match=r"must return a hyperbench\.meta\.EvalResult"):
        MetaEvaluator(task, 1, None)(Untyped())


def test_a_family_with_an_ood_split_is_evaluated_and_reported_apart(tmp_path, tiny_suite):
    """HalfCheetah-Vel-Medium: the headline is on held-out tasks of the training range; the final evaluation is
    repeated on the out-of-distribution tasks, kept in ``final.ood`` and reported in its own table."""
    import dataclasses

    from hyperbench.bench.executors import run_suite
    from hyperbench.bench.report import make_report
    from hyperbench.leaderboard.validate import _check_ood

    suite = tiny_suite(
        seeds=2,
        tasks=[{"name": "halfcheetah-vel-medium", "env_kwargs": {"n_train": 2, "n_test": 2, "n_ood_test": 2}}],
        budget=100,
        eval={"frequency": 100, "episodes": 1, "max_tasks": 2},
        config={"learning_starts": 50},
    )
    assert run_suite(suite, tmp_path, workers=0, progress=False).complete
    rec = load_record(record_path(tmp_path, "hb-td3-tiny", "halfcheetah-vel-medium", 0))
    assert rec.ok and rec.final is not None and rec.final.ood is not None
    assert set(rec.final.per_task_return or {}) == {"test-0", "test-1"}
    assert set(rec.final.ood.per_task_return) == {"ood_test-0", "ood_test-1"} and len(rec.final.ood.returns) == 2
    assert rec.final.ood.return_mean == pytest.approx(float(np.mean(rec.final.ood.returns)))
    # other target velocities, other returns (the policy barely moves: |v - v*| is larger out of distribution)
    assert rec.final.ood.return_mean < rec.final.return_mean
    assert rec.final.ood.return_mean not in rec.final.returns and rec.final.return_mean not in rec.final.ood.returns

    report = make_report(tmp_path, reps=50, plots=False)
    entry = json.loads(report.scores.read_text())["ood"]["halfcheetah-vel-medium"]["hb-td3-tiny"]
    assert entry["runs"] == 2 and entry["ood_test"]["mean"] < entry["test"]["mean"]
    assert "## Out-of-distribution test tasks" in report.markdown.read_text()

    problems: list[str] = []
    _check_ood(rec, "r", True, problems)
    assert problems == []
    _check_ood(dataclasses.replace(rec, final=dataclasses.replace(rec.final, ood=None)), "r", True, problems)
    assert problems == ["r: the task has out-of-distribution test tasks, but the record has no final.ood"]
    tampered = dataclasses.replace(rec.final.ood, return_mean=rec.final.ood.return_mean + 1.0)
    _check_ood(dataclasses.replace(rec, final=dataclasses.replace(rec.final, ood=tampered)), "r", True, problems)
    assert problems[1:] == [
        "r: final.ood return_mean / return_std are not the mean / std of its returns",
        "r: final.ood per-task returns do not average to its return_mean",
    ]
