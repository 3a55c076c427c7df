"""RunRecord: JSON round trip, validation with errors naming the file, writes that survive SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hb_bench_helpers import make_record

from hyperbench.bench.files import TMP_PREFIX, iter_tmp_entries
from hyperbench.bench.record import (
    SCHEMA_VERSION,
    TIMING_PHASES,
    RecordError,
    RunRecord,
    load_record,
    load_records,
    record_path,
)


def test_round_trip_and_schema_fields(tmp_path):
    rec = make_record("td3-mlp", "hyperbench/PointRobot-v0", 3, [1.0, 2.5, 4.0])
    path = record_path(tmp_path, rec.method, rec.task, rec.seed)
    assert path == tmp_path / "records" / "td3-mlp" / "hyperbench__PointRobot-v0" / "seed-3.json"
    rec.save(path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["kind"] == "hyperbench.RunRecord"
    assert data["curve"] == {
        "steps": [100, 200, 300],
        "return_mean": [1.0, 2.5, 4.0],
        "return_std": [0.0] * 3,
        "success_rate": None,
    }
    back = load_record(path)
    assert back == rec and back.final_score == 4.0 and back.ok
    assert load_records(tmp_path) == [rec]


def test_failed_record_round_trip(tmp_path):
    rec = make_record("m", "t", 0, [1.0], status="failed")
    rec.save(tmp_path / "r.json")
    back = load_record(tmp_path / "r.json")
    assert back.status == "failed" and back.final is None and "non-finite" in back.failure.reason


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("seed"), "missing key 'seed'"),
        (lambda d: d.update(schema_version=99), "schema_version 99 is not supported"),
        (lambda d: d.update(status="great"), "'status' must be 'ok' or 'failed'"),
        (lambda d: d["curve"].update(steps=[1, 2]), "different lengths"),
        (lambda d: d["curve"].update(return_mean=[1.0, float("nan"), 2.0]), "non-finite"),
        (lambda d: d["curve"].update(steps=[300, 200, 100]), "strictly increasing"),
        (lambda d: d.update(final=None), "must have a 'final'"),
        (lambda d: d.update(seed="0"), "'seed' must be int"),
        (lambda d: d["final"].update(return_mean=True), "must be int or float, got bool"),
    ],
)
def test_schema_violations_name_the_file(tmp_path, mutate, message):
    data = make_record("m", "t", 0, [1.0, 2.0, 3.0]).to_dict()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError) as info:
        load_record(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_corrupt_json_names_the_file(tmp_path):
    path = record_path(tmp_path, "m", "t", 0)
    make_record("m", "t", 0, [1.0]).save(path)
    path.write_text(path.read_text()[:57])  # a truncated file, as a non-atomic writer would leave it
    with pytest.raises(RecordError, match=rf"{path}: corrupt run record, not valid JSON"):
        load_records(tmp_path)


def test_nan_cannot_be_written(tmp_path):
    rec = make_record("m", "t", 0, [1.0])
    bad = RunRecord(**{**rec.__dict__, "config": {"x": float("nan")}})
    with pytest.raises(ValueError):
        bad.save(tmp_path / "r.json")
    assert not list(tmp_path.iterdir())  # nothing left behind, not even the temporary file


_WRITER = """
import sys
from hb_bench_helpers import make_record
from hyperbench.bench.files import atomic_publish_dir, new_tmp_dir
from hyperbench.bench.record import record_path
root = sys.argv[1]
i = first = int(sys.argv[2])
while True:
    i += 1
    make_record("m", "t", i % 3, [float(i)] * 200).save(record_path(root, "m", "t", i % 3))
    tmp = new_tmp_dir(root + "/ckpt", f"step-{i}")
    (tmp / "a.bin").write_bytes(b"x" * 200_000)
    atomic_publish_dir(tmp, root + f"/ckpt/step-{i}")
    if i == first + 1:
        print("ready", flush=True)
"""


def test_sigkill_during_writes_never_leaves_a_corrupt_record(tmp_path, subprocess_env):
    rng = np.random.default_rng(0)
    for attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), str(100_000 * attempt)],
            stdout=subprocess.PIPE,
            env=subprocess_env,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        records = load_records(tmp_path)  # raises on any truncated record
        assert 1 <= len(records) <= 3, attempt
        for ckpt in (tmp_path / "ckpt").iterdir():
            if not ckpt.name.startswith(TMP_PREFIX):
                assert (ckpt / "a.bin").stat().st_size == 200_000  # published directories are complete
    assert all(p.name.startswith(TMP_PREFIX) for p in iter_tmp_entries(tmp_path))


def test_committed_version_1_records_still_load_and_report(tmp_path):
    from pathlib import Path

    from hyperbench.bench.report import make_report

    results = Path(__file__).resolve().parents[2] / "results" / "mini-maml-suite"
    records = load_records(results)
    assert len(records) == 18 and {r.schema_version for r in records} == {1}
    assert all(r.final is not None and r.final.episodes is None for r in records)
    # written back unchanged (a version-1 record stays version 1)
    raw = json.loads(next((results / "records").rglob("*.json")).read_text())
    assert RunRecord.from_dict(raw).to_dict() == raw
    report = make_report(results, out_dir=tmp_path / "report", plots=False)
    new = json.loads(report.scores.read_text())
    committed = json.loads((results / "report" / "scores.json").read_text())
    assert new["methods"] == committed["methods"]  # the committed report's numbers, recomputed


def test_version_2_records_keep_the_per_episode_matrix(tmp_path):
    import dataclasses

    rec = make_record("maml", "point-robot", 0, [1.0, 2.0])
    assert rec.final is not None
    episodes = {
        "returns": [[0.5, 1.5, 2.5], [1.0, 1.5, 2.5]],
        "successes": None,
        "phases": ["pre-adaptation", "post-adaptation", "post-adaptation"],
        "headline": {"phases": ["post-adaptation"], "per": "episode", "description": "after the inner step"},
        "scores": {"headline": 2.0},
    }
    rec = dataclasses.replace(rec, final=dataclasses.replace(rec.final, episodes=episodes))
    rec.save(tmp_path / "r.json")
    back = load_record(tmp_path / "r.json")
    assert back.schema_version == SCHEMA_VERSION == 2 and back.final is not None and back.final.episodes == episodes
    bad = rec.to_dict()
    bad["final"]["episodes"]["phases"] = ["pre-adaptation"]
    with pytest.raises(RecordError, match="must label every column"):
        RunRecord.from_dict(bad, source="bad.json")


def test_timing_phases_are_optional_and_round_trip(tmp_path):
    import dataclasses

    old = make_record("m", "t", 0, [1.0, 2.0])  # a record written before the phases were measured
    raw = old.to_dict()
    assert not set(TIMING_PHASES) & set(raw["timing"]) and old.timing.phases() == {}
    assert RunRecord.from_dict(raw).to_dict() == raw and old.timing.runner_overhead_s is None
    phases = {"setup_s": 0.25, "learn_s": 0.5, "eval_s": 0.125, "checkpoint_s": 0.0625, "finish_s": 0.0625}
    new = dataclasses.replace(old, timing=dataclasses.replace(old.timing, **phases))
    new.save(tmp_path / "r.json")
    back = load_record(tmp_path / "r.json")
    assert back == new and back.timing.phases() == phases and back.timing.runner_overhead_s == 0.375
    bad = new.to_dict()
    bad["timing"]["learn_s"] = "fast"
    with pytest.raises(RecordError, match=r"'timing\.learn_s' must be int or float"):
        RunRecord.from_dict(bad, source="bad.json")
