"""Rendering of the board: Markdown (``README.md``) and one self-contained HTML page (``index.html``).

The HTML page has no external resource: CSS and the sorting script are inline, plots are PNG data URIs,
and a Content-Security-Policy forbids loading anything else. Every column sorts on click (vanilla JS,
numbers by their exact value in ``data-value``, missing values last).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hyperbench.leaderboard.build import Entry, method_rows

__all__ = ["COLUMNS", "columns", "render_html", "render_markdown"]

Group = tuple[str, int, bool, list[Entry]]

#: Shown instead of the description of a suite version the board no longer holds: a submitted description is not
#: covered by the suite hash, so the board shows only its own copy.
OLD_VERSION_NOTE = "An older version of the suite; its description is shown only while it is the board's current version."


@dataclass(frozen=True)
class Column:
    """A column of the board's tables."""

    key: str
    title: str
    kind: str
    """``number`` or ``text`` (how the page sorts it)"""
    tip: str
    lower_better: bool = False
    """the page sorts it ascending first"""
    versus_baseline: bool = False
    """its text ends with `` vs <baseline>``"""


_HEAD: tuple[Column, ...] = (
    Column("method", "Method", "text", "method label in the suite"),
    Column("submitter", "Submitter", "text", "who submitted the runs"),
    Column("date", "Date", "text", "date of the submission (UTC)"),
)
_TAIL: tuple[Column, ...] = (
    Column("rests_on", "Tasks × runs", "number", "what each aggregate rests on: tasks × runs (seeds) per task"),
    Column("runs", "Runs ok / failed", "number", "runs with a usable record / failed runs (failed runs are excluded)"),
    Column(
        "compute", "Compute (CPU)", "number", "CPU time of the method's runs, as recorded by the runner", lower_better=True
    ),
    Column("verified", "Verified", "text", "re-evaluation of submitted checkpoints on fresh evaluation seeds"),
    Column("raw", "Submission", "text", "the raw submission file"),
)


def columns() -> tuple[Column, ...]:
    """The board's columns: method, submitter, date, one per registered metric shown on the board
    (:mod:`hyperbench.bench.metrics`, ``Metric.board``), then what the aggregates rest on, runs, compute,
    verification and the raw submission."""
    from hyperbench.bench.metrics import metrics

    shown = tuple(
        Column(
            m.name,
            m.header + (" [95% CI]" if m.ci and not m.versus_baseline and m.name == _sort_metric() else ""),
            "number",
            m.description + (" (lower is better)" if m.lower_is_better else "") + (", 95% bootstrap CI" if m.ci else ""),
            lower_better=m.lower_is_better,
            versus_baseline=m.versus_baseline and m.ci,
        )
        for m in metrics()
        if m.board
    )
    return _HEAD + shown + _TAIL


def _sort_metric() -> str | None:
    """The metric rows are ranked by: the first registered board metric (IQM)."""
    from hyperbench.bench.metrics import metrics

    return next((m.name for m in metrics() if m.board), None)


#: The columns at import time (:func:`columns` follows later registrations).
COLUMNS: tuple[Column, ...] = columns()

_WIDE_PLOTS = ("aggregates", "learning_curves")
_PLOT_TITLES = {
    "aggregates": "Aggregate metrics with 95% CIs",
    "sample_efficiency": "IQM sample-efficiency curves",
    "probability_of_improvement": "Probability of improvement over the baseline",
    "profiles": "Performance profiles",
    "learning_curves": "Learning curves per task",
}


def _ci(entry: Mapping[str, Any] | None) -> tuple[str, float | None]:
    if not entry or entry.get("point") is None:
        return "–", None
    lo, hi = entry["ci"]
    lo_s = "–" if lo is None else f"{lo:.2f}"
    hi_s = "–" if hi is None else f"{hi:.2f}"
    return f"{entry['point']:.2f} [{lo_s}, {hi_s}]", float(entry["point"])


def _verified_text(entry: Entry) -> str:
    status = entry.verification_status()
    v = entry.verification
    if v is not None and status in ("verified", "discrepancy"):
        checks = v.get("checks") or []
        agree = sum(bool(c.get("agree")) for c in checks)
        mark = "✓" if status == "verified" else "✗"
        return f"{mark} {status} ({agree}/{len(checks)})"
    return status


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def cpu_time(hours: float) -> str:
    """CPU time for display: hours from one hour up, minutes below.

    :param hours: CPU hours
    """
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{60 * hours:.1f} min" if hours >= 1 / 60 else f"{3600 * hours:.0f} s"


