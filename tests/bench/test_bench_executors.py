"""Running a grid: skip what exists, process pool and Ray give the same records, SIGKILL at any moment is safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hb_bench_helpers import tiny_suite_dict

from hyperbench.bench.executors import SuiteConflictError, plan_suite, run_suite
from hyperbench.bench.files import iter_tmp_entries
from hyperbench.bench.record import TIMING_PHASES, RunRecord, iter_record_paths, load_record, load_records, record_path
from hyperbench.bench.runner import RunOptions
from hyperbench.bench.suite import parse_suite

PLUGIN_OPTIONS = RunOptions(plugins=("hb_bench_plugin",))


def curves(runs_dir: Path) -> dict[tuple[str, str, int], tuple[float, ...]]:
    return {r.key: r.curve.return_mean for r in load_records(runs_dir)}


def test_in_process_run_skips_existing_and_continues_after_failures(tmp_path, tiny_suite):
    suite = tiny_suite(methods=["hb-td3-tiny", "hb-raises"], seeds=2)
    result = run_suite(suite, tmp_path, workers=0, progress=True)
    assert result.total == 4 and result.skipped == 0 and len(result.ok) == 2 and len(result.failed) == 2
    assert all("boom" in reason for _, reason in result.failed)
    assert (tmp_path / "suite.json").exists()
    before = {p: p.stat().st_mtime_ns for p in iter_record_paths(tmp_path)}
    again = run_suite(suite, tmp_path, workers=0, progress=False)
    assert again.skipped == 4 and not again.ok and not again.failed
    assert {p: p.stat().st_mtime_ns for p in iter_record_paths(tmp_path)} == before  # nothing rewritten
    retried = run_suite(suite, tmp_path, workers=0, progress=False, retry_failed=True)
    assert retried.skipped == 2 and len(retried.failed) == 2


def test_a_run_busy_elsewhere_leaves_the_suite_incomplete(tmp_path, tiny_suite):
    from hyperbench.bench.runner import _run_lock

    suite = tiny_suite(seeds=2)
    with _run_lock(tmp_path, suite.grid()[0]):
        result = run_suite(suite, tmp_path, workers=0, progress=False)
    assert not result.complete and len(result.ok) == 1
    assert result.not_run[0][0] == suite.grid()[0].run_id and "already running" in result.not_run[0][1]
    assert run_suite(suite, tmp_path, workers=0, progress=False).complete


def test_two_runners_cannot_share_a_runs_directory(tmp_path, tiny_suite):
    from hyperbench.bench.executors import _runs_dir_lock

    with _runs_dir_lock(tmp_path), pytest.raises(SuiteConflictError, match="another `hyperbench run` is using"):
        run_suite(tiny_suite(), tmp_path, workers=0, progress=False)


def test_changed_settings_are_not_mixed_with_old_records(tmp_path, tiny_suite):
    run_suite(tiny_suite(), tmp_path, workers=0, progress=False)
    changed = tiny_suite(methods=[{"name": "hb-td3-tiny", "config": {"learning_rate": 0.01}}])
    with pytest.raises(SuiteConflictError, match="different settings"):
        run_suite(changed, tmp_path, workers=0, progress=False)
    extended = tiny_suite(seeds=2)  # adding seeds (or methods, tasks) reuses what exists
    assert plan_suite(extended, tmp_path).todo == [extended.grid()[1]]
    other = parse_suite({**tiny_suite_dict(), "name": "other"})
    with pytest.raises(SuiteConflictError, match="holds results of suite 'tiny'"):
        run_suite(other, tmp_path, workers=0, progress=False)


def test_process_pool_matches_in_process_records(tmp_path, tiny_suite):
    suite = tiny_suite(seeds=2)
    run_suite(suite, tmp_path / "a", workers=0, progress=False)
    result = run_suite(suite, tmp_path / "b", workers=2, options=PLUGIN_OPTIONS, progress=False)
    assert len(result.ok) == 2 and result.complete
    # same seeds, one torch thread: the worker processes reproduce the in-process runs exactly
    assert curves(tmp_path / "a") == curves(tmp_path / "b")


def test_ray_local_instance_matches_local_records(tmp_path, tiny_suite, monkeypatch):
    pytest.importorskip("ray")
    # Ray's workers inherit the driver's environment: make the test plugin importable there
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    marker = f"HB_TEST_RAY_INSTANCE={os.getpid()}-{time.time_ns()}"
    monkeypatch.setenv(*marker.split("=", 1))
    suite = tiny_suite(budget=100, eval={"frequency": 100, "episodes": 2})
    run_suite(suite, tmp_path / "local", workers=0, progress=False)
    result = run_suite(suite, tmp_path / "ray", workers=1, executor="ray", options=PLUGIN_OPTIONS, progress=False)
    assert result.complete and len(result.ok) == 1
    local, ray_rec = load_records(tmp_path / "local")[0], load_records(tmp_path / "ray")[0]
    assert ray_rec.curve == local.curve and ray_rec.config_hash == local.config_hash
    assert ray_rec.provenance["hostname"] == local.provenance["hostname"]
    # the private instance is shut down with the suite: none of its processes (GCS, raylet, workers) is left.
    # They inherit this process's environment (workers rename themselves `ray::IDLE`, so it is the marker).
    if sys.platform.startswith("linux"):  # found through /proc
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _processes_with_env(marker):
            time.sleep(0.1)
        assert not _processes_with_env(marker)


def _processes_with_env(entry: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if entry.encode() in environ and _alive(int(proc.name)):
                found.append(int(proc.name))
    return found


@pytest.mark.slow  # starting a Ray node takes 15-20 s on 2 cores
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the cluster's processes in /proc")
def test_ray_cluster_at_an_address_writes_the_local_executors_records(tmp_path, tiny_suite, monkeypatch):
    ray = pytest.importorskip("ray")
    import hyperbench
    from hyperbench.bench.ray_cluster import RAY_ENV, local_ray_cluster, session_processes

    for key, value in RAY_ENV.items():  # the driver connects with the cluster's settings
        monkeypatch.setenv(key, value)
    suite = tiny_suite(seeds=2, budget=200)
    run_suite(suite, tmp_path / "local", workers=0, progress=False)
    # the workers import this hyperbench and the test plugin, as they would from an installed package
    with local_ray_cluster(2, python_path=[Path(__file__).parent, Path(hyperbench.__file__).parents[1]]) as cluster:
        result = run_suite(
            suite, tmp_path / "ray", executor="ray", address=cluster.address, options=PLUGIN_OPTIONS, progress=False
        )
        workers = [p for p in session_processes(cluster.session) if b"default_worker.py" in _cmdline(p)]
    assert result.complete and len(result.ok) == 2 and not ray.is_initialized()  # the driver disconnected
    assert workers  # the runs went to the cluster's worker processes
    assert not session_processes(cluster.session)  # and none of the cluster's processes outlives it

    def content(record: RunRecord) -> dict[str, object]:
        data = record.to_dict()
        data.pop("timing")
        data["provenance"] = {k: v for k, v in data["provenance"].items() if k not in ("hostname", "platform")}
        return data

    local, on_ray = load_records(tmp_path / "local"), load_records(tmp_path / "ray")
    assert [content(r) for r in on_ray] == [content(r) for r in local]
    assert all(r.ok and set(r.timing.phases()) == set(TIMING_PHASES) for r in on_ray)


def _cmdline(pid: int) -> bytes:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _checkpoints(runs: Path) -> list[Path]:
    return list((runs / "checkpoints").rglob("step-*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and PR_SET_PDEATHSIG")
def test_sigkill_at_any_moment_then_rerun_completes(tmp_path, subprocess_env):
    suite_file = tmp_path / "kill.yaml"
    data = tiny_suite_dict(name="kill", seeds=2, budget=600, eval={"frequency": 100, "episodes": 2})
    suite_file.write_text(yaml.safe_dump(data))
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "hyperbench.cli", "run", str(suite_file), "--out", str(runs), "--workers", "1"]
    cmd += ["--plugin", "hb_bench_plugin", "--no-report", "--no-progress"]
    rng = np.random.default_rng(7)
    kills = 0
    first_checkpoint_s = 0.0
    for attempt in range(3):
        stderr = tmp_path / f"stderr-{attempt}.txt"  # a file, not a pipe nobody reads (a full pipe would block it)
        with open(stderr, "wb") as err:
            proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=err)
        started = time.monotonic()
        if attempt == 0:  # first kill: right after a checkpoint exists, so the rerun must resume
            # the wait scales with the machine's load: up to the checkpoint, the process's end, or 10 minutes
            while proc.poll() is None and time.monotonic() - started < 600 and not _checkpoints(runs):
                time.sleep(0.05)
            assert proc.poll() is None, f"the runner ended before its first checkpoint: {stderr.read_text()}"
            assert _checkpoints(runs), "no checkpoint after 10 minutes"
            first_checkpoint_s = time.monotonic() - started
        else:  # then at random moments, on the scale of this machine's speed (start-up, a few evaluations)
            time.sleep(float(rng.uniform(0.1, 1.5)) * first_checkpoint_s)
        workers = _children(proc.pid)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        # the worker process dies with the runner (no orphan keeps training and writing)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
        load_records(runs)  # never a corrupt record, whatever the moment of the kill
    assert kills >= 1
    final = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=1200)
    assert final.returncode == 0, final.stderr
    records = load_records(runs)
    assert sorted(r.key for r in records) == [("hb-td3-tiny", "hb/Bandit-v0", 0), ("hb-td3-tiny", "hb/Bandit-v0", 1)]
    assert len(list(iter_record_paths(runs))) == 2  # one file per run, no duplicates
    assert all(r.ok and r.curve.steps == (100, 200, 300, 400, 500, 600) for r in records)
    assert any(r.timing.resumed_from for r in records)
    assert not list(iter_tmp_entries(runs)) and not list((runs / "checkpoints").rglob("step-*"))
    assert load_record(record_path(runs, "hb-td3-tiny", "hb/Bandit-v0", 0)).suite.name == "kill"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_whose_runner_died_while_it_started_exits(subprocess_env):
    # the runner may die before the worker's prctl: the worker then has another parent (init or a subreaper)
    code = "import os, sys; from hyperbench.bench.executors import _set_pdeathsig; _set_pdeathsig({}); print('running')"
    orphan = subprocess.run([sys.executable, "-c", code.format("os.getppid() + 1")], env=subprocess_env, capture_output=True)
    assert orphan.returncode == 1 and b"running" not in orphan.stdout
    child = subprocess.run([sys.executable, "-c", code.format("os.getppid()")], env=subprocess_env, capture_output=True)
    assert child.returncode == 0 and child.stdout.strip() == b"running"


def test_gpus_per_run_is_checked_before_anything_runs(tmp_path, tiny_suite, capsys):
    from hyperbench.cli import main

    suite = tiny_suite()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="gpus_per_run must be a finite number"):
            run_suite(suite, tmp_path / "runs", executor="ray", gpus_per_run=bad, progress=False)
    with pytest.raises(ValueError, match="ray executor only"):
        run_suite(suite, tmp_path / "runs", executor="local", gpus_per_run=0.5, progress=False)
    assert not (tmp_path / "runs").exists()
    with pytest.raises(SystemExit):
        main(["run", "smoke", "--executor", "ray", "--gpus-per-run", "-0.5"])
    assert "must be a number >= 0" in capsys.readouterr().err
    assert main(["run", "smoke", "--gpus-per-run", "0.5", "--out", str(tmp_path / "runs")]) == 2
    assert "applies to --executor ray" in capsys.readouterr().err and not (tmp_path / "runs").exists()


@pytest.mark.slow  # starts a Ray instance
def test_ray_runs_ask_for_their_gpu_share(tmp_path, tiny_suite, monkeypatch):
    """A run asking for GPUs gets scheduled on a node that has them, and is refused with a message where none do."""
    ray = pytest.importorskip("ray")
    from hyperbench.bench.executors import ClusterResourceError

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    suite = tiny_suite(budget=100, eval={"frequency": 100, "episodes": 1})
    ray.init(num_cpus=1, num_gpus=0, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(ClusterResourceError, match=r"asks for 0\.5 GPU"):
            run_suite(suite, tmp_path / "none", executor="ray", gpus_per_run=0.5, options=PLUGIN_OPTIONS, progress=False)
    finally:
        ray.shutdown()
    assert not list((tmp_path / "none").glob("records/**/*.json"))
    # a declared (fake) GPU: the run is scheduled with its share; torch sees no CUDA here, so it trains on the CPU
    ray.init(num_cpus=1, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        result = run_suite(suite, tmp_path / "gpu", executor="ray", gpus_per_run=0.5, options=PLUGIN_OPTIONS, progress=False)
    finally:
        ray.shutdown()
    assert result.complete and len(result.ok) == 1
