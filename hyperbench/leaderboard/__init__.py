"""The leaderboard: submissions of suite results, their validation, the board as a web page, verification.

The data flow (docs/design.md): a runs directory of ``hyperbench run`` → :func:`pack_runs` (records, suite file,
provenance, safetensors policies) → :func:`validate` (every problem listed, nothing written) →
:func:`accept` (``leaderboard/submissions/<suite>/<id>.json``, atomically) → :func:`build_board`
(numbers and plots recomputed from the records with ``hyperbench report``'s code → ``README.md`` and a
self-contained ``index.html``) → :func:`make_server` (127.0.0.1) and :func:`verify_submission`
(re-evaluation of submitted checkpoints on fresh evaluation seeds).

Command line: ``hyperbench submit`` and ``hyperbench leaderboard build|serve|verify``
(see :mod:`hyperbench.leaderboard.cli`). What submitters, runs-directory writers and board readers can and cannot
do: ``docs/threat-model.md``.

Exports are loaded lazily (on first use) so that the ``hyperbench`` command starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hyperbench.leaderboard.board import Leaderboard
    from hyperbench.leaderboard.build import BoardError, BuildResult, Entry, build_board, load_entries
    from hyperbench.leaderboard.safety import check_payload_file, sniff_pickle
    from hyperbench.leaderboard.scores import compute_scores
    from hyperbench.leaderboard.serve import make_server, serve
    from hyperbench.leaderboard.submission import SCHEMA_VERSION, Candidate, pack_runs, read_submission_file
    from hyperbench.leaderboard.validate import SubmissionRejected, Validation, accept, validate
    from hyperbench.leaderboard.verify import Tolerance, VerifyError, verify_submission

__all__ = [
    "SCHEMA_VERSION",
    "BoardError",
    "BuildResult",
    "Candidate",
    "Entry",
    "Leaderboard",
    "SubmissionRejected",
    "Tolerance",
    "Validation",
    "VerifyError",
    "accept",
    "build_board",
    "check_payload_file",
    "compute_scores",
    "load_entries",
    "make_server",
    "pack_runs",
    "read_submission_file",
    "serve",
    "sniff_pickle",
    "validate",
    "verify_submission",
]

_LAZY: dict[str, str] = {
    "Leaderboard": "hyperbench.leaderboard.board",
    "BoardError": "hyperbench.leaderboard.build",
    "BuildResult": "hyperbench.leaderboard.build",
    "Entry": "hyperbench.leaderboard.build",
    "build_board": "hyperbench.leaderboard.build",
    "load_entries": "hyperbench.leaderboard.build",
    "check_payload_file": "hyperbench.leaderboard.safety",
    "sniff_pickle": "hyperbench.leaderboard.safety",
    "compute_scores": "hyperbench.leaderboard.scores",
    "make_server": "hyperbench.leaderboard.serve",
    "serve": "hyperbench.leaderboard.serve",
    "SCHEMA_VERSION": "hyperbench.leaderboard.submission",
    "Candidate": "hyperbench.leaderboard.submission",
    "pack_runs": "hyperbench.leaderboard.submission",
    "read_submission_file": "hyperbench.leaderboard.submission",
    "SubmissionRejected": "hyperbench.leaderboard.validate",
    "Validation": "hyperbench.leaderboard.validate",
    "accept": "hyperbench.leaderboard.validate",
    "validate": "hyperbench.leaderboard.validate",
    "Tolerance": "hyperbench.leaderboard.verify",
    "VerifyError": "hyperbench.leaderboard.verify",
    "verify_submission": "hyperbench.leaderboard.verify",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hyperbench.leaderboard' has no attribute {name!r}")