def row_cells(entry: Entry, method: str, scores: Mapping[str, Any], link: str) -> dict[str, tuple[str, float | str | None]]:
    """Display text and sort value of every column for one method of one entry.

    :param entry: the entry
    :param method: method label
    :param scores: the method's ``scores.json`` entry
    :param link: relative link to the raw submission file
    :return: column key → (text, sort value)
    """
    from hyperbench.bench.metrics import metrics

    baseline = scores.get("baseline")
    ok, failed = entry.method_runs(method)
    cpu_h = entry.method_compute(method)["cpu_h"]
    rests = scores.get("rests_on") or {
        "tasks": len(scores.get("tasks") or []),
        "runs_per_task": len(scores.get("seeds_used") or []),
    }
    cells: dict[str, tuple[str, float | str | None]] = {
        "method": (method, method),
        "submitter": (str(entry.doc["submitter"]), str(entry.doc["submitter"]).lower()),
        "date": (str(entry.doc["date"])[:10], str(entry.doc["date"])),
    }
    for metric in metrics():
        if not metric.board:
            continue
        if metric.versus_baseline and metric.ci and method == baseline:
            cells[metric.name] = ("(baseline)", None)
            continue
        text, value = metric.cell(scores), metric.point(scores)
        if metric.versus_baseline and metric.ci and value is not None:
            text += f" vs {baseline}"
        cells[metric.name] = (text, value)
    cells.update(
        {
            "rests_on": (f"{rests['tasks']} × {rests['runs_per_task']}", rests["tasks"] * rests["runs_per_task"]),
            "runs": (f"{ok} / {failed}", ok - failed),
            "compute": (cpu_time(cpu_h), cpu_h),
            "verified": (_verified_text(entry), entry.verification_status()),
            "raw": (entry.id, link),
        }
    )
    return cells


def _group_rows(board_entries: Sequence[Entry]) -> list[tuple[Entry, str, dict[str, tuple[str, float | str | None]]]]:
    from hyperbench.bench.metrics import get_metric

    rows = []
    for entry in board_entries:
        link = f"submissions/{entry.suite.name}/{entry.id}.json"
        for method, scores in method_rows(entry):
            rows.append((entry, method, row_cells(entry, method, scores, link)))
    key = _sort_metric()
    sign = -1.0 if key is None or not get_metric(key).lower_is_better else 1.0

    def order(row: tuple[Entry, str, dict[str, tuple[str, float | str | None]]]) -> tuple[int, float]:
        value = row[2][key][1] if key is not None else None
        return (0, sign * float(value)) if isinstance(value, float) else (1, 0.0)

    rows.sort(key=order)  # best first on the ranking metric (stable: ties keep submission then suite order)
    return rows


def _group_notes(entries: Sequence[Entry]) -> list[str]:
    """What a group's numbers can say: few runs (under-covering intervals), zero-width intervals, easy tasks."""
    from hyperbench.bench.report import EASY_ZERO_ACTION

    notes = []
    few_tasks = int((entries[0].scores.get("statistics") or {}).get("few_tasks", 5))
    n_tasks = len(entries[0].scores.get("tasks") or [])
    if 0 < n_tasks < few_tasks:
        notes.append(
            f"{n_tasks} task(s) (< {few_tasks}): an aggregate over so few tasks mostly reflects the task mix; read each "
            "entry's per-task table first (the Tasks × runs column says what every aggregate rests on)."
        )
    runs = [
        (e.scores["methods"][m].get("rests_on") or {}).get("runs_per_task", len(e.scores["methods"][m]["seeds_used"]))
        for e in entries
        for m, _ in method_rows(e)
    ]
    runs = [n for n in runs if n]
    few_runs = int((entries[0].scores.get("statistics") or {}).get("few_runs", 10))
    if runs and min(runs) < few_runs:
        notes.append(
            f"{min(runs)} run(s) per task (< {few_runs}): the 95% percentile-bootstrap intervals under-cover (their real "
            "coverage is below 95%). Each entry's per-task table gives an exact permutation test of every method against "
            "its baseline (two-sided p, Cohen's d)."
        )
    degenerate = sorted({m for e in entries for _, s in method_rows(e) for m in s.get("degenerate_intervals") or []})
    if degenerate:
        notes.append(
            "⚠ zero-width CI: every bootstrap resample gave the same value; with this few runs that is a property of the "
            "sample, not certainty."
        )
    norm = entries[0].scores.get("normalisation") or {}
    easy = [t for t, n in norm.items() if (n.get("zero_action_normalised") or 0.0) >= EASY_ZERO_ACTION]
    if easy:
        notes.append(
            "Easy task(s), where a zero-action (do-nothing) policy already scores ≥ "
            f"{EASY_ZERO_ACTION} normalised: " + ", ".join(f"`{t}`" for t in easy) + "."
        )
    return notes


