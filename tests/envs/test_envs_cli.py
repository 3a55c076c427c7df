"""``hyperbench envs ...`` sub-commands, through a parser built with this package's ``register`` only."""

from __future__ import annotations

import argparse
import json

import pytest

from hyperbench.envs import cli


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hyperbench")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.func(args))


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["envs", "list"]) == 0
    out = capsys.readouterr().out
    assert "hyperbench/HalfCheetahVel-v0" in out and "gridnavi" in out and out.count("\n") == 13


def test_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["envs", "show", "point-robot", "--tasks", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["family"] == "point-robot" and data["n_tasks"]["train"] == 80
    assert len(data["tasks"]["test"]) == 2 and data["tasks"]["test"][0]["kind"] == "goal"


def test_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["envs", "check", "gridnavi", "halfcheetah-dir"]) == 0
    out = capsys.readouterr().out
    assert out.count(" ok ") == 4 and "FAILED" not in out


def test_reference_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["envs", "reference"]) == 0
    out = capsys.readouterr().out
    assert "Hopper-v5" in out and "hyperbench envs reference --measure --write" in out
    assert _run(["envs", "reference", "gridnavi", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"gridnavi"}


def test_reference_measure_without_write_leaves_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    from hyperbench.envs.reference import REFERENCE_FILE

    before = REFERENCE_FILE.read_text()
    assert _run(["envs", "reference", "sparse-point-robot", "--measure"]) == 0
    assert "sparse-point-robot" in capsys.readouterr().out
    assert REFERENCE_FILE.read_text() == before
    assert _run(["envs", "reference", "--write"]) == 2
