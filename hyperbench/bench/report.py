"""``hyperbench report RUNS_DIR``: records → ``report.md``, ``scores.json`` and PNG plots.

Everything is recomputed from the run records (and the suite description the runner stored next to them
in ``suite.json``); nothing is taken from an earlier report. ``scores.json`` carries every number of
``report.md``.

``scores.json`` (``schema_version`` 1; later additions only add keys, none is renamed or removed):

- ``suite`` {name, version, hash}; ``grid`` {expected, ok, failed, missing}; ``baseline``;
  ``bootstrap`` {reps, seed, confidence, failed_as}; ``tasks``;
- ``normalisation``: task → {random, reference, normalised, source, zero_action, zero_action_normalised,
  zero_action_protocol} (``zero_action``: the do-nothing policy's return, ``null`` with the reason in
  ``zero_action_protocol`` where it is not measured);
- ``metrics``: the metric registry (:mod:`hyperbench.bench.metrics`) as data: name → {title, description,
  direction ("higher"/"lower" is better), ci, versus_baseline, path, point_key, required}. ``path`` locates
  each metric's value in a method's entry and ``point_key`` its headline number: a reader can loop over this
  table instead of naming metrics;
- ``methods``: label → {``tasks``, ``baseline`` (the method it is compared with), ``seeds_used``,
  ``runs_used``, ``dropped``, one value per registered metric at its ``path`` (schema 1: ``aggregates``
  {median, iqm, mean, optimality_gap: {point, ci}}, ``auc_iqm`` {point, ci}, ``probability_of_improvement``
  {point, ci} or null for the baseline itself, ``final_score_gain`` {mean, per_task},
  ``steps_to_baseline_final`` {per_task, mean_where_reached, reached, tasks}), ``per_task`` (task →
  {final_return_mean, final_return_std (ddof 0: the spread over seeds), normalised_mean,
  auc_normalised_mean, runs, permutation_test}), ``rests_on`` {tasks, runs_per_task, scores}, ``iqm_window``
  (task → runs inside the IQM's middle 50%), ``degenerate_intervals`` (names of metrics whose CI has zero
  width)}. ``permutation_test`` compares the method's final returns on the task with its baseline's
  (:mod:`hyperbench.bench.permutation`): {versus, difference, difference_normalised, p_value (two-sided),
  exact, relabellings, seed, n_x, n_y, cohens_d, min_p_value}; null for the baseline itself;
- ``statistics`` {std_ddof, few_runs, few_tasks, permutation_test {...settings}}: the conventions above;
- ``ood``: for tasks with out-of-distribution test tasks (records with ``final.ood``), task → method →
  {runs, test {mean, std}, ood_test {mean, std}, ood_minus_test, versus, permutation_test (the method's
  out-of-distribution final returns against its baseline's; null for the baseline)}; raw returns, std ddof 0
  over seeds; ``{}`` when no task has such a split;
- ``profiles``, ``sample_efficiency``, ``failures``, ``missing``, ``compute``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hyperbench.bench.files import atomic_write_json, atomic_write_text
from hyperbench.bench.metrics import Metric, metrics
from hyperbench.bench.record import RunRecord, load_records
from hyperbench.bench.stats import build_scores, default_reference, normalise

__all__ = ["REPORT_SCHEMA_VERSION", "ReportResult", "SuiteInfo", "make_report"]

#: Version of the ``scores.json`` layout.
REPORT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class SuiteInfo:
    """The parts of a suite a report needs (read from ``suite.json``, no method registry involved)."""

    name: str
    version: int
    hash: str
    baseline: str
    methods: dict[str, list[str]]
    """method label → its tasks, in suite order"""
    method_ids: dict[str, str]
    seeds: list[int]
    tasks: list[str]
    references: dict[str, tuple[float, float]]
    """task → (random, reference) given in the suite"""
    env_kwargs: dict[str, dict[str, Any]]
    """task → its ``env_kwargs`` (family options)"""
    baselines: dict[str, str]
    """method → the method it is compared with"""
    description: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SuiteInfo:
        """Build from the runner's ``suite.json``.

        :param data: decoded ``suite.json``
        """
        tasks = [t["name"] for t in data["tasks"]]
        return cls(
            name=data["name"],
            version=int(data["version"]),
            hash=str(data.get("hash", "")),
            baseline=data["baseline"],
            methods={m["name"]: list(m["tasks"]) if m.get("tasks") else list(tasks) for m in data["methods"]},
            method_ids={m["name"]: m.get("method", m["name"]) for m in data["methods"]},
            seeds=[int(s) for s in data["seeds"]],
            tasks=tasks,
            references={
                t["name"]: (float(t["reference"][0]), float(t["reference"][1])) for t in data["tasks"] if t.get("reference")
            },
            env_kwargs={t["name"]: dict(t.get("env_kwargs") or {}) for t in data["tasks"]},
            baselines={m["name"]: m.get("baseline") or data["baseline"] for m in data["methods"]},
            description=data.get("description", ""),
        )

    @classmethod
    def from_records(cls, records: Sequence[RunRecord], baseline: str | None) -> SuiteInfo:
        """Infer the grid from the records themselves (when ``suite.json`` is missing).

        :param records: the records
        :param baseline: baseline label (required)
        """
        if not records:
            raise ValueError("no run records found")
        methods: dict[str, list[str]] = {}
        for r in records:
            methods.setdefault(r.method, [])
            if r.task not in methods[r.method]:
                methods[r.method].append(r.task)
        if baseline is None or baseline not in methods:
            raise ValueError(f"no suite.json: pass --baseline, one of {', '.join(sorted(methods))}")
        ref = records[0].suite
        return cls(
            name=ref.name,
            version=ref.version,
            hash=ref.hash,
            baseline=baseline,
            methods=methods,
            method_ids={r.method: r.method_id for r in records},
            seeds=sorted({r.seed for r in records}),
            tasks=sorted({r.task for r in records}),
            references={},
            env_kwargs={},
            baselines={m: baseline for m in methods},
        )


@dataclass
class ReportResult:
    """Where a report was written."""

    directory: Path
    markdown: Path
    scores: Path
    plots: dict[str, Path]


def _fmt(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _fmt_ci(entry: Mapping[str, Any] | None, digits: int = 2) -> str:
    if not entry or entry.get("point") is None:
        return "–"
    lo, hi = entry["ci"]
    return f"{entry['point']:.{digits}f} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


#: A baseline whose normalised final score is below this is "near random" (the gain's denominator is small).
NEAR_RANDOM = 0.1


def _baselines_near_random(methods: Mapping[str, Any]) -> list[str]:
    """``baseline on task`` for every baseline whose mean normalised final score is below :data:`NEAR_RANDOM`."""
    out: list[str] = []
    for base in dict.fromkeys(e["baseline"] for e in methods.values()):
        for task, pt in (methods.get(base, {}).get("per_task") or {}).items():
            if pt and pt.get("normalised_mean") is not None and pt["normalised_mean"] < NEAR_RANDOM:
                out.append(f"`{base}` on `{task}` ({pt['normalised_mean']:.2f})")
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.0f}%"


def make_report(
    runs_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    reps: int = 2000,
    seed: int = 0,
    failed_as: str = "exclude",
    baseline: str | None = None,
    reference: Callable[[str], tuple[float, float] | None] | None = None,
    zero_action: Callable[[str], tuple[float | None, str]] | None = None,
    plots: bool = True,
) -> ReportResult:
    """Compute the statistics of a runs directory and write the report.

    ``scores.json``'s layout is described in the module docstring.

    :param runs_dir: the suite's runs directory (``records/`` and ``suite.json``)
    :param out_dir: where to write (default ``RUNS_DIR/report``)
    :param reps: bootstrap replications
    :param seed: bootstrap seed (same seed, same CIs)
    :param failed_as: ``"exclude"`` failed runs from the matrices, or score them as the ``"random"`` policy
    :param baseline: override the suite's baseline
    :param reference: task → (random, reference) returns; default: ``hyperbench.envs.reference``, then the
        suite's own ``reference`` entries
    :param zero_action: task → (zero-action return or ``None``, how it was measured or why it is blank);
        default: ``hyperbench.envs.reference``
    :param plots: draw the PNGs
    :return: paths of what was written
    :raises RecordError: if a record is corrupt (naming the file)
    """
    runs_dir = Path(runs_dir)
    out = Path(out_dir) if out_dir is not None else runs_dir / "report"
    records = load_records(runs_dir)
    suite_file = runs_dir / "suite.json"
    if suite_file.exists():
        info = SuiteInfo.from_json(json.loads(suite_file.read_text(encoding="utf-8")))
        if baseline is not None:
            if baseline not in info.methods:
                raise ValueError(f"baseline {baseline!r} is not a method of the suite: {', '.join(info.methods)}")
            info = SuiteInfo(**{**info.__dict__, "baseline": baseline, "baselines": dict.fromkeys(info.methods, baseline)})
    else:
        info = SuiteInfo.from_records(records, baseline)
    in_grid = {(m, t, s) for m, ts in info.methods.items() for t in ts for s in info.seeds}
    records = [r for r in records if (r.method, r.task, r.seed) in in_grid]

    lookup = reference or default_reference
    refs: dict[str, tuple[float, float] | None] = {}
    sources: dict[str, str] = {}
    for task in info.tasks:
        value = lookup(_reference_name(task, info.env_kwargs.get(task, {})))
        sources[task] = "hyperbench.envs.reference" if value is not None else ""
        if value is None and task in info.references:
            value, sources[task] = info.references[task], "suite file"
        refs[task] = value

    scores, data, plot_data = build_scores(
        records,
        info.methods,
        info.seeds,
        info.baseline,
        refs,
        reps=reps,
        seed=seed,
        failed_as=failed_as,
        baselines=info.baselines,
    )
    n_ok = sum(r.ok for r in records)
    grid = {"expected": len(in_grid), "ok": n_ok, "failed": len(records) - n_ok, "missing": len(in_grid) - len(records)}
    zero_lookup = zero_action or default_zero_action
    for task, norm in scores["normalisation"].items():
        norm["source"] = sources.get(task) or None
        zero, protocol = zero_lookup(_reference_name(task, info.env_kwargs.get(task, {})))
        norm["zero_action"] = zero
        norm["zero_action_normalised"] = (
            float(normalise(zero, norm["random"], norm["reference"])) if zero is not None and norm["normalised"] else None
        )
        norm["zero_action_protocol"] = protocol
    scores = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "suite": {"name": info.name, "version": info.version, "hash": info.hash},
        "grid": grid,
        **scores,
        "ood": _ood_scores(records, info),
    }
    out.mkdir(parents=True, exist_ok=True)
    plot_paths = _safe_plots(data, plot_data, out, info.baseline) if plots else {}
    atomic_write_json(out / "scores.json", scores)
    atomic_write_text(out / "report.md", _markdown(info, scores, records, plot_paths, out))
    return ReportResult(directory=out, markdown=out / "report.md", scores=out / "scores.json", plots=plot_paths)


def default_zero_action(task: str) -> tuple[float | None, str]:
    """Zero-action return of a task from ``hyperbench.envs.reference`` and how it was measured.

    :param task: task name in the reference table
    :return: ``(return or None, protocol or why it is blank)``
    """
    from hyperbench.envs.reference import zero_action_score

    try:
        return zero_action_score(task)
    except KeyError:
        return None, "not in hyperbench.envs.reference"


def _reference_name(task: str, env_kwargs: Mapping[str, Any]) -> str:
    from hyperbench.bench.tasks import UnknownTaskError, resolve_task

    try:
        return resolve_task(task, env_kwargs).reference_name
    except UnknownTaskError:  # e.g. a plugin's environment that is not registered in this process
        return task


def _metric_cell(metric: Metric, method: str, entry: Mapping[str, Any], in_table: str) -> str:
    """A metric's report cell; a versus-baseline CI metric names the baseline (``(baseline)`` on its own row)."""
    if metric.versus_baseline and metric.ci and method == entry["baseline"]:
        return "(baseline)"
    text = metric.cell(entry)
    if metric.versus_baseline and in_table == "aggregate" and text != "–":
        text += f" vs `{entry['baseline']}`"
    return text


