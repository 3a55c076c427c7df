"""``hyperbench leaderboard build``: every accepted submission → ``README.md`` and a self-contained ``index.html``.

Each submission on the board is validated again (a file edited by hand after acceptance is refused, and
the build writes nothing), then its numbers and plots are recomputed from its run records with
``hyperbench report``'s own code (:func:`hyperbench.leaderboard.scores.compute_scores`, same bootstrap
settings as ``hyperbench report``'s defaults): a submitted summary is never displayed.

The page groups entries by suite and version. Each row is one method of one submission: IQM and
optimality gap with 95% stratified-bootstrap CIs, probability of improvement over the method's baseline,
the papers' measures (final-score gain; fraction of the budget needed to reach the baseline's final
score), AUC, runs, compute, submitter, date, verification status and a link to the raw submission file.
The output is deterministic (no build time stamp), so rebuilding an unchanged board changes no byte.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperbench.bench.bounded import load_json
from hyperbench.bench.files import atomic_write_text
from hyperbench.bench.record import RunRecord
from hyperbench.bench.suite import Suite
from hyperbench.leaderboard.board import Leaderboard
from hyperbench.leaderboard.submission import read_submission_file

__all__ = ["BoardError", "BuildResult", "Entry", "build_board", "load_entries"]


class BoardError(ValueError):
    """Submissions on the board that no longer validate; the message lists them with their problems."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the board has {len(self.problems)} problem(s); nothing was written\n{lines}")


@dataclass
class Entry:
    """One accepted submission with its recomputed numbers."""

    path: Path
    """its JSON file"""
    doc: dict[str, Any]
    """the submission document"""
    suite: Suite
    """its suite (the submitted version)"""
    current: bool
    """the suite version is the board's current one"""
    records: list[RunRecord]
    scores: dict[str, Any]
    """``scores.json`` as ``hyperbench report`` writes it for these records"""
    plots: dict[str, bytes] = field(default_factory=dict)
    """plot name → PNG bytes"""
    verification: dict[str, Any] | None = None
    """the latest verification attempt, if any (only when its file passes ``verify.check_verification``)"""
    verification_problem: str | None = None
    """why the verification file is not shown, if it is not"""

    @property
    def id(self) -> str:
        """Submission id."""
        return str(self.doc["id"])

    @property
    def has_checkpoints(self) -> bool:
        """Whether the submission carries policy checkpoints."""
        return bool(self.doc.get("checkpoints"))

    def verification_status(self) -> str:
        """``verified``, ``discrepancy``, ``invalid verification file``, ``not verified`` or ``no checkpoints``."""
        if self.verification_problem is not None:
            return "invalid verification file"
        if self.verification is not None:
            return str(self.verification.get("status", "not verified"))
        return "not verified" if self.has_checkpoints else "no checkpoints"

    def method_compute(self, method: str) -> dict[str, float]:
        """CPU and wall hours of one method's runs.

        :param method: method label
        """
        runs = [r for r in self.records if r.method == method]
        return {"cpu_h": sum(r.timing.cpu_s for r in runs) / 3600, "wall_h": sum(r.timing.wall_s for r in runs) / 3600}

    def method_runs(self, method: str) -> tuple[int, int]:
        """(ok, failed) runs of one method.

        :param method: method label
        """
        runs = [r for r in self.records if r.method == method]
        ok = sum(r.ok for r in runs)
        return ok, len(runs) - ok


@dataclass
class BuildResult:
    """What :func:`build_board` wrote."""

    markdown: Path
    html: Path
    entries: list[Entry]


def _latest_verification(
    board: Leaderboard, suite: Suite, doc: Mapping[str, Any], records: list[RunRecord]
) -> tuple[dict[str, Any] | None, str | None]:
    """The latest verification attempt of an entry if its file checks out, else why not."""
    from hyperbench.leaderboard.verify import check_verification

    path = board.verification_path(suite.name, str(doc["id"]))
    if path.is_symlink():
        return None, f"{path.name} is a symlink"
    if not path.is_file():
        return None, None
    try:
        data = load_json(path.read_bytes(), str(path))
    except (OSError, ValueError) as exc:
        return None, f"unreadable ({exc})"
    problems = check_verification(data, doc, suite, records)
    if problems:
        return None, "; ".join(problems[:3]) + (f" … ({len(problems) - 3} more)" if len(problems) > 3 else "")
    return dict(data["attempts"][-1]), None


