"""The submission document: its schema, packing one from a runs directory, reading one from a file.

A submission is one JSON document (``schema_version`` 1) plus optional checkpoint files next to it::

    {
      "schema_version": 1,
      "kind": "hyperbench.Submission",
      "id": str,                   # lowercase letters, digits, '.', '-', '_' (default: <date>-<submitter>-<hash>)
      "submitter": str,            # who submits (a name or a team)
      "date": str,                 # ISO-8601 UTC time of packing
      "notes": str,                # free text shown on the board (may be empty)
      "suite": {"name": str, "version": int, "hash": str,     # the suite the runs were made with
                "file": str, "file_sha256": str},             # its YAML text, verbatim, and the text's SHA-256
      "provenance": {
        "hyperbench": [str], "python": [str],                 # distinct values over the records
        "git": [{"commit": str | null, "dirty": bool | null, "runs": int}],
        "packages": {str: [str]},                             # distribution → distinct versions
        "hardware": [{"machine": str, "platform": str, "cpu_count": int | null, "runs": int}],
                                                              # (+ "hostname" only with include_hostname)
        "compute": {"runs": int, "wall_h": float, "cpu_h": float},   # sums over the records
        "packed_with": {...}                                  # provenance of the process that packed it
      },
      "summary": {"grid": {...}, "methods": {method: {<metric>: float | null,   # one per registered metric
                  "final_return_mean": {task: float | null}}}} | null,
                                   # the submitter's claimed point estimates; checked, never displayed
                                   # (metrics of hyperbench.bench.metrics; schema 1's: median, iqm, mean,
                                   # optimality_gap, auc_iqm, probability_of_improvement, final_score_gain,
                                   # steps_to_baseline_final; later ones are optional)
      "records": [RunRecord JSON],  # every run of the suite's grid (hyperbench.bench.record schema)
      "records_sha256": str,        # SHA-256 of the canonical JSON of "records"
      "checkpoints": [{"method": str, "task": str, "seed": int,
                       "files": {file name: {"sha256": str, "bytes": int}}}]
    }

Checkpoint files live in ``<id>/<method>/<task-slug>/seed-<n>/<file name>`` next to the JSON: the final
policy's weights as safetensors and ``spec.json``, the run's :class:`~hyperbench.bench.suite.RunSpec`, from
which the method registry rebuilds the network before the weights are loaded. The weights are one of

- ``actor.safetensors`` (SB3 methods, the default): ``policy.actor``'s ``state_dict``, everything the
  deterministic evaluation uses; packed from the full policy, it is 5–30× smaller (no critics, no targets);
- ``policy.safetensors`` (SB3 methods, ``checkpoints="full"``): the whole policy's ``state_dict``;
- ``learner.safetensors`` (meta learners): their own safetensors checkpoint.

``hyperbench run --save-policies`` writes ``policy.safetensors``/``learner.safetensors`` and ``spec.json``
under ``policies/``; :func:`pack_runs` copies them, cutting SB3 policies down to their actor unless asked not to.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hyperbench.bench.bounded import InputError, decode_utf8, load_json, load_yaml
from hyperbench.bench.files import provenance as current_provenance
from hyperbench.bench.record import RECORDS_DIR, iter_record_paths, record_path, task_slug
from hyperbench.leaderboard.safety import check_payload_file, parse_json_strict, sha256_bytes, sniff_pickle

__all__ = [
    "CHECKPOINT_MODES",
    "KIND",
    "SCHEMA_VERSION",
    "SYMLINK_PROBLEM",
    "Candidate",
    "actor_weights",
    "checkpoint_relpath",
    "default_id",
    "pack_runs",
    "read_payload",
    "read_submission_file",
    "records_sha256",
    "regular_files",
]

#: Version of the submission format; bump it on any change of meaning.
SCHEMA_VERSION = 1
KIND = "hyperbench.Submission"
#: What :func:`pack_runs` includes of each saved SB3 policy: its actor, all of it, or nothing.
CHECKPOINT_MODES: tuple[str, ...] = ("actor", "full", "none")
POLICY_FILE, ACTOR_FILE = "policy.safetensors", "actor.safetensors"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
TOP_KEYS: tuple[str, ...] = (
    "schema_version",
    "kind",
    "id",
    "submitter",
    "date",
    "notes",
    "suite",
    "provenance",
    "summary",
    "records",
    "records_sha256",
    "checkpoints",
)


@dataclass
class Candidate:
    """A submission on its way in: the document, where its checkpoint files are now, what went wrong reading it."""

    doc: dict[str, Any] | None
    """the submission document (``None`` when the file could not be read as JSON)"""
    source: str
    """where it came from, for messages"""
    files: dict[str, Path | bytes] = field(default_factory=dict)
    """checkpoint file (path relative to the checkpoint directory) → its current location, or its content when
    packing made it (an actor cut out of a full policy)"""
    unlisted: dict[str, Path] = field(default_factory=dict)
    """files found in the checkpoint directory that the document does not list"""
    problems: list[str] = field(default_factory=list)
    """problems found while reading or packing (validation adds the rest)"""


def checkpoint_relpath(method: str, task: str, seed: int, name: str = "") -> str:
    """Path of a checkpoint file relative to the submission's checkpoint directory.

    :param method: method label
    :param task: task name
    :param seed: seed
    :param name: file name (empty: the run's directory)
    """
    base = f"{method}/{task_slug(task)}/seed-{seed}"
    return f"{base}/{name}" if name else base


def records_sha256(records: Sequence[Any]) -> str:
    """SHA-256 of the canonical JSON of the records (sorted keys, no whitespace).

    :param records: record dicts
    """
    text = json.dumps(list(records), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40] or "anonymous"


def default_id(submitter: str, date: str, records_hash: str) -> str:
    """``<YYYYMMDD>-<submitter slug>-<first 8 hex of the records hash>``.

    :param submitter: submitter name
    :param date: ISO-8601 date
    :param records_hash: :func:`records_sha256`
    """
    day = date[:10].replace("-", "")
    return f"{day}-{_slug(submitter)}-{records_hash[:8]}"


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------------
# Reading a submission file


def read_submission_file(path: str | os.PathLike[str]) -> Candidate:
    """Read a submission JSON (and locate its checkpoint files, expected in ``<dir>/<id>/``).

    :param path: the JSON file
    :return: the candidate (``doc`` is ``None`` if the file is not readable JSON; ``problems`` says why)
    """
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Candidate(None, source, problems=[f"{path}: cannot read ({exc})"])
    pickled = sniff_pickle(data, loose=True)
    if pickled is not None:
        return Candidate(
            None,
            source,
            problems=[f"{path}: contains {pickled}; submissions are JSON and nothing submitted is ever unpickled"],
        )
    try:
        parsed = parse_json_strict(data.decode("utf-8"))
    except UnicodeDecodeError:
        return Candidate(None, source, problems=[f"{path}: not a JSON submission (not UTF-8 text)"])
    except json.JSONDecodeError as exc:
        hint = " (the file ends early: truncated?)" if exc.pos >= len(data.rstrip()) - 1 else ""
        return Candidate(None, source, problems=[f"{path}: not valid JSON{hint}: {exc}"])
    except InputError as exc:
        return Candidate(None, source, problems=[f"{path}: {exc}"])
    doc = parsed.value
    if not isinstance(doc, dict):
        return Candidate(None, source, problems=[f"{path}: a submission is a JSON object, got {type(doc).__name__}"])
    candidate = Candidate(doc, source)
    sid = doc.get("id")
    checkpoints = doc.get("checkpoints")
    if isinstance(sid, str) and ID_RE.match(sid) and isinstance(checkpoints, list):
        base = path.parent / sid
        listed: set[str] = set()
        for entry in checkpoints:
            rels = _entry_relpaths(entry)
            for rel in rels:
                listed.add(rel)
                candidate.files[rel] = base / rel
        links, found = regular_files(base)
        candidate.problems.extend(f"{path.parent / link}: {SYMLINK_PROBLEM}" for link in links)
        for rel, file in found.items():
            if rel not in listed:
                candidate.unlisted[rel] = file
        for rel in links:  # never read through a link, listed or not
            candidate.files.pop(rel, None)
    return candidate


#: Why a symlink in a submission is refused.
SYMLINK_PROBLEM = "is a symlink; a submission holds regular files only (a link could point anywhere)"


def regular_files(root: Path) -> tuple[list[str], dict[str, Path]]:
    """Walk ``root`` without following links.

    :param root: a directory (absent: nothing found)
    :return: the links found (paths relative to ``root.parent``, ``root`` itself included when it is one) and
        every regular file (path relative to ``root`` → path)
    """
    if root.is_symlink():
        return [root.name], {}
    files: dict[str, Path] = {}
    links: list[str] = []
    if not root.is_dir():
        return links, files

    def fail(exc: OSError) -> None:
        links.append(f"{root.name} (unreadable: {exc.strerror})")

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=fail):
        here = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            entry = here / name
            if entry.is_symlink():
                links.append(entry.relative_to(root.parent).as_posix())
            elif name in filenames and entry.is_file():
                files[entry.relative_to(root).as_posix()] = entry
    return sorted(links), dict(sorted(files.items()))


def _entry_relpaths(entry: Any) -> list[str]:
    """Relative paths of a checkpoint entry's files (empty if the entry is malformed; validation says so)."""
    if not isinstance(entry, Mapping):
        return []
    method, task, seed, files = entry.get("method"), entry.get("task"), entry.get("seed"), entry.get("files")
    if not (isinstance(method, str) and isinstance(task, str) and isinstance(seed, int) and isinstance(files, Mapping)):
        return []
    out = []
    for name in files:
        if isinstance(name, str) and name and "/" not in name and "\\" not in name and name not in (".", ".."):
            out.append(checkpoint_relpath(method, task, seed, name))
    return out


# ----------------------------------------------------------------------------------------------------
# Packing a runs directory


def _read_suite_text(runs_dir: Path, problems: list[str]) -> str:
    yaml_file = runs_dir / "suite.yaml"
    if yaml_file.is_file():
        try:
            return decode_utf8(yaml_file.read_bytes(), str(yaml_file))
        except InputError as exc:
            problems.append(str(exc))
            return ""
    json_file = runs_dir / "suite.json"
    if json_file.is_file():
        try:
            data = load_json(json_file.read_bytes(), str(json_file))
            data.pop("hash", None)
            return yaml.safe_dump(data, sort_keys=False)
        except (OSError, ValueError, AttributeError) as exc:
            problems.append(f"{json_file}: unreadable ({exc})")
            return ""
    problems.append(f"{runs_dir}: no suite.yaml or suite.json (is it a runs directory written by `hyperbench run`?)")
    return ""


def _read_records(runs_dir: Path, problems: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in iter_record_paths(runs_dir):
        rel = path.relative_to(runs_dir)
        if path.is_symlink():
            problems.append(f"{rel}: {SYMLINK_PROBLEM}")
            continue
        data = path.read_bytes()
        pickled = sniff_pickle(data, loose=True)
        if pickled is not None:
            problems.append(f"{rel}: contains {pickled}; run records are JSON and nothing submitted is ever unpickled")
            continue
        try:
            value = parse_json_strict(data.decode("utf-8")).value
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(
                f"{rel}: truncated or not valid JSON ({exc}); re-run that run (delete the file, `hyperbench run` again)"
            )
            continue
        if not isinstance(value, dict):
            problems.append(f"{rel}: a run record is a JSON object, got {type(value).__name__}")
            continue
        method, task, seed = value.get("method"), value.get("task"), value.get("seed")
        if isinstance(method, str) and isinstance(task, str) and isinstance(seed, int) and not isinstance(seed, bool):
            expected = record_path(runs_dir, method, task, seed)
            if expected != path:
                problems.append(
                    f"{rel}: holds run {method}/{task}/seed-{seed}, which belongs in {expected.relative_to(runs_dir)} "
                    "(a copied or renamed record)"
                )
        out.append(value)
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _provenance(records: Sequence[Mapping[str, Any]], include_hostname: bool = False) -> dict[str, Any]:
    def distinct(values: Sequence[Any]) -> list[Any]:
        seen: list[Any] = []
        for v in values:
            if v not in seen:
                seen.append(v)
        return seen

    provs = [_mapping(r.get("provenance")) for r in records]
    git: dict[str, dict[str, Any]] = {}
    hardware: dict[str, dict[str, Any]] = {}
    packages: dict[str, list[str]] = {}
    for p in provs:
        g = _mapping(p.get("git"))
        key = json.dumps([g.get("commit"), g.get("dirty")])
        git.setdefault(key, {"commit": g.get("commit"), "dirty": g.get("dirty"), "runs": 0})["runs"] += 1
        hw = {k: p.get(k) for k in ("machine", "platform", "cpu_count", "hostname") if k in p}
        hardware.setdefault(json.dumps(hw, sort_keys=True), {**hw, "runs": 0})["runs"] += 1
        for name, version in _mapping(p.get("packages")).items():
            if version is not None and version not in packages.setdefault(name, []):
                packages[name].append(version)
    timings = [_mapping(r.get("timing")) for r in records]
    packed_with = current_provenance()
    if not include_hostname:
        packed_with.pop("hostname", None)
    return {
        "hyperbench": distinct([p.get("hyperbench") for p in provs]),
        "python": distinct([p.get("python") for p in provs]),
        "git": list(git.values()),
        "packages": packages,
        "hardware": list(hardware.values()),
        "compute": compute_totals(timings),
        "packed_with": packed_with,
    }


def actor_weights(policy_weights: bytes) -> bytes:
    """Cut an SB3 policy's safetensors ``state_dict`` down to its actor (``actor.*``, prefix removed).

    The result loads strictly into ``policy.actor``, which is all ``policy.predict`` uses. Only the
    safetensors format is parsed; nothing is unpickled.

    :param policy_weights: the content of ``policy.safetensors``
    :return: the content of ``actor.safetensors``
    :raises ValueError: if the file is not safetensors or holds no ``actor.`` tensors
    """
    from safetensors import SafetensorError
    from safetensors.torch import load, save

    try:
        tensors = load(policy_weights)
    except SafetensorError as exc:
        raise ValueError(f"not a safetensors file ({exc})") from exc
    actor = {k.removeprefix("actor."): v for k, v in tensors.items() if k.startswith("actor.")}
    if not actor:
        raise ValueError("holds no actor.* tensors, so no actor can be cut out of it (submit with --checkpoints full)")
    return save(actor, metadata={"hyperbench": "policy.actor of an SB3 policy"})


def read_payload(src: Path | bytes) -> bytes:
    """The content of a checkpoint file of a :class:`Candidate` (a file on disk or bytes made by packing)."""
    return src if isinstance(src, bytes) else src.read_bytes()


def compute_totals(timings: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum of wall and CPU time over runs.

    :param timings: the records' ``timing`` mappings
    :return: ``{"runs": int, "wall_h": float, "cpu_h": float}``
    """

    def total(key: str) -> float:
        return sum(float(t.get(key) or 0.0) for t in timings if isinstance(t.get(key), (int, float))) / 3600

    return {"runs": len(timings), "wall_h": total("wall_s"), "cpu_h": total("cpu_s")}


def pack_runs(
    runs_dir: str | os.PathLike[str],
    submitter: str,
    *,
    submission_id: str | None = None,
    notes: str = "",
    checkpoints: str = "actor",
    date: str | None = None,
    include_hostname: bool = False,
) -> Candidate:
    """Pack a runs directory written by ``hyperbench run`` into a submission (nothing is written).

    Collects the records, the suite file, provenance, the submitter's summary (computed with ``hyperbench
    report``'s code) and, with ``checkpoints``, the policies ``hyperbench run --save-policies`` stored.
    File-level problems (truncated records, pickle files, misplaced records) go to ``Candidate.problems``;
    :func:`hyperbench.leaderboard.validate.validate` checks the rest.

    :param runs_dir: the runs directory
    :param submitter: who submits
    :param submission_id: the id (default: :func:`default_id`)
    :param notes: free text shown on the board
    :param checkpoints: what to include of the saved policies: ``"actor"`` (SB3 policies cut down to
        ``policy.actor``; meta learners' checkpoints whole), ``"full"`` (as saved) or ``"none"``
    :param date: ISO-8601 date (default: now, UTC)
    :param include_hostname: keep the machines' host names that run records carry (left out by default: the
        submission is public)
    :return: the candidate
    """
    if checkpoints not in CHECKPOINT_MODES:
        raise ValueError(f"checkpoints must be one of {', '.join(CHECKPOINT_MODES)}, got {checkpoints!r}")
    runs_dir = Path(runs_dir)
    problems: list[str] = []
    if not (runs_dir / RECORDS_DIR).is_dir():
        return Candidate(None, str(runs_dir), problems=[f"{runs_dir}: no records/ directory (is it a runs directory?)"])
    suite_text = _read_suite_text(runs_dir, problems)
    records = _read_records(runs_dir, problems)
    if not include_hostname:
        for rec in records:
            if isinstance(rec.get("provenance"), dict):
                rec["provenance"].pop("hostname", None)
    records.sort(key=lambda r: (str(r.get("method")), str(r.get("task")), r["seed"] if isinstance(r.get("seed"), int) else -1))
    date = date or _utcnow()
    rhash = records_sha256(records)
    sid = submission_id or default_id(submitter, date, rhash)

    suite_meta: dict[str, Any] = {
        "name": None,
        "version": None,
        "hash": None,
        "file": suite_text,
        "file_sha256": sha256_bytes(suite_text.encode("utf-8")),
    }
    suite = None
    if suite_text:
        from hyperbench.bench.suite import SuiteError, parse_suite

        try:
            suite = parse_suite(load_yaml(suite_text, f"{runs_dir}/suite.yaml"), source=f"{runs_dir}/suite.yaml")
            suite_meta.update(name=suite.name, version=suite.version, hash=suite.hash)
        except (SuiteError, InputError) as exc:
            problems.append(f"suite file: {exc}")

    summary = None
    if suite is not None and records and not problems:
        from hyperbench.bench.record import RecordError
        from hyperbench.leaderboard.scores import POINT_REPS, compute_scores, summarise_scores

        try:
            summary = summarise_scores(compute_scores(suite, records, reps=POINT_REPS, plots=False).scores)
        except (RecordError, ValueError, KeyError, TypeError):
            summary = None  # the records are broken: validation names the problem

    files: dict[str, Path | bytes] = {}
    entries: list[dict[str, Any]] = []
    if checkpoints != "none":
        for rec in records:
            artifacts = rec.get("artifacts")
            rel = artifacts.get("policy") if isinstance(artifacts, Mapping) else None
            if not isinstance(rel, str):
                continue
            folder = runs_dir / rel
            if not folder.resolve().is_relative_to(runs_dir.resolve()) or not folder.is_dir():
                problems.append(
                    f"record {rec.get('method')}/{rec.get('task')}/seed-{rec.get('seed')}: policy {rel!r} not found"
                )
                continue
            links, found = regular_files(folder)
            problems.extend(f"{folder.parent / link}: {SYMLINK_PROBLEM}" for link in links)
            names: dict[str, Any] = {}
            for name, file in found.items():
                if "/" in name:
                    problems.append(f"{file}: unexpected sub-directory in a policy directory")
                    continue
                data = file.read_bytes()
                payload: Path | bytes = file
                if name == POLICY_FILE and checkpoints == "actor" and check_payload_file(name, data) is None:
                    try:
                        name, data = ACTOR_FILE, actor_weights(data)
                    except ValueError as exc:
                        problems.append(f"{file}: {exc}")
                        continue
                    payload = data
                names[name] = {"sha256": sha256_bytes(data), "bytes": len(data)}
                files[checkpoint_relpath(rec["method"], rec["task"], rec["seed"], name)] = payload
            entries.append({"method": rec["method"], "task": rec["task"], "seed": rec["seed"], "files": names})

    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "id": sid,
        "submitter": submitter,
        "date": date,
        "notes": notes,
        "suite": suite_meta,
        "provenance": _provenance(records, include_hostname),
        "summary": summary,
        "records": records,
        "records_sha256": rhash,
        "checkpoints": entries,
    }
    return Candidate(doc, str(runs_dir), files=files, problems=problems)
