"""The README's meta-learner section runs as written (at its small budget)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _meta_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- section: meta -->", 1)[1].split("<!-- section:", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_meta_section_code_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _meta_blocks()
    assert blocks, "the meta section has no python block"
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for block in blocks:
            exec(compile(block, str(README), "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert str(("pre-adaptation",) * 5 + ("post-adaptation",) * 2) in out
    assert "(3, 7) (3, 2)" in out and (tmp_path / "hyper-maml.safetensors").is_file()
