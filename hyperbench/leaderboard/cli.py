"""``hyperbench submit`` and ``hyperbench leaderboard build|serve|verify``.

::

    hyperbench submit SOURCE [--name NAME] [--leaderboard DIR] [--suites DIR ...] [--id ID] [--notes TEXT]
                             [--checkpoints actor|full|none] [--include-hostname] [--allow-old-version] [--dry-run]
                             [--build] [--plugin MODULE ...]
    hyperbench leaderboard build [--leaderboard DIR] [--suites DIR ...] [--reps N] [--seed S] [--no-plots]
    hyperbench leaderboard serve [--leaderboard DIR] [--port PORT] [--timeout SECONDS]
    hyperbench leaderboard verify ID [--sample K] [--seed S] [--tolerance F] [--z Z] [--leaderboard DIR]

``SOURCE`` is a runs directory written by ``hyperbench run`` (``--name`` required) or a submission JSON
packed elsewhere (its checkpoints in ``<id>/`` next to it). Exit codes: 0 accepted / built / verified,
1 verification found a discrepancy, 2 rejected or invalid arguments (nothing written), 3 could not verify
(the entry has no checkpoints, does not validate, or re-evaluation failed; the reason is printed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hyperbench.leaderboard.submission import CHECKPOINT_MODES

__all__ = ["EXIT_NOT_VERIFIED", "register"]

#: Exit code of ``verify`` when the entry could not be verified at all (1 means a discrepancy was found).
EXIT_NOT_VERIFIED = 3


def _board_args(parser: argparse.ArgumentParser, suites: bool = True) -> None:
    parser.add_argument(
        "--leaderboard", type=Path, default=Path("leaderboard"), help="leaderboard directory (default: ./leaderboard)"
    )
    if suites:
        parser.add_argument(
            "--suites",
            type=Path,
            action="append",
            default=None,
            metavar="DIR",
            help="directory of the board's current suite files (repeatable; default: $HYPERBENCH_SUITES, ./suites, "
            "the repository's suites/)",
        )
        parser.add_argument(
            "--plugin", action="append", default=[], metavar="MODULE", help="import MODULE first (registers methods)"
        )


def register(subparsers: Any) -> None:
    """Add the ``submit`` and ``leaderboard`` sub-commands.

    :param subparsers: the ``hyperbench`` command's sub-parsers
    """
    submit = subparsers.add_parser(
        "submit",
        help="validate a suite's results and add them to the leaderboard",
        description="Pack a runs directory (records, suite file, provenance, safetensors policies) into a "
        "submission, validate it against the board, and write it under <leaderboard>/submissions/<suite>/ "
        "atomically. A rejected submission lists every problem and writes nothing.",
    )
    submit.add_argument("source", type=Path, help="runs directory of `hyperbench run`, or a submission JSON file")
    submit.add_argument("--name", default=None, help="submitter (a person or a team); required for a runs directory")
    submit.add_argument("--id", dest="submission_id", default=None, help="submission id (default: <date>-<name>-<hash>)")
    submit.add_argument("--notes", default="", help="free text shown with the entry")
    submit.add_argument(
        "--checkpoints",
        choices=CHECKPOINT_MODES,
        default="actor",
        help="what to include of the saved policies: SB3 policies cut down to their actor (default; all that "
        "re-evaluation needs), the full policies, or none (the entry cannot be verified)",
    )
    submit.add_argument(
        "--allow-old-version", action="store_true", help="accept runs of an older suite version (listed under that version)"
    )
    submit.add_argument(
        "--include-hostname",
        action="store_true",
        help="keep the machines' host names the run records carry (left out by default: submissions are public)",
    )
    submit.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
    submit.add_argument("--build", action="store_true", help="rebuild the board's pages after accepting")
    _board_args(submit)
    submit.set_defaults(func=_cmd_submit)

    board = subparsers.add_parser(
        "leaderboard",
        help="build, serve or verify the leaderboard",
        description="Build the leaderboard pages from the accepted submissions, serve them on 127.0.0.1, or "
        "verify an entry by re-evaluating its submitted checkpoints.",
    )
    sub = board.add_subparsers(dest="leaderboard_command", metavar="COMMAND")
    build = sub.add_parser(
        "build",
        help="regenerate README.md and the self-contained index.html",
        description="Validate every submission again and recompute every number from the run records with "
        "`hyperbench report`'s code; write README.md and index.html.",
    )
    _board_args(build)
    build.add_argument("--reps", type=int, default=2000, help="bootstrap replications (default 2000, as hyperbench report)")
    build.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0, as hyperbench report)")
    build.add_argument("--no-plots", action="store_true", help="leave the plots out")
    build.set_defaults(func=_cmd_build)

    serve = sub.add_parser(
        "serve", help="serve the built board on 127.0.0.1", description="Serve the board over HTTP on 127.0.0.1."
    )
    _board_args(serve, suites=False)
    serve.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 = any free port)")
    serve.add_argument("--timeout", type=float, default=None, help="stop after this many seconds (default: until Ctrl-C)")
    serve.set_defaults(func=_cmd_serve)

    verify = sub.add_parser(
        "verify",
        help="re-evaluate submitted checkpoints on fresh evaluation seeds",
        description="Re-evaluate K checkpoints of a submission with the suite's evaluation protocol on fresh "
        "evaluation seeds; the entry is verified when every re-evaluated score agrees with its record within "
        "max(F × |reference − random|, Z standard errors).",
    )
    verify.add_argument("submission_id", metavar="ID", help="submission id")
    verify.add_argument("--sample", type=int, default=3, help="checkpoints to re-evaluate (default 3)")
    verify.add_argument("--seed", type=int, default=None, help="verification seed (default: random, recorded)")
    verify.add_argument("--tolerance", type=float, default=0.1, help="F: fraction of |reference − random| (default 0.1)")
    verify.add_argument("--z", type=float, default=4.0, help="Z: standard errors of the difference (default 4)")
    verify.add_argument("--no-write", action="store_true", help="print the result without recording it")
    _board_args(verify)
    verify.set_defaults(func=_cmd_verify)
    board.set_defaults(func=lambda args: _no_subcommand(board))


def _no_subcommand(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _board(args: argparse.Namespace) -> Any:
    from hyperbench.bench.runner import import_plugins
    from hyperbench.leaderboard.board import Leaderboard

    import_plugins(getattr(args, "plugin", []) or [])
    return Leaderboard(args.leaderboard, suites=getattr(args, "suites", None))


def _cmd_submit(args: argparse.Namespace) -> int:
    from hyperbench.leaderboard.submission import pack_runs, read_submission_file
    from hyperbench.leaderboard.validate import SubmissionRejected, accept, validate

    board = _board(args)
    source: Path = args.source
    if source.is_dir():
        if not args.name or not args.name.strip():
            print("hyperbench submit: --name is required for a runs directory (who submits?)", file=sys.stderr)
            return 2
        candidate = pack_runs(
            source,
            args.name.strip(),
            submission_id=args.submission_id,
            notes=args.notes,
            checkpoints=args.checkpoints,
            include_hostname=args.include_hostname,
        )
    elif source.is_file():
        candidate = read_submission_file(source)
    else:
        print(f"hyperbench submit: {source} is neither a runs directory nor a submission file", file=sys.stderr)
        return 2
    if args.dry_run:
        validation = validate(candidate, board, allow_old_version=args.allow_old_version)
        if not validation.ok:
            print(SubmissionRejected(str(source), validation.problems), file=sys.stderr)
            return 2
        print(f"{source}: valid submission {candidate.doc['id'] if candidate.doc else '?'} (dry run: nothing written)")
        return 0
    try:
        validation, written = accept(candidate, board, allow_old_version=args.allow_old_version)
    except SubmissionRejected as exc:
        print(f"hyperbench submit: {exc}", file=sys.stderr)
        return 2
    doc = candidate.doc or {}
    n_ckpt = len(doc.get("checkpoints") or [])
    print(f"accepted {doc.get('id')}: {len(validation.records)} runs, {n_ckpt} checkpoints → {written}")
    if not validation.current:
        print(f"  listed under its own suite version v{validation.suite.version if validation.suite else '?'}")
    if args.build:
        return _build(board, reps=2000, seed=0, plots=True)
    print(f"rebuild the pages with: hyperbench leaderboard build --leaderboard {args.leaderboard}")
    return 0


def _build(board: Any, reps: int, seed: int, plots: bool) -> int:
    from hyperbench.leaderboard.build import BoardError, build_board

    try:
        result = build_board(board, reps=reps, seed=seed, plots=plots)
    except BoardError as exc:
        print(f"hyperbench leaderboard build: {exc}", file=sys.stderr)
        return 2
    print(f"built {result.markdown} and {result.html} ({len(result.entries)} submissions)")
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    if args.reps < 1:
        print("hyperbench leaderboard build: --reps must be at least 1", file=sys.stderr)
        return 2
    return _build(_board(args), reps=args.reps, seed=args.seed, plots=not args.no_plots)


def _cmd_serve(args: argparse.Namespace) -> int:
    from hyperbench.leaderboard.serve import serve

    try:
        serve(args.leaderboard, port=args.port, timeout=args.timeout)
    except (FileNotFoundError, OSError) as exc:
        print(f"hyperbench leaderboard serve: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from hyperbench.leaderboard.validate import SubmissionRejected
    from hyperbench.leaderboard.verify import Tolerance, VerifyError, verify_submission

    board = _board(args)
    if args.sample < 1 or not args.tolerance >= 0 or not args.z >= 0:
        print("hyperbench leaderboard verify: --sample must be ≥ 1, --tolerance and --z ≥ 0", file=sys.stderr)
        return 2
    try:
        board.find(args.submission_id)
    except KeyError as exc:
        print(f"hyperbench leaderboard verify: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        attempt = verify_submission(
            board,
            args.submission_id,
            sample=args.sample,
            seed=args.seed,
            tolerance=Tolerance(normalised=args.tolerance, z=args.z),
            write=not args.no_write,
        )
    except (SubmissionRejected, VerifyError) as exc:
        print(f"hyperbench leaderboard verify: could not verify: {exc}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    except Exception as exc:  # re-evaluation crashed: a reason, not a traceback, and not "discrepancy"
        print(f"hyperbench leaderboard verify: could not verify: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_NOT_VERIFIED
    print(
        f"{args.submission_id}: {attempt['status']} ({attempt['sample']} of {attempt['of']} checkpoints, "
        f"verification seed {attempt['seed']}, tolerance max({args.tolerance} × |reference − random|, {args.z} SE))"
    )
    for note in sorted({c["note"] for c in attempt["checks"] if c.get("note")}):
        print(f"  note: {note}")
    for c in attempt["checks"]:
        flag = "agrees" if c["agree"] else "DISCREPANCY"
        print(
            f"  {c['run']}: submitted {c['submitted']['mean']:.2f}, re-evaluated {c['reevaluated']['mean']:.2f} "
            f"(n={c['reevaluated']['n']}, eval seed {c['eval_seed']}); |difference| {abs(c['difference']):.2f} vs allowed "
            f"{c['allowed']:.2f}: {flag}"
        )
    if not args.no_write:
        suite = board.find(args.submission_id).parent.name
        print(f"recorded in {board.verification_path(suite, args.submission_id)}")
        print(f"rebuild the pages with: hyperbench leaderboard build --leaderboard {args.leaderboard}")
    return 0 if attempt["status"] == "verified" else 1
