"""Benchmark suites: suite files, the method registry, the runner (local or Ray), rliable statistics, reports.

The data flow: ``suites/<name>.yaml`` → :class:`Suite` (validated) → :class:`RunSpec` grid →
executor → :func:`run_one` (train with periodic evaluation, checkpoints) → one :class:`RunRecord` JSON per
(suite, method, task, seed) → :func:`make_report` (normalised scores, rliable aggregates with CIs, the
papers' measures, ``report.md`` + ``scores.json`` + PNG plots). Every statistic is one declaration in the
metric registry (:mod:`hyperbench.bench.metrics`).

Command line: ``hyperbench run SUITE`` and ``hyperbench report RUNS_DIR`` (see :mod:`hyperbench.bench.cli`).
"""

from hyperbench.bench.executors import SuiteConflictError, SuiteRunResult, plan_suite, run_suite
from hyperbench.bench.metrics import Metric, get_metric, metrics, register_metric, unregister_metric
from hyperbench.bench.record import SCHEMA_VERSION, RecordError, RunRecord, load_record, load_records, record_path
from hyperbench.bench.registry import (
    BuildContext,
    MetaLearner,
    MethodSpec,
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
    "MetaLearner",
    "MethodSpec",
    "Metric",
    "RecordError",
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
    "register_method",
    "register_metric",
    "resolve_task",
    "run_one",
    "run_suite",
    "unregister_method",
    "unregister_metric",
]
