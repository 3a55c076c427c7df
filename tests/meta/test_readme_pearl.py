"""The README's PEARL block runs as written (at its small budget)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_pearl_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("<!-- section: pearl -->", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), scope)
    assert os.path.isfile("pearl.safetensors") and os.path.isfile("pearl-buffers.safetensors")
    assert scope["result"].phases == ("prior", "posterior", "posterior")  # type: ignore[attr-defined]
    assert scope["action"].shape == (2,)  # type: ignore[attr-defined]
