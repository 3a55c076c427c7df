"""The README's hypernetwork section runs as written: its Python examples and its `hyperbench diagnose init` commands."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from hyperbench.cli import main

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- section: nn -->", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_python_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _blocks("python")
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(blocks):
        exec(compile(code, f"README nn block {i}", "exec"), {"__name__": "__readme__"})


def test_diagnose_init_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = _blocks("bash")
    monkeypatch.chdir(tmp_path)
    commands = [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]
    for command in commands:
        argv = shlex.split(command)
        if argv[0] == "hyperbench":
            assert main(argv[1:]) == 0, command
        else:
            assert argv[0] == "python", command
            subprocess.run([sys.executable, *argv[1:]], check=True)
    probes = json.loads((tmp_path / "init-probe" / "init.json").read_text())["probes"]
    assert [p["init"] for p in probes] == ["weight-hyperinit", "hfi", "kaiming"]
    assert (tmp_path / "init-probe-latents" / "init.png").exists()
