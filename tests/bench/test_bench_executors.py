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
from hyperbench.bench.record import iter_record_paths, load_record, load_records, record_path
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
    suite = tiny_suite(budget=100, eval={"frequency": 100, "episodes": 2})
    run_suite(suite, tmp_path / "local", workers=0, progress=False)
    result = run_suite(suite, tmp_path / "ray", workers=1, executor="ray", options=PLUGIN_OPTIONS, progress=False)
    assert result.complete and len(result.ok) == 1
    local, ray_rec = load_records(tmp_path / "local")[0], load_records(tmp_path / "ray")[0]
    assert ray_rec.curve == local.curve and ray_rec.config_hash == local.config_hash
    assert ray_rec.provenance["hostname"] == local.provenance["hostname"]


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
    for attempt in range(3):
        proc = subprocess.Popen(cmd, env=subprocess_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        if attempt == 0:  # first kill: right after a checkpoint exists, so the rerun must resume
            while time.time() < deadline and not list((runs / "checkpoints").rglob("step-*")):
                time.sleep(0.05)
        else:  # then at random moments
            time.sleep(float(rng.uniform(0.5, 3.0)))
        workers = _children(proc.pid)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        # the worker process dies with the runner (no orphan keeps training and writing)
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
        load_records(runs)  # never a corrupt record, whatever the moment of the kill
    assert kills >= 1
    final = subprocess.run(cmd, env=subprocess_env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    records = load_records(runs)
    assert sorted(r.key for r in records) == [("hb-td3-tiny", "hb/Bandit-v0", 0), ("hb-td3-tiny", "hb/Bandit-v0", 1)]
    assert len(list(iter_record_paths(runs))) == 2  # one file per run, no duplicates
    assert all(r.ok and r.curve.steps == (100, 200, 300, 400, 500, 600) for r in records)
    assert any(r.timing.resumed_from for r in records)
    assert not list(iter_tmp_entries(runs)) and not list((runs / "checkpoints").rglob("step-*"))
    assert load_record(record_path(runs, "hb-td3-tiny", "hb/Bandit-v0", 0)).suite.name == "kill"
