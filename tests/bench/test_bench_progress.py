"""Progress output: the runner's bar counts environment steps as well as runs; the report shows its bootstrap."""

from __future__ import annotations

import re

import numpy as np

from hyperbench.bench import stats
from hyperbench.bench.executors import run_suite


def test_progress_bar_shows_steps_of_the_runs(tmp_path, tiny_suite, capsys):
    suite = tiny_suite(methods=["hb-td3-tiny"], seeds=2)
    total = sum(spec.budget for spec in suite.grid())
    run_suite(suite, tmp_path, workers=0, progress=True)
    err = capsys.readouterr().err
    seen = [(int(a), int(b)) for a, b in re.findall(r"steps=(\d+)/(\d+)", err)]
    assert seen and all(b == total for _, b in seen)
    assert seen[-1][0] == total  # every step done at the end
    assert any(0 < a < total for a, _ in seen)  # and reported while the runs were going


def test_bootstrap_progress_is_called_once_per_estimate():
    calls = []
    scores = {"a": np.random.default_rng(0).random((3, 2)), "b": np.random.default_rng(1).random((3, 2))}
    with stats.bootstrap_progress(lambda: calls.append(1)):
        stats.aggregate_intervals(scores, reps=20)
    assert len(calls) == 2
    stats.aggregate_intervals(scores, reps=20)  # outside the block: no more calls
    assert len(calls) == 2