def _suite_facts(entry: Entry) -> list[str]:
    s = entry.suite
    ev = s.eval
    facts = [
        f"suite hash `{s.hash}`; baseline `{s.baseline}`",
        f"{_plural(len(s.methods), 'method')} × {_plural(len(s.tasks), 'task')} × {_plural(len(s.seeds), 'seed')}; "
        f"budget {s.budget} steps per run"
        + (" (some tasks set their own); " if any(t.budget is not None for t in s.tasks) else "; ")
        + f"evaluation every {ev.frequency} steps, {_plural(ev.episodes, 'episode')}"
        + (f", first {ev.max_tasks} test tasks" if ev.max_tasks else ""),
        "tasks: " + ", ".join(f"`{t}`" for t in s.task_names),
    ]
    return facts


def _provenance_lines(entry: Entry) -> list[str]:
    p = entry.doc.get("provenance") or {}
    lines = []
    comp = p.get("compute") or {}
    lines.append(
        f"compute: {cpu_time(float(comp.get('cpu_h', 0)))} CPU, {cpu_time(float(comp.get('wall_h', 0)))} of run wall time "
        f"(summed) over {_plural(int(comp.get('runs', 0)), 'run')}"
    )
    lines.append("hyperbench: " + ", ".join(map(str, p.get("hyperbench") or [])))
    commits = [
        f"{str(g.get('commit'))[:12]}{' (dirty)' if g.get('dirty') else ''} ({g.get('runs')} runs)" for g in p.get("git") or []
    ]
    lines.append("git: " + (", ".join(commits) or "–"))
    hw = [
        f"{h.get('machine')}, {h.get('cpu_count')} CPUs, {h.get('platform')} ({h.get('runs')} runs)"
        for h in p.get("hardware") or []
    ]
    lines.append("hardware: " + ("; ".join(hw) or "–"))
    pk = p.get("packages") or {}
    lines.append("packages: " + ", ".join(f"{k} {'/'.join(v)}" for k, v in pk.items() if v))
    return lines


def _per_task_rows(entry: Entry) -> list[tuple[str, list[str]]]:
    """Per task: the task's random / zero-action / reference returns, then each method's cell."""
    out = []
    methods = method_rows(entry)
    for task in entry.scores["tasks"]:
        norm = (entry.scores.get("normalisation") or {}).get(task) or {}
        zero, zn = norm.get("zero_action"), norm.get("zero_action_normalised")
        cells = [
            f"{_num(norm.get('random'))} / {_num(zero)}"
            + ("" if zn is None else f" (norm {zn:.2f})")
            + f" / {_num(norm.get('reference'))}"
        ]
        for _m, e in methods:
            pt = (e.get("per_task") or {}).get(task)
            if not pt or pt.get("final_return_mean") is None:
                cells.append("–")
                continue
            norm_mean = pt.get("normalised_mean")
            cell = (
                f"{pt['final_return_mean']:.1f} ± {pt['final_return_std']:.1f}"
                + ("" if norm_mean is None else f" (norm {norm_mean:.2f})")
                + f", n={pt['runs']}"
            )
            test = pt.get("permutation_test")
            if test:
                d = "" if test.get("cohens_d") is None else f", d {test['cohens_d']:+.2f}"
                cell += f"; vs {test['versus']}: p {test['p_value']:.3f}{d}"
            cells.append(cell)
        out.append((task, cells))
    return out