def _own_baselines(info: SuiteInfo) -> str:
    other = {m: b for m, b in info.baselines.items() if b != info.baseline and m != b}
    if not other:
        return ""
    groups: dict[str, list[str]] = {}
    for m, b in other.items():
        groups.setdefault(b, []).append(m)
    return " (" + "; ".join(f"`{b}` for " + ", ".join(f"`{m}`" for m in ms) for b, ms in groups.items()) + ")"


def _safe_plots(data: Any, plot_data: Any, out: Path, baseline: str) -> dict[str, Path]:
    from hyperbench.bench.plots import plot_all

    return plot_all(data, plot_data, out, baseline)


#: A task whose zero-action policy reaches this normalised score is flagged as easy.
EASY_ZERO_ACTION = 0.5


def _rests_on(methods: Mapping[str, Any]) -> str:
    shapes = Counter((e["rests_on"]["tasks"], e["rests_on"]["runs_per_task"]) for e in methods.values() if e.get("rests_on"))
    parts = [
        f"{t} task{'s' if t != 1 else ''} × {n} run{'s' if n != 1 else ''} = {t * n} scores"
        + ("" if len(shapes) == 1 else f" ({c} method{'s' if c != 1 else ''})")
        for (t, n), c in shapes.items()
    ]
    return "; ".join(parts) or "no runs"


