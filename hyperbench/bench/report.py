"""``hyperbench report RUNS_DIR``: records → ``report.md``, ``scores.json`` and PNG plots.

Everything is recomputed from the run records (and the suite description the runner stored next to them
in ``suite.json``); nothing is taken from an earlier report. ``scores.json`` carries every number of
``report.md`` (schema documented in :func:`make_report`).
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
from hyperbench.bench.record import RunRecord, load_records
from hyperbench.bench.stats import build_scores, default_reference

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
    plots: bool = True,
) -> ReportResult:
    """Compute the statistics of a runs directory and write the report.

    ``scores.json`` (``schema_version`` 1): ``suite`` (name, version, hash), ``grid`` (expected, ok,
    failed, missing), ``baseline``, ``bootstrap`` (reps, seed, confidence, failed_as), ``tasks``,
    ``normalisation`` (task → random, reference, normalised), ``methods`` (label → ``tasks``,
    ``seeds_used``, ``dropped``, ``aggregates`` {median, iqm, mean, optimality_gap: {point, ci}},
    ``auc_iqm``, ``probability_of_improvement`` (over the baseline), ``final_score_gain`` {mean, per_task},
    ``steps_to_baseline_final`` {per_task, mean_where_reached, reached, tasks}, ``per_task`` {task →
    final_return_mean, final_return_std, normalised_mean, auc_normalised_mean, runs}), ``profiles``,
    ``sample_efficiency``, ``failures``, ``missing``, ``compute``.

    :param runs_dir: the suite's runs directory (``records/`` and ``suite.json``)
    :param out_dir: where to write (default ``RUNS_DIR/report``)
    :param reps: bootstrap replications
    :param seed: bootstrap seed (same seed, same CIs)
    :param failed_as: ``"exclude"`` failed runs from the matrices, or score them as the ``"random"`` policy
    :param baseline: override the suite's baseline
    :param reference: task → (random, reference) returns; default: ``hyperbench.envs.reference``, then the
        suite's own ``reference`` entries
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
    for task, norm in scores["normalisation"].items():
        norm["source"] = sources.get(task) or None
    scores = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "suite": {"name": info.name, "version": info.version, "hash": info.hash},
        "grid": grid,
        **scores,
    }
    out.mkdir(parents=True, exist_ok=True)
    plot_paths = _safe_plots(data, plot_data, out, info.baseline) if plots else {}
    atomic_write_json(out / "scores.json", scores)
    atomic_write_text(out / "report.md", _markdown(info, scores, records, plot_paths, out))
    return ReportResult(directory=out, markdown=out / "report.md", scores=out / "scores.json", plots=plot_paths)


def _reference_name(task: str, env_kwargs: Mapping[str, Any]) -> str:
    from hyperbench.bench.tasks import UnknownTaskError, resolve_task

    try:
        return resolve_task(task, env_kwargs).reference_name
    except UnknownTaskError:  # e.g. a plugin's environment that is not registered in this process
        return task


def _poi_cell(method: str, entry: Mapping[str, Any]) -> str:
    if method == entry["baseline"]:
        return "(baseline)"
    return f"{_fmt_ci(entry['probability_of_improvement'])} vs `{entry['baseline']}`"


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

    add("## Aggregate normalised final scores")
    add("")
    add(
        "Normalised score = (return − random) / (reference − random), final evaluation of each run. "
        "IQM, mean, median and optimality gap (γ = 1) with 95% stratified-bootstrap CIs (rliable); AUC = mean "
        "normalised score over the learning curve (IQM over runs); P(> baseline) = probability that a run of "
        "the method beats a run of the baseline on the same task (Mann–Whitney, averaged over tasks)."
    )
    add("")
    add("| method | tasks × runs | IQM | mean | median | optimality gap ↓ | AUC (IQM) | P(> baseline) |")
    add("| --- | ---: | --- | --- | --- | --- | --- | --- |")
    for m, e in methods.items():
        a = e["aggregates"]
        add(
            f"| `{m}` | {len(e['tasks'])} × {len(e['seeds_used'])} | {_fmt_ci(a.get('iqm'))} | {_fmt_ci(a.get('mean'))} | "
            f"{_fmt_ci(a.get('median'))} | {_fmt_ci(a.get('optimality_gap'))} | {_fmt_ci(e['auc_iqm'])} | "
            f"{_poi_cell(m, e)} |"
        )
    if len({len(e["tasks"]) for e in methods.values()}) > 1:
        add("")
        add(
            "Methods restricted to a subset of tasks are aggregated over their own tasks; compare their rows "
            "with care, and use the per-task table."
        )
    add("")

    add("## The papers' measures (against each method's baseline)")
    add("")
    add(
        "Final-score gain = (mean final return − baseline's) / |baseline's − random return|, averaged over tasks "
        "(Sarafian et al. report +10% to +70% for SA-Hyper over MLP at 1M steps). Steps to the baseline's final "
        "score = first evaluation at which the method's mean curve reaches the baseline's mean final return, as a "
        "fraction of the budget (paper: 20%–70%); resolution is one evaluation period."
    )
    add("")
    add("| method | baseline | final-score gain | steps to baseline final (mean where reached) | reached on |")
    add("| --- | --- | ---: | ---: | ---: |")
    for m, e in methods.items():
        gain, st = e["final_score_gain"], e["steps_to_baseline_final"]
        reached = f"{st['reached']}/{st['tasks']} tasks" if st else "–"
        gain_cell = _pct(gain["mean"]) if gain else "–"
        steps_cell = _fmt(st["mean_where_reached"]) if st else "–"
        add(f"| `{m}` | `{e['baseline']}` | {gain_cell} | {steps_cell} | {reached} |")
    add("")
    near_random = _baselines_near_random(methods)
    if near_random:
        add(
            f"⚠ The gain divides by the baseline's improvement over random, which is under "
            f"{NEAR_RANDOM:.0%} of the random-to-reference range on: {', '.join(near_random)}. There a small "
            "difference in return is a large gain or loss; read those tasks' returns in the per-task table."
        )
        add("")

    add("## Per task")
    add("")
    header = "| task | " + " | ".join(f"`{m}`" for m in methods) + " |"
    add(
        "Final evaluation return, mean ± std over seeds (raw), then normalised mean, gain over the baseline and "
        "fraction of the budget needed to reach the baseline's final return."
    )
    add("")
    add(header)
    add("| --- |" + " --- |" * len(methods))
    for task in scores["tasks"]:
        cells = []
        for m, e in methods.items():
            pt = e["per_task"].get(task)
            if not pt or pt["final_return_mean"] is None:
                cells.append("–")
                continue
            gain = (e["final_score_gain"] or {}).get("per_task", {}).get(task) if e["final_score_gain"] else None
            frac = (e["steps_to_baseline_final"] or {}).get("per_task", {}).get(task) if e["steps_to_baseline_final"] else None
            cell = f"{pt['final_return_mean']:.1f} ± {pt['final_return_std']:.1f}<br>norm {_fmt(pt['normalised_mean'])}"
            if m != e["baseline"]:
                cell += f"<br>gain {_pct(gain)}, steps {_fmt(frac) if frac is not None else 'not reached'}"
            cells.append(cell + f" (n={pt['runs']})")
        add(f"| `{task}` | " + " | ".join(cells) + " |")
    add("")

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
    add("| task | random return | reference return | source |")
    add("| --- | ---: | ---: | --- |")
    for task, n in scores["normalisation"].items():
        add(f"| `{task}` | {_fmt(n['random'], 1)} | {_fmt(n['reference'], 1)} | {n.get('source') or 'none (raw returns)'} |")
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
