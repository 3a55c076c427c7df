"""The README's metric-registry example runs as written and leaves the registry as it found it."""

from __future__ import annotations

import re
from pathlib import Path

from hyperbench.bench.metrics import metrics

README = Path(__file__).resolve().parents[2] / "README.md"


def test_metric_registry_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    (code,) = [b for b in blocks if "from hyperbench.bench.metrics import" in b]
    before = [m.name for m in metrics()]
    exec(compile(code, "README statistics", "exec"), {"__name__": "__readme__"})
    printed = capsys.readouterr().out
    assert "'Optimality gap ↓'" in printed and printed.rstrip().endswith("'Worst seed']")
    assert [m.name for m in metrics()] == before