def _easy_tasks(scores: Mapping[str, Any]) -> list[str]:
    """Tasks where doing nothing scores high, or as well as some method's mean final return."""
    out = []
    for task, norm in scores["normalisation"].items():
        zero = norm.get("zero_action")
        if zero is None:
            continue
        beaten = [
            m
            for m, e in scores["methods"].items()
            if (e["per_task"].get(task) or {}).get("final_return_mean") is not None
            and e["per_task"][task]["final_return_mean"] <= zero
        ]
        zn = norm.get("zero_action_normalised")
        if (zn is not None and zn >= EASY_ZERO_ACTION) or beaten:
            what = f"doing nothing scores {zero:.1f}" + (f" (normalised {zn:.2f})" if zn is not None else "")
            if beaten:
                what += "; at or below it: " + ", ".join(f"`{m}`" for m in beaten)
            out.append(f"`{task}`: {what}")
    return out


def _caveats(scores: Mapping[str, Any]) -> list[str]:
    """The "what these numbers can say" bullets."""
    methods = scores["methods"]
    stats = scores["statistics"]
    out = [f"Every aggregate rests on {_rests_on(methods)} per method; every bootstrap CI is a 95% percentile interval."]
    n_tasks = max((e["rests_on"]["tasks"] for e in methods.values()), default=0)
    if 0 < n_tasks < stats["few_tasks"]:
        out.append(
            f"Few tasks ({n_tasks} < {stats['few_tasks']}): an aggregate over tasks mixes a few very different score "
            "scales, so it mostly reflects the task mix (the IQM window table below shows which tasks' runs the IQM "
            "averages). The per-task results and tests come first; read the aggregates after them."
        )
    runs = [e["rests_on"]["runs_per_task"] for e in methods.values() if e["rests_on"]["runs_per_task"] > 0]
    if runs and min(runs) < stats["few_runs"]:
        out.append(
            f"Few runs ({min(runs)}{'' if min(runs) == max(runs) else f'–{max(runs)}'} per task, < {stats['few_runs']}): "
            "percentile-bootstrap intervals under-cover (their real coverage is below the nominal 95%, the more so the "
            "fewer the runs). Each method is therefore also compared with its baseline on every task by an exact "
            "permutation test, which needs no large-sample assumption."
        )
    degenerate = [(m, name) for m, e in methods.items() for name in e.get("degenerate_intervals") or []]
    if degenerate:
        listed = ", ".join(f"`{m}` {_metric_title(name)}" for m, name in degenerate)
        out.append(
            f"⚠ Zero-width intervals: {listed}. Every bootstrap resample gave the same value (for P(> baseline): every "
            "run of the method beat, or lost to, every run of the baseline). With this few runs that is a property of "
            "the sample, not certainty: read the permutation test of each task instead."
        )
    easy = _easy_tasks(scores)
    if easy:
        out.append(
            f"⚠ Doing nothing is a strong baseline (a zero-action policy scores ≥ {EASY_ZERO_ACTION} normalised, or as "
            "well as some method) on: " + "; ".join(easy) + "."
        )
    out.append(
        f"Standard deviations (±) are over seeds with ddof = {stats['std_ddof']}; the bands of the learning-curve plot "
        "are standard errors with ddof = 1."
    )
    return out


