"""Benchmark suites: suite files, the method registry, the runner (local or Ray), rliable statistics, reports.

The data flow (docs/design.md): ``suites/<name>.yaml`` → :class:`Suite` (validated) → :class:`RunSpec` grid →
executor → :func:`run_one` (train with periodic evaluation, checkpoints) → one :class:`RunRecord` JSON per
(suite, method, task, seed) → :func:`make_report` (normalised scores, rliable aggregates with CIs, the
papers' measures, ``report.md`` + ``scores.json`` + PNG plots). Every statistic is one declaration in the
metric registry (:mod:`hyperbench.bench.metrics`).

Command line: ``hyperbench run SUITE`` and ``hyperbench report RUNS_DIR`` (see :mod:`hyperbench.bench.cli`).

Exports are loaded lazily (on first use) so that the ``hyperbench`` command starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperbench.bench.executors import SuiteConflictError, SuiteRunResult, plan_suite, run_suite
    from hyperbench.bench.kinds import MethodKind, register_kind
    from hyperbench.bench.metrics import Metric, get_metric, metrics, register_metric, unregister_metric
    from hyperbench.bench.record import SCHEMA_VERSION, RecordError, RunRecord, load_record, load_records, record_path
    from hyperbench.bench.registry import (
        BuildContext,
        MethodSpec,
        Requirements,
        UnknownMethodError,
        get_method,
        list_methods,
        register_method,
        unregister_method,
    )
    from hyperbench.bench.report import make_report
    from hyperbench.bench.runner import RunOptions, run_one
    from hyperbench.bench.suite import EvalProtocol, RunSpec, Suite, SuiteError, load_suite, parse_suite
    from hyperbench.bench.tasks import TaskHandle, UnknownTaskError, resolve_task

__all__ = [
    "SCHEMA_VERSION",
    "BuildContext",
    "EvalProtocol",
    "MethodKind",
    "MethodSpec",
    "Metric",
    "RecordError",
    "Requirements",
    "RunOptions",
    "RunRecord",
    "RunSpec",
    "Suite",
    "SuiteConflictError",
    "SuiteError",
    "SuiteRunResult",
    "TaskHandle",
    "UnknownMethodError",
    "UnknownTaskError",
    "get_method",
    "get_metric",
    "list_methods",
    "load_record",
    "load_records",
    "load_suite",
    "make_report",
    "metrics",
    "parse_suite",
    "plan_suite",
    "record_path",
    "register_kind",
    "register_method",
    "register_metric",
    "resolve_task",
    "run_one",
    "run_suite",
    "unregister_method",
    "unregister_metric",
]

_LAZY: dict[str, str] = {
    "SuiteConflictError": "hyperbench.bench.executors",
    "SuiteRunResult": "hyperbench.bench.executors",
    "plan_suite": "hyperbench.bench.executors",
    "run_suite": "hyperbench.bench.executors",
    "Metric": "hyperbench.bench.metrics",
    "get_metric": "hyperbench.bench.metrics",
    "metrics": "hyperbench.bench.metrics",
    "register_metric": "hyperbench.bench.metrics",
    "unregister_metric": "hyperbench.bench.metrics",
    "SCHEMA_VERSION": "hyperbench.bench.record",
    "RecordError": "hyperbench.bench.record",
    "RunRecord": "hyperbench.bench.record",
    "load_record": "hyperbench.bench.record",
    "load_records": "hyperbench.bench.record",
    "record_path": "hyperbench.bench.record",
    "BuildContext": "hyperbench.bench.registry",
    "Requirements": "hyperbench.bench.registry",
    "MethodKind": "hyperbench.bench.kinds",
    "register_kind": "hyperbench.bench.kinds",
    "MethodSpec": "hyperbench.bench.registry",
    "UnknownMethodError": "hyperbench.bench.registry",
    "get_method": "hyperbench.bench.registry",
    "list_methods": "hyperbench.bench.registry",
    "register_method": "hyperbench.bench.registry",
    "unregister_method": "hyperbench.bench.registry",
    "make_report": "hyperbench.bench.report",
    "RunOptions": "hyperbench.bench.runner",
    "run_one": "hyperbench.bench.runner",
    "EvalProtocol": "hyperbench.bench.suite",
    "RunSpec": "hyperbench.bench.suite",
    "Suite": "hyperbench.bench.suite",
    "SuiteError": "hyperbench.bench.suite",
    "load_suite": "hyperbench.bench.suite",
    "parse_suite": "hyperbench.bench.suite",
    "TaskHandle": "hyperbench.bench.tasks",
    "UnknownTaskError": "hyperbench.bench.tasks",
    "resolve_task": "hyperbench.bench.tasks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hyperbench.bench' has no attribute {name!r}")