def load_entries(board: Leaderboard, *, reps: int = 2000, seed: int = 0, plots: bool = True) -> list[Entry]:
    """Validate every submission on the board and recompute its numbers from its records.

    :param board: the leaderboard
    :param reps: bootstrap replications (``hyperbench report`` default)
    :param seed: bootstrap seed (``hyperbench report`` default)
    :param plots: draw the plots
    :return: the entries, in file order
    :raises BoardError: listing every submission that does not validate
    """
    from hyperbench.leaderboard.scores import compute_scores
    from hyperbench.leaderboard.validate import validate

    problems: list[str] = []
    entries: list[Entry] = []
    for path in board.submission_files():
        candidate = read_submission_file(path)
        validation = validate(candidate, board, stored=True)
        doc = candidate.doc
        if (
            doc is not None
            and validation.suite is not None
            and (doc.get("id") != path.stem or validation.suite.name != path.parent.name)
        ):
            validation.problems.append(
                f"stored as {path.parent.name}/{path.name} but its suite is {validation.suite.name!r} and its id "
                f"{doc.get('id')!r}"
            )
        if not validation.ok:
            problems.extend(f"{path}: {p}" for p in validation.problems)
            continue
        assert doc is not None and validation.suite is not None
        result = compute_scores(validation.suite, doc["records"], reps=reps, seed=seed, plots=plots)
        shown = validation.suite
        current = board.current_suite(shown.name).suite
        if current is not None and (current.version, current.hash) == (shown.version, shown.hash):
            shown = current  # the same protocol (the hash leaves the description out): show the board's wording
        else:  # an older version: a submitted description is not covered by the hash, so none is shown
            shown = dataclasses.replace(shown, description="")
        entries.append(
            Entry(
                path=path,
                doc=doc,
                suite=shown,
                current=validation.current,
                records=validation.records,
                scores=result.scores,
                plots=result.plots,
            )
        )
        entries[-1].verification, entries[-1].verification_problem = _latest_verification(
            board, validation.suite, doc, validation.records
        )
    if problems:
        raise BoardError(problems)
    return entries


def group_entries(entries: Sequence[Entry]) -> list[tuple[str, int, bool, list[Entry]]]:
    """Entries by (suite, version): current versions first, then older ones; entries by date.

    :param entries: the entries
    :return: ``[(suite name, version, current, entries)]``
    """
    groups: dict[tuple[str, int], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.suite.name, e.suite.version), []).append(e)
    out = []
    for (name, version), items in groups.items():
        items.sort(key=lambda e: (str(e.doc.get("date")), e.id))
        out.append((name, version, all(e.current for e in items), items))
    out.sort(key=lambda g: (g[0], -g[1]))
    return out


def build_board(board: Leaderboard, *, reps: int = 2000, seed: int = 0, plots: bool = True) -> BuildResult:
    """Regenerate ``README.md`` and ``index.html`` of the board.

    :param board: the leaderboard
    :param reps: bootstrap replications (default: ``hyperbench report``'s)
    :param seed: bootstrap seed (default: ``hyperbench report``'s)
    :param plots: include the plots in ``index.html``
    :return: the paths written and the entries
    :raises BoardError: if a submission on the board does not validate (nothing is written)
    """
    from hyperbench.leaderboard.page import render_html, render_markdown

    entries = load_entries(board, reps=reps, seed=seed, plots=plots)
    groups = group_entries(entries)
    known = sorted(board.suite_files())
    shown = {name for name, *_ in groups}
    empty = [name for name in known if name not in shown]
    settings = {"reps": reps, "seed": seed}
    markdown = render_markdown(groups, empty, settings)
    html = render_html(groups, empty, settings)
    claims_file = board.root / "claims.json"  # written by `hyperbench claims --board DIR`
    if claims_file.is_file():
        from hyperbench.claims.table import board_section_html, board_section_markdown

        claims = load_json(claims_file.read_bytes(), str(claims_file))
        markdown = markdown.rstrip("\n") + "\n\n" + board_section_markdown(claims)
        html = html.replace("</body></html>", board_section_html(claims) + "</body></html>")
    board.root.mkdir(parents=True, exist_ok=True)
    with board.lock():
        atomic_write_text(board.root / "README.md", markdown)
        atomic_write_text(board.root / "index.html", html)
    return BuildResult(markdown=board.root / "README.md", html=board.root / "index.html", entries=entries)


def relative_link(board_root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str:
    """A POSIX link from the board root to ``path``.

    :param board_root: the leaderboard directory
    :param path: a file inside it
    """
    return Path(os.path.relpath(path, board_root)).as_posix()


def method_rows(entry: Entry) -> list[tuple[str, Mapping[str, Any]]]:
    """(method, its ``scores.json`` entry) in suite order.

    :param entry: an entry
    """
    methods = entry.scores["methods"]
    return [(m, methods[m]) for m in entry.suite.method_names if m in methods]