def _metric_title(name: str) -> str:
    from hyperbench.bench.metrics import get_metric

    try:
        return get_metric(name).title
    except KeyError:
        return name


def _per_task_section(scores: Mapping[str, Any]) -> list[str]:
    methods = scores["methods"]
    lines = [
        "## Per task",
        "",
        f"Final evaluation return, mean ± std (ddof = {scores['statistics']['std_ddof']}) over seeds (raw), then "
        "normalised mean, gain over the baseline and fraction of the budget needed to reach the baseline's final "
        "return. The second column gives the task's random, zero-action (do-nothing) and reference returns.",
        "",
        "| task | random / zero-action / reference | " + " | ".join(f"`{m}`" for m in methods) + " |",
        "| --- | --- |" + " --- |" * len(methods),
    ]
    for task in scores["tasks"]:
        norm = scores["normalisation"][task]
        zero, zn = norm.get("zero_action"), norm.get("zero_action_normalised")
        anchors = (
            f"{_fmt(norm['random'], 1)} / {_fmt(zero, 1)}"
            + (f" (norm {zn:.2f})" if zn is not None else "")
            + f" / {_fmt(norm['reference'], 1)}"
        )
        cells = []
        for m, e in methods.items():
            pt = e["per_task"].get(task)
            if not pt or pt["final_return_mean"] is None:
                cells.append("–")
                continue
            gain = (e.get("final_score_gain") or {}).get("per_task", {}).get(task)
            frac = (e.get("steps_to_baseline_final") or {}).get("per_task", {}).get(task)
            cell = f"{pt['final_return_mean']:.1f} ± {pt['final_return_std']:.1f}<br>norm {_fmt(pt['normalised_mean'])}"
            if m != e["baseline"]:
                cell += f"<br>gain {_pct(gain)}, steps {_fmt(frac) if frac is not None else 'not reached'}"
            cells.append(cell + f" (n={pt['runs']})")
        lines.append(f"| `{task}` | {anchors} | " + " | ".join(cells) + " |")
    lines.append("")
    tests = [
        (m, task, pt["permutation_test"])
        for m, e in methods.items()
        for task, pt in e["per_task"].items()
        if pt and pt.get("permutation_test")
    ]
    if tests:
        settings = scores["statistics"]["permutation_test"]
        lines += [
            "### Each method against its baseline, task by task (permutation test)",
            "",
            "Two-sided permutation test of the difference in mean final return (method − baseline), seeds as units: "
            "p = fraction of relabellings of the pooled runs whose |difference| is at least the observed one "
            f"(all relabellings when there are at most {settings['max_exact']:,}, else "
            f"{settings['monte_carlo_resamples']:,} seeded random ones). Effect size: Cohen's d (pooled standard "
            f"deviation, ddof = 1). The {len(tests)} p-values are not corrected for multiple comparisons.",
            "",
        ]
        floored = [t["min_p_value"] for _, _, t in tests if (t.get("min_p_value") or 0.0) > 0.05]
        if floored:
            lines += [
                f"⚠ For {len(floored)} of the {len(tests)} comparisons the smallest attainable p-value is above 0.05 (up to "
                f"{max(floored):.3f}; with 3 vs 3 runs it is 2 / 20 = 0.100): those can never reach p < 0.05, whatever "
                "the methods do. More seeds, not another test, would resolve them.",
                "",
            ]
        lines += [
            "| method | baseline | task | Δ return | Δ normalised | Cohen's d | p (two-sided) | relabellings |",
            "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
        ]
        for m, task, t in tests:
            how = f"all {t['relabellings']:,} (exact)" if t["exact"] else f"{t['relabellings']:,} random (seed {t['seed']})"
            if t.get("min_p_value") is not None:
                how += f"; min p {t['min_p_value']:.3f}"
            d = "–" if t["cohens_d"] is None else f"{t['cohens_d']:+.2f}"
            lines.append(
                f"| `{m}` | `{t['versus']}` | `{task}` | {t['difference']:+.1f} | "
                f"{'–' if t['difference_normalised'] is None else format(t['difference_normalised'], '+.3f')} | {d} | "
                f"{t['p_value']:.3f} | {how}, n = {t['n_x']} vs {t['n_y']} |"
            )
        lines.append("")
    return lines


