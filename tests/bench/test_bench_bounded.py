"""Bounded parsing of suite files and JSON (issue 13): fail fast with a clear message, never hang or trace back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from hyperbench.bench.bounded import MAX_DEPTH, InputError, json_depth, load_json, load_yaml
from hyperbench.cli import main

BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BOMB, "an alias bomb"),
        ("a: &a [*a]\n", "recursive YAML alias"),
        ("a: &a {k: *a}\n", "recursive YAML alias"),
        ("[" * 5000 + "]" * 5000, f"nested more than {MAX_DEPTH} levels deep"),
        ("name: x\nbudget: 1\nname: y\n", "duplicate key 'name' on lines 1 and 3"),
        (b"\x80\x81 random", "not UTF-8 text (byte 0x80 at offset 0)"),
        ("a: [1, 2\n", "not valid YAML"),
    ],
    ids=["alias-bomb", "recursive-seq", "recursive-map", "deep", "duplicate-key", "not-utf8", "malformed"],
)
def test_yaml_is_bounded(text: str | bytes, message: str) -> None:
    start = time.perf_counter()
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_yaml(text, "suite.yaml")
    assert time.perf_counter() - start < 10


def test_yaml_aliases_within_bounds_still_work() -> None:
    assert load_yaml("base: &b {lr: 1}\nother: *b\n", "s") == {"base": {"lr": 1}, "other": {"lr": 1}}


def test_json_depth_ignores_brackets_in_strings_and_is_bounded() -> None:
    assert json_depth('{"a": "[[[{{{", "b": [[1]]}') == 3
    with pytest.raises(InputError, match="JSON nested 200000 levels deep; at most 64"):
        load_json("[" * 200_000 + "]" * 200_000, "doc.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("budget: 400", "budget: 1000000000000000"), "budget must be ≤ 1,000,000,000, got 1,000,000,000,000,000"),
        (("seeds: 1", "seeds: 1000000000000"), "seeds: a count must be ≤ 1000, got 1,000,000,000,000"),
        (("seeds: 1", "seeds: [0, 4294967296]"), "seeds[1] must be ≤ 2,147,483,647"),
        (("episodes: 3", "episodes: 100000000"), "eval.episodes must be ≤ 10,000"),
        (("budget: 400", "budget: 400\nbudget: 500"), "duplicate key 'budget' on lines"),
        ("bomb", "an alias bomb"),
        ("random", "not UTF-8 text"),
    ],
    ids=["budget", "seed-count", "seed-value", "episodes", "duplicate-key", "alias-bomb", "random-bytes"],
)
def test_run_dry_run_refuses_bad_suites_fast(tmp_path: Path, capsys: pytest.CaptureFixture[str], change, message) -> None:
    text = (
        "name: bounded\nversion: 1\nbaseline: td3-mlp\nseeds: 1\nbudget: 400\n"
        "eval: {frequency: 100, episodes: 3}\nmethods: [td3-mlp]\ntasks: [Pendulum-v1]\n"
    )
    path = tmp_path / "bounded.yaml"
    if change == "bomb":
        path.write_text(text + BOMB.replace("a0:", "x0:").replace("\na", "\nx"))
    elif change == "random":
        path.write_bytes(os.urandom(4096).replace(b"\xc3", b"\xff") + b"\xff")
    else:
        path.write_text(text.replace(*change))
    start = time.perf_counter()
    assert main(["run", str(path), "--dry-run", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err
    assert time.perf_counter() - start < 30