def _per_task_legend(entry: Entry) -> str:
    ddof = (entry.scores.get("statistics") or {}).get("std_ddof", 0)
    return (
        f"Per task: random / zero-action (do-nothing) / reference return of the task; then each method's final "
        f"evaluation return, mean ± std (ddof = {ddof}) over seeds (raw), normalised mean, number of runs, and the "
        "two-sided exact permutation test of its mean difference with its baseline (p, Cohen's d)."
    )


def _group_title(name: str, version: int, current: bool) -> str:
    return f"{name} v{version}" + ("" if current else " (older version of the suite)")


def _settings_text(settings: Mapping[str, Any]) -> str:
    return (
        "Every number is recomputed from the submitted run records with the code of `hyperbench report` "
        f"({settings['reps']} bootstrap replications, seed {settings['seed']}, 95% stratified-bootstrap CIs): "
        "normalised score = (return − random) / (reference − random) on the final evaluation of each run; "
        "failed runs are excluded, as in the report. A submitted summary is checked against the records on "
        "submission and never shown."
    )


# ----------------------------------------------------------------------------------------------------
# Markdown


def _plain(text: str) -> str:
    """Text this module wrote (numbers, statuses, caveats) as one Markdown table-safe line."""
    return text.replace("|", "\\|").replace("\n", " ")


_MD_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()#+!|~/])")


def _md(text: str) -> str:
    """Untrusted text as one line of inert Markdown: no HTML, no links, images, emphasis, code or table cells.

    Markdown punctuation is backslash-escaped (CommonMark: any ASCII punctuation may be), ``& < > " '``
    become HTML entities, line breaks become spaces, and bare ``www.`` / ``://`` are broken so GitHub does
    not turn them into links.
    """
    text = " ".join(text.split())
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = re.sub(r"(?i)\bwww\.", lambda m: m.group(0)[:-1] + "\\.", text)
    text = re.sub(r"^(\d+)([.)])", r"\1\\\2", text)
    text = re.sub(r"^([-=])", r"\\\1", text)
    return html.escape(text, quote=True)