def _aggregate_section(scores: Mapping[str, Any]) -> list[str]:
    methods = scores["methods"]
    table = metrics(table="aggregate")
    lines = [
        f"## Aggregate normalised final scores ({_rests_on(methods)} per method)",
        "",
        "Normalised score = (return − random) / (reference − random), final evaluation of each run; 95% "
        "stratified-bootstrap CIs (rliable). "
        + " ".join(f"{m.title}: {m.description}{' (lower is better)' if m.lower_is_better else ''}." for m in table),
        "",
        "| method | tasks × runs | " + " | ".join(m.header for m in table) + " |",
        "| --- | ---: |" + " --- |" * len(table),
    ]
    for m, e in methods.items():
        lines.append(
            f"| `{m}` | {len(e['tasks'])} × {len(e['seeds_used'])} | "
            + " | ".join(_metric_cell(metric, m, e, "aggregate") for metric in table)
            + " |"
        )
    if len({len(e["tasks"]) for e in methods.values()}) > 1:
        lines += [
            "",
            "Methods restricted to a subset of tasks are aggregated over their own tasks; compare their rows "
            "with care, and use the per-task table.",
        ]
    lines.append("")
    n_tasks = max((len(e["tasks"]) for e in methods.values()), default=0)
    if 0 < n_tasks < scores["statistics"]["few_tasks"]:
        lines += [
            "Runs of each task inside the IQM's middle 50% (the runs the IQM averages):",
            "",
            "| method | " + " | ".join(f"`{t}`" for t in scores["tasks"]) + " |",
            "| --- |" + " ---: |" * len(scores["tasks"]),
        ]
        for m, e in methods.items():
            window = e.get("iqm_window") or {}
            lines.append(f"| `{m}` | " + " | ".join(str(window[t]) if t in window else "–" for t in scores["tasks"]) + " |")
        lines.append("")
    return lines


