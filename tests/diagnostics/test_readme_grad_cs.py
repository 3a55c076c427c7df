"""The README's grad-cs examples run as written (Python) and validate (the suite block)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import yaml

from hyperbench.diagnostics.settings import parse_diagnostics

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- section: grad-cs -->", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_python_example_runs(tmp_path, capsys):
    (code,) = _blocks("python")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README grad-cs", "exec"), {"__name__": "__readme__"})
    finally:
        os.chdir(cwd)
    assert re.search(r"mean CS -?\d\.\d\d; states with CS > 0\.5: \d+%", capsys.readouterr().out)
    curve = json.loads((tmp_path / "grad_cs_curve.json").read_text())
    assert [m["step"] for m in curve["measurements"]] == [150, 300]


def test_suite_block_validates():
    (block,) = _blocks("yaml")
    problems: list[str] = []
    parsed = parse_diagnostics(yaml.safe_load(block)["diagnostics"], ["td3-mlp"], problems)
    assert problems == [] and parsed["grad_cs"]["steps"] == [2000, 5000, 10000]