def render_markdown(groups: Sequence[Group], empty: Sequence[str], settings: Mapping[str, Any]) -> str:
    """The board as Markdown (``leaderboard/README.md``).

    :param groups: from :func:`hyperbench.leaderboard.build.group_entries`
    :param empty: suites of the board without entries
    :param settings: bootstrap settings (``reps``, ``seed``)
    :return: Markdown text
    """
    lines: list[str] = []
    add = lines.append
    add("# hyperbench leaderboard")
    add("")
    add("<!-- generated by `hyperbench leaderboard build`; do not edit by hand -->")
    add("")
    add(_settings_text(settings) + " Plots and sortable tables: open `index.html` (or `hyperbench leaderboard serve`).")
    add("")
    if not groups:
        add("No submissions yet.")
        add("")
    for name, version, current, entries in groups:
        add(f"## {_group_title(name, version, current)}")
        add("")
        if entries[0].suite.description:  # the board's own suite file (build.load_entries), not a submitted one
            add(_md(entries[0].suite.description))
            add("")
        elif not current:
            add(_md(OLD_VERSION_NOTE))
            add("")
        for fact in _suite_facts(entries[0]):
            add(f"- {fact}")
        add("")
        cols = columns()
        add("| " + " | ".join(c.title for c in cols) + " |")
        add("| " + " | ".join("---:" if c.kind == "number" else "---" for c in cols) + " |")
        for _entry, _method, cells in _group_rows(entries):
            values = []
            for c in cols:
                text = cells[c.key][0]
                if c.key == "method":  # suite-validated label: lowercase letters, digits, '.', '-', '_'
                    values.append(f"`{text}`")
                elif c.key == "raw":  # the id is validated the same way
                    values.append(f"[{text}]({cells['raw'][1]})")
                elif c.key == "submitter":  # the only free text of the row
                    values.append(_md(text))
                else:  # numbers and words this module wrote
                    values.append(_plain(text))
            add("| " + " | ".join(values) + " |")
        add("")
        for note in _group_notes(entries):
            add(f"- {_plain(note)}")
        add("")
        for entry in entries:
            add(f"### Entry `{entry.id}` by {_md(str(entry.doc['submitter']))}, {str(entry.doc['date'])[:10]}")
            add("")
            if entry.doc.get("notes"):
                add(_md(str(entry.doc["notes"])))
                add("")
            grid = entry.scores["grid"]
            add(f"- runs: {grid['ok']} ok, {grid['failed']} failed, {grid['missing']} missing of {grid['expected']}")
            for line in _provenance_lines(entry):
                add(f"- {_md(line)}")
            add(f"- verification: {_md(_verified_text(entry))}")
            link = f"submissions/{entry.suite.name}/{entry.id}.json"
            add(f"- raw submission: [{link}]({link})")
            add("")
            methods = [m for m, _ in method_rows(entry)]
            add(_per_task_legend(entry))
            add("")
            add("| task | random / zero-action / reference | " + " | ".join(f"`{m}`" for m in methods) + " |")
            add("| --- | --- |" + " --- |" * len(methods))
            for task, task_cells in _per_task_rows(entry):
                add(f"| `{task}` | " + " | ".join(_plain(c) for c in task_cells) + " |")
            add("")
    if empty:
        add("## Suites without entries")
        add("")
        add(
            ", ".join(f"`{n}`" for n in empty) + ": run one (`hyperbench run SUITE --save-policies`) and submit it "
            "(`hyperbench submit runs/SUITE --name NAME`)."
        )
        add("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# HTML

_CSS = """
:root { --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #2457c5; --bg: #ffffff; --zebra: #f6f8fb; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg);
       margin: 0 auto; padding: 1.5rem; max-width: 1500px; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .4rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
p.lead, .facts { color: var(--muted); }
.facts { margin: .2rem 0 .8rem; padding-left: 1.2rem; }
code { font: 0.92em ui-monospace, SFMono-Regular, Menlo, monospace; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.88rem; }
th, td { padding: .35rem .45rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
td { white-space: nowrap; }
td[data-key="submitter"] { white-space: normal; min-width: 7em; }
td.num, th.num { text-align: right; }
td small { color: var(--muted); }
tbody tr:nth-child(even) { background: var(--zebra); }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; color: var(--fg); }
th button::after { content: " ↕"; color: var(--muted); font-weight: 400; }
th[aria-sort="ascending"] button::after { content: " ▲"; color: var(--accent); }
th[aria-sort="descending"] button::after { content: " ▼"; color: var(--accent); }
a { color: var(--accent); }
.status-verified { color: #17803d; font-weight: 600; }
.status-discrepancy { color: #b42318; font-weight: 600; }
details { margin: .8rem 0; border: 1px solid var(--line); border-radius: 6px; padding: .5rem .8rem; }
summary { cursor: pointer; font-weight: 600; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; margin-top: .6rem; }
figure.wide { grid-column: 1 / -1; }
figure { margin: 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: .85rem; }
"""

_JS = """
(function () {
  "use strict";
  function sortKey(cell, kind) {
    var v = cell.getAttribute("data-value");
    if (v === null || v === "") { return null; }
    if (kind === "number") { var x = parseFloat(v); return isNaN(x) ? null : x; }
    return v.toLowerCase();
  }
  function sortTable(table, col, kind, dir) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.forEach(function (r, i) { r._pos = i; });
    rows.sort(function (a, b) {
      var x = sortKey(a.cells[col], kind), y = sortKey(b.cells[col], kind);
      if (x === null && y === null) { return a._pos - b._pos; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var c = x < y ? -1 : (x > y ? 1 : 0);
      if (dir === "descending") { c = -c; }
      return c !== 0 ? c : a._pos - b._pos;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.board"), function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var kind = th.getAttribute("data-kind");
        var now = th.getAttribute("aria-sort");
        var dir = now === "descending" ? "ascending" : (now === "ascending" ? "descending"
                  : (kind === "number" && th.getAttribute("data-lower-better") !== "1" ? "descending" : "ascending"));
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir);
        sortTable(table, col, kind, dir);
      });
    });
  });
})();
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _code_md(text: str) -> str:
    """Escape, then turn Markdown backticks into <code>."""
    parts = _e(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _slug(name: str, version: int) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in f"{name}-v{version}")


def _value_attr(value: float | str | None) -> str:
    if value is None:
        return ""
    return _e(repr(value) if isinstance(value, float) else value)


def _html_table(name: str, version: int, entries: Sequence[Entry]) -> list[str]:
    out = [f'<div class="table-wrap"><table class="board" id="board-{_slug(name, version)}">', "<thead><tr>"]
    cols = columns()
    ranked = _sort_metric()
    for c in cols:
        cls = ' class="num"' if c.kind == "number" else ""
        sort = (' aria-sort="ascending"' if c.lower_better else ' aria-sort="descending"') if c.key == ranked else ""
        lower = ' data-lower-better="1"' if c.lower_better else ""
        out.append(
            f'<th{cls} data-key="{c.key}" data-kind="{c.kind}"{lower}{sort} title="{_e(c.tip)}">'
            f'<button type="button">{_e(c.title)}</button></th>'
        )
    out.append("</tr></thead><tbody>")
    for entry, method, cells in _group_rows(entries):
        out.append(f'<tr data-entry="{_e(entry.id)}" data-method="{_e(method)}">')
        for c in cols:
            text, value = cells[c.key]
            cls = ' class="num"' if c.kind == "number" else ""
            attr = f' data-value="{_value_attr(value)}"' if c.key != "raw" else f' data-value="{_e(entry.id)}"'
            if c.key == "method":
                inner = f"<code>{_e(text)}</code>"
            elif c.key == "raw":
                inner = f'<a href="{_e(value)}" title="{_e(text)}">raw JSON</a>'
            elif c.versus_baseline and " vs " in text:
                main, _, versus = text.partition(" vs ")
                inner = f"{_e(main)}<br><small>vs <code>{_e(versus)}</code></small>"
            elif c.key == "verified":
                status = _e(entry.verification_status().split()[0])
                inner = f'<a class="status-{status}" href="#entry-{_e(entry.id)}">{_e(text)}</a>'
            else:
                inner = _e(text)
            out.append(f'<td{cls} data-key="{c.key}"{attr}>{inner}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    notes = _group_notes(entries)
    if notes:
        out.append('<ul class="facts">' + "".join(f"<li>{_code_md(n)}</li>" for n in notes) + "</ul>")
    return out


def _verification_html(entry: Entry) -> list[str]:
    v = entry.verification
    if v is None and entry.verification_problem is not None:
        return [f"<p>Verification: the verification file is not shown: {_e(entry.verification_problem)}</p>"]
    if v is None:
        text = (
            "not verified yet: <code>hyperbench leaderboard verify " + _e(entry.id) + " --sample K</code>"
            if entry.has_checkpoints
            else "no checkpoints were submitted, so this entry cannot be re-evaluated"
        )
        return [f"<p>Verification: {text}</p>"]
    tol = v.get("tolerance") or {}
    notes = [str(c["note"]) for c in v.get("checks") or [] if c.get("note")]
    out = [
        f"<p>Verification ({_e(str(v.get('date', ''))[:10])}, hyperbench {_e(v.get('hyperbench', '?'))}, verification seed "
        f"{_e(v.get('seed', '?'))}, {_e(v.get('sample', '?'))} of {_e(v.get('of', '?'))} checkpoints): "
        f"<strong>{_e(v.get('status'))}</strong>. Agreement when |re-evaluated − submitted| ≤ "
        f"max({_e(tol.get('normalised', '?'))} × |reference − random|, {_e(tol.get('z', '?'))} × standard error of the "
        "difference).</p>",
        '<div class="table-wrap"><table><thead><tr><th>run</th><th class="num">submitted</th>'
        '<th class="num">re-evaluated</th><th class="num">difference</th><th class="num">allowed</th><th>agree</th>'
        "</tr></thead><tbody>",
    ]
    for c in v.get("checks") or []:
        sub, new = c.get("submitted") or {}, c.get("reevaluated") or {}
        out.append(
            f"<tr><td><code>{_e(c.get('run'))}</code></td>"
            f'<td class="num">{_e(_num(sub.get("mean")))} ± {_e(_num(sub.get("std")))} (n={_e(sub.get("n"))})</td>'
            f'<td class="num">{_e(_num(new.get("mean")))} ± {_e(_num(new.get("std")))} (n={_e(new.get("n"))})</td>'
            f'<td class="num">{_e(_num(c.get("difference")))}</td><td class="num">{_e(_num(c.get("allowed")))}</td>'
            f"<td>{'yes' if c.get('agree') else '<strong>no</strong>'}</td></tr>"
        )
    out.append("</tbody></table></div>")
    out.extend(f"<p><small>{_e(n)}</small></p>" for n in sorted(set(notes)))
    return out


def _num(x: Any) -> str:
    return "–" if not isinstance(x, (int, float)) else f"{x:.1f}"


def _entry_html(entry: Entry) -> list[str]:
    doc = entry.doc
    grid = entry.scores["grid"]
    out = [
        f'<details id="entry-{_e(entry.id)}"><summary>Entry <code>{_e(entry.id)}</code> by {_e(doc["submitter"])}, '
        f"{_e(str(doc['date'])[:10])} — {grid['ok']} ok, {grid['failed']} failed, {grid['missing']} missing of "
        f"{grid['expected']} runs</summary>"
    ]
    if doc.get("notes"):
        out.append(f"<p>{_e(doc['notes'])}</p>")
    out.append('<ul class="facts">')
    out.extend(f"<li>{_e(line)}</li>" for line in _provenance_lines(entry))
    link = f"submissions/{entry.suite.name}/{entry.id}.json"
    out.append(f'<li>raw submission: <a href="{_e(link)}">{_e(link)}</a></li></ul>')
    out.extend(_verification_html(entry))
    methods = [m for m, _ in method_rows(entry)]
    out.append('<div class="table-wrap"><table><thead><tr><th>task</th><th>random / zero-action / reference</th>')
    out.extend(f"<th><code>{_e(m)}</code></th>" for m in methods)
    out.append("</tr></thead><tbody>")
    for task, cells in _per_task_rows(entry):
        out.append(f"<tr><td><code>{_e(task)}</code></td>" + "".join(f'<td class="num">{_e(c)}</td>' for c in cells) + "</tr>")
    out.append("</tbody></table></div>")
    out.append(f"<p>{_e(_per_task_legend(entry))}</p>")
    if entry.plots:
        out.append('<div class="plots">')
        for key, title in _PLOT_TITLES.items():
            png = entry.plots.get(key)
            if png is None:
                continue
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            wide = ' class="wide"' if key in _WIDE_PLOTS else ""
            img = f'<img alt="{_e(title)} ({_e(entry.id)})" src="{uri}">'
            out.append(f"<figure{wide}>{img}<figcaption>{_e(title)}</figcaption></figure>")
        out.append("</div>")
    out.append("</details>")
    return out


def render_html(groups: Sequence[Group], empty: Sequence[str], settings: Mapping[str, Any]) -> str:
    """The board as one self-contained HTML page (``leaderboard/index.html``).

    :param groups: from :func:`hyperbench.leaderboard.build.group_entries`
    :param empty: suites of the board without entries
    :param settings: bootstrap settings (``reps``, ``seed``)
    :return: HTML text
    """
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>hyperbench leaderboard</title>",
        f"<style>{_CSS}</style></head><body>",
        "<!-- generated by `hyperbench leaderboard build`; do not edit by hand -->",
        "<h1>hyperbench leaderboard</h1>",
        f'<p class="lead">{_code_md(_settings_text(settings))} Click a column header to sort.</p>',
    ]
    if not groups:
        out.append("<p>No submissions yet.</p>")
    for name, version, current, entries in groups:
        out.append(f'<section id="suite-{_slug(name, version)}"><h2>{_e(_group_title(name, version, current))}</h2>')
        if entries[0].suite.description:  # the board's own suite file (build.load_entries), not a submitted one
            out.append(f"<p>{_code_md(entries[0].suite.description)}</p>")
        elif not current:
            out.append(f"<p>{_e(OLD_VERSION_NOTE)}</p>")
        out.append('<ul class="facts">' + "".join(f"<li>{_code_md(f)}</li>" for f in _suite_facts(entries[0])) + "</ul>")
        out.extend(_html_table(name, version, entries))
        for entry in entries:
            out.extend(_entry_html(entry))
        out.append("</section>")
    if empty:
        out.append("<h2>Suites without entries</h2>")
        out.append(
            "<p>"
            + ", ".join(f"<code>{_e(n)}</code>" for n in empty)
            + ": run one (<code>hyperbench run SUITE --save-policies</code>) and submit it "
            "(<code>hyperbench submit runs/SUITE --name NAME</code>).</p>"
        )
    out.append(f"<script>{_JS}</script>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