def _baseline_section(scores: Mapping[str, Any]) -> list[str]:
    methods = scores["methods"]
    table = metrics(table="baseline")
    if not table:
        return []
    lines = [
        "## The papers' measures (against each method's baseline)",
        "",
        " ".join(f"{m.title}: {m.description}." for m in table)
        + " Sarafian et al. report +10% to +70% final-score gain for SA-Hyper over MLP at 1M steps, reached in 20%–70% "
        "of the steps; the steps' resolution is one evaluation period.",
        "",
        "| method | baseline | " + " | ".join(m.header for m in table) + " |",
        "| --- | --- |" + " ---: |" * len(table),
    ]
    for m, e in methods.items():
        lines.append(
            f"| `{m}` | `{e['baseline']}` | " + " | ".join(_metric_cell(metric, m, e, "baseline") for metric in table) + " |"
        )
    lines.append("")
    near_random = _baselines_near_random(methods)
    if near_random:
        lines += [
            f"⚠ The gain divides by the baseline's improvement over random, which is under "
            f"{NEAR_RANDOM:.0%} of the random-to-reference range on: {', '.join(near_random)}. There a small "
            "difference in return is a large gain or loss; read those tasks' returns in the per-task table.",
            "",
        ]
    return lines


def _ood_scores(records: Sequence[RunRecord], info: SuiteInfo) -> dict[str, Any]:
    """In-distribution and out-of-distribution final returns per task and method (``scores.json["ood"]``)."""
    import numpy as np

    from hyperbench.bench.permutation import permutation_test

    finals: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for r in records:
        if r.ok and r.final is not None and r.final.ood is not None and r.method in info.methods and r.seed in info.seeds:
            finals.setdefault(r.task, {}).setdefault(r.method, []).append((r.final.return_mean, r.final.ood.return_mean))
    out: dict[str, Any] = {}
    for task in [t for t in info.tasks if t in finals]:
        by_method = finals[task]
        out[task] = {}
        for method in [m for m in info.methods if m in by_method]:
            test, ood = np.asarray(by_method[method]).T
            versus = info.baselines.get(method, info.baseline)
            test_result = None
            if versus != method and versus in by_method:
                res = permutation_test(ood, np.asarray(by_method[versus])[:, 1], seed=0)
                test_result = {"difference": res.difference, "p_value": res.p_value, "exact": res.exact}
            out[task][method] = {
                "runs": int(test.size),
                "test": {"mean": float(test.mean()), "std": float(test.std())},
                "ood_test": {"mean": float(ood.mean()), "std": float(ood.std())},
                "ood_minus_test": float((ood - test).mean()),
                "versus": versus if test_result is not None else None,
                "permutation_test": test_result,
            }
    return out


def _ood_section(scores: Mapping[str, Any]) -> list[str]:
    ood = scores.get("ood") or {}
    if not ood:
        return []
    lines = [
        "## Out-of-distribution test tasks",
        "",
        "Final returns (raw, mean ± std over seeds, ddof 0) on the held-out test tasks of the training distribution "
        "(the headline above) and on the family's out-of-distribution test tasks, evaluated at the end of each run "
        "with the same protocol; the last column compares the out-of-distribution returns with the baseline's "
        "(difference of means, two-sided permutation test).",
        "",
        "| task | method | runs | in-distribution test | out-of-distribution test | OOD − in-distribution | OOD vs baseline |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for task, by_method in ood.items():
        for method, e in by_method.items():
            pt = e["permutation_test"]
            versus = "—" if pt is None else f"{pt['difference']:+.2f} vs `{e['versus']}`, p {pt['p_value']:.3f}"
            lines.append(
                f"| `{task}` | `{method}` | {e['runs']} | {e['test']['mean']:.2f} ± {e['test']['std']:.2f} | "
                f"{e['ood_test']['mean']:.2f} ± {e['ood_test']['std']:.2f} | {e['ood_minus_test']:+.2f} | {versus} |"
            )
    return [*lines, ""]


def _headlines(records: Sequence[RunRecord]) -> dict[str, str]:
    """Method → its headline declaration, from records that carry one (schema 2)."""
    out: dict[str, str] = {}
    for rec in records:
        episodes = None if rec.final is None else rec.final.episodes
        if not episodes or rec.method in out:
            continue
        head = episodes.get("headline") or {}
        phases = ", ".join(f"`{p}`" for p in head.get("phases") or []) or "every phase"
        unit = "each episode" if head.get("per", "episode") == "episode" else "the summed return of each meta-episode"
        description = head.get("description") or ""
        out[rec.method] = f"{unit} of {phases}" + (f" ({description})" if description else "")
    return out


def _markdown(
    info: SuiteInfo, scores: Mapping[str, Any], records: Sequence[RunRecord], plots: Mapping[str, Path], out: Path
) -> str:
    g = scores["grid"]
    b = scores["bootstrap"]
    methods = scores["methods"]
    lines: list[str] = []
    add = lines.append
    add(f"# Suite `{info.name}` v{info.version}: report")
    add("")
    if info.description:
        add(info.description)
        add("")
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    add(f"- suite hash `{info.hash}`; generated {now} from the run records by `hyperbench report`")
    full_grid = len(info.methods) * len(info.tasks) * len(info.seeds)
    restricted = "" if g["expected"] == full_grid else ", some methods on some tasks only"
    add(
        f"- runs: **{g['ok']} ok**, **{g['failed']} failed**, **{g['missing']} missing** of {g['expected']} "
        f"({len(info.methods)} methods × {len(info.tasks)} tasks × {len(info.seeds)} seeds{restricted})"
    )
    comp = scores["compute"]
    add(f"- compute: {comp['cpu_h']:.2f} CPU-hours, {comp['wall_h']:.2f} run-hours (sum of per-run wall time)")
    add(
        f"- baseline: `{info.baseline}`{_own_baselines(info)}; bootstrap: {b['reps']} replications, "
        f"seed {b['seed']}, 95% CIs; "
        f"failed runs: {'excluded from the score matrices' if b['failed_as'] == 'exclude' else 'scored as the random policy'}"
    )
    for m, text in _headlines(records).items():
        add(f"- `{m}` is scored on its declared headline: {text} (its records keep every episode)")
    add("")
    if scores["failures"]:
        add(f"## ⚠ Failed runs ({len(scores['failures'])})")
        add("")
        add("| run | at step | reason |")
        add("| --- | ---: | --- |")
        for f in scores["failures"]:
            add(f"| `{f['run']}` | {f['step']} | {f['reason'].replace('|', '/')} |")
        add("")
    if g["missing"]:
        add(f"## ⚠ Incomplete grid: {g['missing']} run(s) have no record yet")
        add("")
        add(", ".join(f"`{m}`" for m in scores["missing"][:40]) + (" …" if len(scores["missing"]) > 40 else ""))
        add("")
    unnormalised = [t for t, n in scores["normalisation"].items() if not n["normalised"]]
    if unnormalised:
        add(
            f"> ⚠ No reference scores for {', '.join(f'`{t}`' for t in unnormalised)}: those tasks enter the "
            "aggregates as raw returns, so aggregates mix scales. Add them to `hyperbench.envs.reference` or give "
            "`reference: [random, reference]` in the suite."
        )
        add("")

    add("## What these numbers can say")
    add("")
    lines.extend(f"- {c}" for c in _caveats(scores))
    add("")
    n_tasks = max((len(e["tasks"]) for e in methods.values()), default=0)
    per_task_first = 0 < n_tasks < scores["statistics"]["few_tasks"]
    sections = [_per_task_section(scores), _aggregate_section(scores), _baseline_section(scores)]
    if not per_task_first:
        sections = [sections[1], sections[2], sections[0]]
    for section in sections:
        lines.extend(section)
    lines.extend(_ood_section(scores))

    if plots:
        add("## Plots")
        add("")
        titles = {
            "learning_curves": "Learning curves per task",
            "aggregates": "Aggregate metrics with 95% CIs",
            "sample_efficiency": "IQM sample-efficiency curves",
            "profiles": "Performance profiles",
            "probability_of_improvement": "Probability of improvement over the baseline",
        }
        for key, title in titles.items():
            if key in plots:
                add(f"### {title}")
                add("")
                add(f"![{title}]({os.path.relpath(plots[key], out)})")
                add("")

    add("## Normalisation")
    add("")
    add("| task | random return | zero-action return | zero-action normalised | reference return | source |")
    add("| --- | ---: | ---: | ---: | ---: | --- |")
    for task, n in scores["normalisation"].items():
        add(
            f"| `{task}` | {_fmt(n['random'], 1)} | {_fmt(n.get('zero_action'), 1)} | "
            f"{_fmt(n.get('zero_action_normalised'))} | {_fmt(n['reference'], 1)} | "
            f"{n.get('source') or 'none (raw returns)'} |"
        )
    add("")
    add("Zero-action returns (the do-nothing policy), as measured:")
    add("")
    for task, n in scores["normalisation"].items():
        add(f"- `{task}`: {n.get('zero_action_protocol') or 'not measured'}")
    add("")
    add("Returns come from Gymnasium's v5 MuJoCo environments; they do not match mujoco-py-era (v2) figures exactly.")
    add("")

    dropped = [d for e in methods.values() for d in e["dropped"]]
    if dropped:
        add("## Runs left out of the score matrices")
        add("")
        add("A seed enters a method's matrix only with a usable record on every one of the method's tasks.")
        add("")
        for d in dropped[:60]:
            add(f"- {d}")
        add("")

    add("## Provenance")
    add("")
    commits = Counter(str((r.provenance.get("git") or {}).get("commit")) for r in records)
    versions = Counter(str(r.provenance.get("hyperbench")) for r in records)
    hosts = Counter(str(r.provenance.get("hostname")) for r in records)
    add(f"- hyperbench versions: {', '.join(f'{k} ({v} runs)' for k, v in versions.items()) or '–'}")
    add(f"- git commits: {', '.join(f'`{k[:12]}` ({v} runs)' for k, v in commits.items()) or '–'}")
    add(f"- hosts: {', '.join(f'{k} ({v} runs)' for k, v in hosts.items()) or '–'}")
    if records:
        pk = records[0].provenance.get("packages", {})
        add("- packages (first record): " + ", ".join(f"{k} {v}" for k, v in pk.items() if v))
    resumed = [r for r in records if r.timing.resumed_from]
    if resumed:
        add(f"- {len(resumed)} run(s) resumed from a checkpoint after an interruption")
    add("")
    return "\n".join(lines)
