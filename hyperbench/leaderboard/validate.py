"""Validation of a submission before anything is written, and its acceptance onto the board.

:func:`validate` runs every check and returns every problem it finds (it does not stop at the first):

1. **schema**: the document's keys and types, the id, submitter and date;
2. **finite numbers**: every number anywhere in the document (``NaN``/``Infinity`` named by their path);
3. **suite**: the submitted suite file parses and validates, its text hash and content hash match, and
   it is the board's current version of that suite (an older version only with ``allow_old_version``:
   the entry is then listed under its own version; the same version with another content is refused);
4. **records**: each follows the RunRecord schema, belongs to the submitted suite, is part of its grid,
   ran with the suite's budget, evaluation protocol and configuration (``config_hash``), and is internally
   consistent (evaluation steps: exactly the protocol's, or for a kind that steps in whole iterations the
   first boundary at or after each protocol step, see :func:`eval_steps_problem`; final evaluation = last
   curve point = mean/std of its episode returns);
   no run appears twice and no run of the grid is missing;
5. **summary**: the submitter's claimed numbers equal what ``hyperbench report``'s code recomputes from the
   records (a tampered number is refused), one per registered metric; a metric registered after the entry
   was packed (not ``required``) may be absent. The records hash and compute totals match;
6. **checkpoints**: only safetensors weights and JSON run specs, listed with their SHA-256, matching the
   files, no pickle data anywhere (pickle is detected by parsing opcodes, never by loading), each spec
   equal to the suite's spec of that run;
7. **duplicates**: the id is not on the board yet, and the same records were not submitted before.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import itertools
import json
import math
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hyperbench.bench.bounded import InputError, load_json, load_yaml
from hyperbench.bench.files import atomic_publish_dir, atomic_write_json, new_tmp_dir
from hyperbench.bench.record import RecordError, RunRecord
from hyperbench.bench.registry import thaw
from hyperbench.bench.suite import RunSpec, Suite, SuiteError, parse_suite
from hyperbench.leaderboard.board import Leaderboard
from hyperbench.leaderboard.safety import check_payload_file, iter_non_finite, sha256_bytes
from hyperbench.leaderboard.submission import (
    ACTOR_FILE,
    ID_RE,
    KIND,
    POLICY_FILE,
    SCHEMA_VERSION,
    SYMLINK_PROBLEM,
    TOP_KEYS,
    Candidate,
    checkpoint_relpath,
    compute_totals,
    read_payload,
    records_sha256,
)

__all__ = ["SubmissionRejected", "Validation", "accept", "validate"]

#: Relative and absolute tolerance of the number comparisons (same code, possibly another machine's BLAS).
REL_TOL = 1e-9
ABS_TOL = 1e-9
_MAX_LISTED = 25
WEIGHT_FILES = (ACTOR_FILE, POLICY_FILE, "learner.safetensors")
SPEC_FILE = "spec.json"


class SubmissionRejected(ValueError):
    """A submission that does not validate; the message lists every problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"submission {source} rejected: {len(self.problems)} problem(s)\n{lines}")


@dataclass
class Validation:
    """The outcome of :func:`validate`."""

    problems: list[str]
    suite: Suite | None = None
    """the submitted suite (validated), if it parsed"""
    records: list[RunRecord] = field(default_factory=list)
    """the parsed records, if they all parsed"""
    current: bool = False
    """the suite is the board's current version"""

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return bool(a == b)
    return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _compare(claimed: Any, actual: Any, path: str, out: list[str]) -> None:
    """Append ``path: claims X, the records give Y`` for every difference between two JSON values."""
    if isinstance(actual, Mapping):
        if not isinstance(claimed, Mapping):
            out.append(f"{path}: claims {claimed!r}, the records give a mapping")
            return
        for key in sorted(set(actual) | set(claimed)):
            if key not in claimed:
                out.append(f"{path}.{key}: missing (the records give {actual[key]!r})")
            elif key not in actual:
                out.append(f"{path}.{key}: claims {claimed[key]!r}, which the records do not give")
            else:
                _compare(claimed[key], actual[key], f"{path}.{key}", out)
    elif not _close(claimed, actual):
        out.append(f"{path}: claims {claimed!r}, the records give {actual!r}")


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" … ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


def _check_schema(doc: Mapping[str, Any], problems: list[str]) -> bool:
    """Top-level keys and types; returns whether the document can be read further."""
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        problems.append(f"schema_version {version!r} is not supported (this hyperbench reads {SCHEMA_VERSION})")
        return False
    if doc.get("kind") != KIND:
        problems.append(f"'kind' must be {KIND!r}, got {doc.get('kind')!r}")
    for key in doc:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(str(key), TOP_KEYS, n=1)
            problems.append(f"unknown key {key!r}" + (f"; did you mean {close[0]!r}?" if close else ""))
    missing = [k for k in TOP_KEYS if k not in doc]
    if missing:
        problems.append(f"missing key(s): {', '.join(missing)}")
    types: dict[str, tuple[type, ...]] = {
        "id": (str,),
        "submitter": (str,),
        "date": (str,),
        "notes": (str,),
        "suite": (dict,),
        "provenance": (dict,),
        "summary": (dict, type(None)),
        "records": (list,),
        "records_sha256": (str,),
        "checkpoints": (list,),
    }
    readable = True
    for key, kinds in types.items():
        if key in doc and not isinstance(doc[key], kinds):
            problems.append(f"'{key}' must be {' or '.join(k.__name__ for k in kinds)}, got {type(doc[key]).__name__}")
            readable = readable and key not in ("suite", "records")
    sid = doc.get("id")
    if isinstance(sid, str) and not ID_RE.match(sid):
        problems.append(f"id {sid!r} must be lowercase letters, digits, '.', '-', '_' (at most 100 characters)")
    submitter = doc.get("submitter")
    if isinstance(submitter, str) and not (0 < len(submitter.strip()) <= 200):
        problems.append("submitter must be a non-empty name of at most 200 characters")
    date = doc.get("date")
    if isinstance(date, str):
        try:
            _dt.datetime.fromisoformat(date)
        except ValueError:
            problems.append(f"date {date!r} is not an ISO-8601 date")
    return readable and "suite" in doc and "records" in doc


def _check_suite(
    doc: Mapping[str, Any], board: Leaderboard, allow_old: bool, stored: bool, problems: list[str]
) -> tuple[Suite | None, bool]:
    meta = doc["suite"]
    for key, kind in (("name", str), ("version", int), ("hash", str), ("file", str), ("file_sha256", str)):
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            problems.append(f"suite.{key} must be {kind.__name__}, got {meta.get(key)!r}")
    text = meta.get("file")
    if not isinstance(text, str) or not text.strip():
        problems.append("suite.file must hold the text of the suite file")
        return None, False
    if meta.get("file_sha256") != sha256_bytes(text.encode("utf-8")):
        problems.append("suite.file_sha256 does not match the suite file text (the file was edited after packing)")
    try:
        suite = parse_suite(load_yaml(text, "the submitted suite file"), source="the submitted suite file")
    except SuiteError as exc:
        problems.extend(f"suite file: {p}" for p in exc.problems)
        return None, False
    except InputError as exc:
        problems.append(f"suite file: {exc}")
        return None, False
    for key, value in (("name", suite.name), ("version", suite.version), ("hash", suite.hash)):
        if meta.get(key) != value:
            problems.append(f"suite.{key} is {meta.get(key)!r} but the submitted suite file gives {value!r}")

    current = board.current_suite(suite.name)
    if current.suite is None:
        problems.append(str(current.problem))
        return suite, False
    cur = current.suite
    if suite.version > cur.version:
        problems.append(
            f"suite {suite.name!r} v{suite.version} is newer than the board's v{cur.version} ({current.path}); "
            "update the board's suite file first"
        )
        return suite, False
    if suite.version == cur.version:
        if suite.hash != cur.hash:
            problems.append(
                f"the submitted suite file differs from the board's {current.path} at the same version v{cur.version} "
                f"(hash {suite.hash} vs {cur.hash}): the protocol changed without a version bump; "
                "run the board's suite file as it is"
            )
            return suite, False
        return suite, True
    if not (allow_old or stored):
        problems.append(
            f"wrong suite version: suite {suite.name!r} is at v{cur.version} on this board ({current.path}) but these "
            f"runs used v{suite.version}; re-run with the current suite, or pass --allow-old-version to list the entry "
            f"under its own version (v{suite.version})"
        )
    for path in board.submission_files():
        if path.parent.name != suite.name or path.stem == doc.get("id"):
            continue
        try:
            other = load_json(path.read_bytes(), str(path)).get("suite", {})
        except (OSError, ValueError, AttributeError):
            continue
        if other.get("version") == suite.version and other.get("hash") != suite.hash:
            problems.append(
                f"entry {path.stem} of {suite.name!r} v{suite.version} used suite hash {other.get('hash')}, this one "
                f"{suite.hash}: one version must mean one protocol"
            )
            break
    return suite, False


def _record_label(raw: Any, index: int) -> str:
    if isinstance(raw, Mapping) and all(k in raw for k in ("method", "task", "seed")):
        return f"record {raw['method']}/{raw['task']}/seed-{raw['seed']}"
    return f"records[{index}]"


def _n_returns_ok(record: RunRecord, spec: RunSpec, is_family: bool) -> bool:
    assert record.final is not None
    n = len(record.final.returns)
    if not is_family:
        return n == spec.eval.episodes
    per_task = record.final.per_task_return
    if not per_task:
        return False
    if spec.eval.max_tasks is not None and len(per_task) > spec.eval.max_tasks:
        return False
    return n in (len(per_task), len(per_task) * spec.eval.episodes)


def _shown(mapping: Mapping[str, Any], key: str) -> str:
    return repr(mapping[key]) if key in mapping else "absent"


def _steps_in_iterations(method: str) -> bool:
    from hyperbench.bench.registry import UnknownMethodError, get_method

    try:
        return get_method(method).kind_object.steps_in_iterations
    except (UnknownMethodError, KeyError):  # an unknown method is reported elsewhere; hold it to the exact steps
        return False


def eval_steps_problem(steps: Sequence[int], expected: Sequence[int], frequency: int, in_iterations: bool) -> str | None:
    """What is wrong with a run's evaluation steps, or ``None``.

    A learner that steps one environment step at a time (SB3) is evaluated exactly at the protocol's steps.
    A learner that advances in whole iterations (``MethodKind.steps_in_iterations``: the meta learners) is
    evaluated at the first iteration boundary at or after a protocol step (the runner's callback), once for
    all the protocol steps that one iteration crossed. So its steps must increase, each must cover at least
    one protocol step not covered before, and the last must cover the budget. Each may lie past the largest
    protocol step it covers by less than one iteration. The iteration is bounded by ``g``, the greatest common
    divisor of the distances between consecutive evaluations (iterations after the first have one size, so
    every distance is a multiple of it); the first evaluation, whose iteration may be longer (PEARL's
    initial data collection), may lie up to ``max(g, frequency)`` past. A run that trained too long fails.

    :param steps: the record's evaluation steps
    :param expected: the protocol's steps (:func:`hyperbench.bench.runner.eval_points`)
    :param frequency: the protocol's evaluation period
    :param in_iterations: whether the method's kind steps in whole iterations
    """
    steps, expected = list(steps), list(expected)
    if steps == expected:
        return None
    what = f"evaluated at steps {steps}, the protocol gives {expected}"
    if not in_iterations or not steps:
        return what
    gaps = [b - a for a, b in itertools.pairwise(steps)]
    g = math.gcd(*gaps) if gaps else frequency
    previous = 0
    for i, step in enumerate(steps):
        covered = [p for p in expected if previous < p <= step]
        if not covered:
            return f"{what}: evaluation {i + 1} at step {step} covers no protocol step after {previous}"
        limit = max(g, frequency) if i == 0 else g
        if step - covered[-1] >= limit:
            return (
                f"{what}: evaluation {i + 1} at step {step} lies {step - covered[-1]} steps past protocol step "
                f"{covered[-1]}, not less than one iteration (at most {limit} steps, from the distances between "
                "evaluations): a learner that steps in whole iterations evaluates at the first boundary at or "
                "after the protocol's step"
            )
        previous = step
    if steps[-1] < expected[-1]:
        return f"{what}: the last evaluation, at step {steps[-1]}, is before the budget {expected[-1]}"
    return None


def _check_ood(record: RunRecord, label: str, has_ood_split: bool, problems: list[str]) -> None:
    """``final.ood``: present exactly for tasks with an out-of-distribution split, and internally consistent."""
    if not record.ok or record.final is None:
        return
    ood = record.final.ood
    if ood is None:
        if has_ood_split:
            problems.append(f"{label}: the task has out-of-distribution test tasks, but the record has no final.ood")
        return
    if not has_ood_split:
        problems.append(f"{label}: final.ood is given, but the task has no out-of-distribution test tasks")
        return
    returns = np.asarray(ood.returns, dtype=float)
    if not _close(float(np.mean(returns)), ood.return_mean) or not _close(float(np.std(returns)), ood.return_std):
        problems.append(f"{label}: final.ood return_mean / return_std are not the mean / std of its returns")
    if not ood.per_task_return or not _close(float(np.mean(list(ood.per_task_return.values()))), ood.return_mean):
        problems.append(f"{label}: final.ood per-task returns do not average to its return_mean")


def _check_record(record: RunRecord, spec: RunSpec, suite: Suite, families: Mapping[str, bool], problems: list[str]) -> None:
    from hyperbench.bench.runner import eval_points

    label = f"record {spec.run_id}"
    ref = record.suite
    if (ref.name, ref.version, ref.hash) != (suite.name, suite.version, suite.hash):
        problems.append(
            f"{label}: ran with suite {ref.name!r} v{ref.version} (hash {ref.hash}), not the submitted suite "
            f"{suite.name!r} v{suite.version} (hash {suite.hash})"
        )
    if record.method_id != spec.method_id:
        problems.append(f"{label}: method_id {record.method_id!r}, the suite says {spec.method_id!r}")
    if record.budget != spec.budget:
        problems.append(f"{label}: budget {record.budget} steps, the suite says {spec.budget}")
    got = (record.eval_frequency, record.eval_episodes, record.eval_max_tasks)
    want = (spec.eval.frequency, spec.eval.episodes, spec.eval.max_tasks)
    if got != want:
        problems.append(f"{label}: evaluation protocol (frequency, episodes, max_tasks) = {got}, the suite says {want}")
    if isinstance(record.config, Mapping):
        for part, want_part in (("hyperparameters", spec.config), ("env_kwargs", spec.env_kwargs)):
            got_part = record.config.get(part)
            want_plain = json.loads(json.dumps(thaw(want_part)))
            if isinstance(got_part, Mapping) and got_part != want_plain:
                missing = "(absent)"
                diff = sorted(
                    k for k in set(got_part) | set(want_plain) if got_part.get(k, missing) != want_plain.get(k, missing)
                )
                shown = ", ".join(f"{k}={_shown(got_part, k)} (suite: {_shown(want_plain, k)})" for k in diff[:8])
                problems.append(f"{label}: config.{part} differ from the suite's: {shown}")
    if record.config_hash != spec.config_hash:
        hyper = record.config.get("hyperparameters") if isinstance(record.config, Mapping) else None
        detail = ""
        if isinstance(hyper, Mapping):
            want_cfg = thaw(spec.config)
            diff = sorted(k for k in set(hyper) | set(want_cfg) if hyper.get(k) != want_cfg.get(k))
            if diff:
                detail = "; differing settings: " + ", ".join(
                    f"{k}={hyper.get(k)!r} (suite: {want_cfg.get(k)!r})" for k in diff[:8]
                )
        problems.append(f"{label}: configuration hash {record.config_hash}, the suite's run has {spec.config_hash}{detail}")
    if not record.ok:
        return
    final = record.final
    assert final is not None
    if record.steps_done < record.budget:
        problems.append(f"{label}: status ok after {record.steps_done} of {record.budget} steps")
    if final.step != record.steps_done:
        problems.append(f"{label}: final evaluation at step {final.step}, but the run took {record.steps_done} steps")
    if record.budget == spec.budget:
        expected_steps = eval_points(spec.budget, spec.eval.frequency)
        in_iterations = _steps_in_iterations(spec.method_id)
        problem = eval_steps_problem(list(record.curve.steps), expected_steps, spec.eval.frequency, in_iterations)
        if problem:
            problems.append(f"{label}: {problem}")
    if not record.curve.return_mean or not _close(record.curve.return_mean[-1], final.return_mean):
        problems.append(f"{label}: final return_mean {final.return_mean} is not the last point of its learning curve")
    if not final.returns:
        problems.append(f"{label}: the final evaluation lists no episode returns")
        return
    returns = np.asarray(final.returns, dtype=float)
    if not _close(float(np.mean(returns)), final.return_mean):
        problems.append(
            f"{label}: final return_mean {final.return_mean} is not the mean of its episode returns "
            f"({float(np.mean(returns))})"
        )
    if not _close(float(np.std(returns)), final.return_std):
        problems.append(f"{label}: final return_std {final.return_std} is not the std of its episode returns")
    if not _n_returns_ok(record, spec, families.get(spec.task, False)):
        problems.append(
            f"{label}: {len(final.returns)} evaluation returns do not fit the protocol ({spec.eval.episodes} episodes)"
        )
    if final.episodes is not None:
        _check_episodes(label, final.episodes, returns, problems)
    if final.per_task_return:
        per_task_mean = float(np.mean(list(final.per_task_return.values())))
        if not _close(per_task_mean, final.return_mean):
            problems.append(
                f"{label}: per-task returns average {per_task_mean}, not the final return_mean {final.return_mean}"
            )


def _check_episodes(label: str, episodes: Mapping[str, Any], returns: np.ndarray, problems: list[str]) -> None:
    """A schema-2 record's headline samples must be what its declared headline selects from its episode matrix."""
    from hyperbench.meta.rollout import Headline

    try:
        headline = Headline.from_dict(episodes["headline"])
        samples = headline.samples(np.asarray(episodes["returns"], dtype=float), episodes["phases"])
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{label}: final.episodes does not define a headline over its episodes ({exc})")
        return
    if samples.size != returns.size or not np.allclose(samples.reshape(-1), returns, rtol=1e-9, atol=1e-9):
        problems.append(
            f"{label}: final.returns are not the headline {headline.to_dict()} of its per-episode matrix "
            "(final.episodes.returns)"
        )


def _check_records(doc: Mapping[str, Any], suite: Suite | None, problems: list[str]) -> list[RunRecord] | None:
    """Parse and check the records; returns them when every record parsed."""
    from hyperbench.bench.tasks import UnknownTaskError, resolve_task

    parsed: list[RunRecord] = []
    unparsed_keys: set[tuple[Any, Any, Any]] = set()  # records that exist but do not parse (reported already)
    all_parsed = True
    for i, raw in enumerate(doc["records"]):
        try:
            parsed.append(RunRecord.from_dict(raw, source=_record_label(raw, i)))
        except RecordError as exc:
            problems.append(str(exc))
            all_parsed = False
            if isinstance(raw, Mapping):
                unparsed_keys.add((raw.get("method"), raw.get("task"), raw.get("seed")))
    if not doc["records"]:
        problems.append("the submission holds no run records")
    if suite is None:
        return parsed if all_parsed else None
    grid = {(s.method, s.task, s.seed): s for s in suite.grid()}
    families: dict[str, bool] = {}
    ood_split: dict[str, bool] = {}
    for t in suite.tasks:
        try:
            handle = resolve_task(t.name, t.env_kwargs)
            families[t.name], ood_split[t.name] = handle.is_family, handle.has_ood_split
        except UnknownTaskError:
            families[t.name] = ood_split[t.name] = False
    seen: dict[tuple[str, str, int], int] = {}
    outside: list[str] = []
    for record in parsed:
        key = record.key
        run_id = f"{key[0]}/{key[1]}/seed-{key[2]}"
        if key in seen:
            problems.append(f"duplicate run {run_id}: it appears {seen[key] + 1} times (each seed may be submitted once)")
            seen[key] += 1
            continue
        seen[key] = 1
        if key not in grid:
            outside.append(run_id)
            continue
        _check_record(record, grid[key], suite, families, problems)
        _check_ood(record, f"record {grid[key].run_id}", ood_split.get(record.task, False), problems)
    if outside:
        problems.append(
            f"{len(outside)} record(s) are not part of suite {suite.name!r}'s grid (methods {', '.join(suite.method_names)}; "
            f"tasks {', '.join(suite.task_names)}; seeds {', '.join(map(str, suite.seeds))}): {_listing(outside)}"
        )
    missing = [f"{m}/{t}/seed-{s}" for (m, t, s) in grid if (m, t, s) not in seen and (m, t, s) not in unparsed_keys]
    if missing:
        problems.append(f"incomplete grid: {len(missing)} of {len(grid)} runs have no record: {_listing(missing)}")
    return parsed if all_parsed else None


def _check_checkpoints(
    candidate: Candidate, suite: Suite | None, records: Sequence[RunRecord] | None, problems: list[str]
) -> None:
    """Check the listed checkpoint files; ``records`` is ``None`` when some record did not parse."""
    doc = candidate.doc
    assert doc is not None
    ok_runs = None if records is None else {r.key for r in records if r.ok}
    seen: set[tuple[str, str, int]] = set()
    for i, entry in enumerate(doc.get("checkpoints") or []):
        where = f"checkpoints[{i}]"
        if not isinstance(entry, Mapping) or set(entry) != {"method", "task", "seed", "files"}:
            problems.append(f"{where}: must be an object with exactly method, task, seed, files")
            continue
        method, task, seed, files = entry["method"], entry["task"], entry["seed"], entry["files"]
        if (
            not isinstance(method, str)
            or not isinstance(task, str)
            or not isinstance(seed, int)
            or not isinstance(files, Mapping)
        ):
            problems.append(f"{where}: method and task must be strings, seed an integer, files an object")
            continue
        key = (method, task, seed)
        where = f"checkpoint {method}/{task}/seed-{seed}"
        if key in seen:
            problems.append(f"{where}: listed twice")
            continue
        seen.add(key)
        if ok_runs is not None and key not in ok_runs:
            problems.append(f"{where}: no finished run of the submission has this key")
        names = [n for n in files if isinstance(n, str)]
        weights = [n for n in names if n in WEIGHT_FILES]
        if len(weights) != 1 or SPEC_FILE not in names:
            problems.append(
                f"{where}: must hold one of {', '.join(WEIGHT_FILES)} and {SPEC_FILE}, got {', '.join(names) or 'nothing'}"
            )
        for name, meta in files.items():
            if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
                problems.append(f"{where}: bad file name {name!r}")
                continue
            rel = checkpoint_relpath(method, task, seed, name)
            if (
                not isinstance(meta, Mapping)
                or not isinstance(meta.get("sha256"), str)
                or not isinstance(meta.get("bytes"), int)
            ):
                problems.append(f"{where}/{name}: needs 'sha256' and 'bytes'")
                continue
            src = candidate.files.get(rel)
            if (
                src is not None
                and not isinstance(src, bytes)
                and any(p.is_symlink() for p in (src, *src.parents[: len(rel.split("/"))]))
            ):
                problems.append(f"{where}/{name}: {SYMLINK_PROBLEM}")
                continue
            if src is None or (not isinstance(src, bytes) and not src.is_file()):
                problems.append(f"{where}/{name}: file missing (expected next to the submission in <id>/{rel})")
                continue
            data = read_payload(src)
            issue = check_payload_file(name, data)
            if issue is not None:
                problems.append(f"{where}/{name}: {issue}")
                continue
            if len(data) != meta["bytes"] or sha256_bytes(data) != meta["sha256"]:
                problems.append(f"{where}/{name}: content does not match its listed SHA-256 (changed after packing)")
                continue
            if name == SPEC_FILE and suite is not None and key in {(s.method, s.task, s.seed) for s in suite.grid()}:
                spec = load_json(data, f"{where}/{name}")
                want = json.loads(json.dumps(suite.run_spec(method, task, seed).to_dict()))
                if spec != want:
                    diff = (
                        sorted(k for k in set(spec) | set(want) if spec.get(k) != want.get(k))
                        if isinstance(spec, dict)
                        else []
                    )
                    problems.append(
                        f"{where}/{name}: is not the suite's spec of this run (differs in {', '.join(diff) or 'type'})"
                    )
    for rel, path in candidate.unlisted.items():
        issue = check_payload_file(rel, path.read_bytes())
        problems.append(f"checkpoint directory: file {rel} is not listed in the submission" + (f" ({issue})" if issue else ""))


def validate(candidate: Candidate, board: Leaderboard, *, allow_old_version: bool = False, stored: bool = False) -> Validation:
    """Check a submission against the board; nothing is written.

    :param candidate: from :func:`~hyperbench.leaderboard.submission.pack_runs` or
        :func:`~hyperbench.leaderboard.submission.read_submission_file`
    :param board: the leaderboard it is meant for
    :param allow_old_version: accept runs of an older version of the suite (listed under that version)
    :param stored: the submission is already on the board (re-validation by ``build``): skip the
        duplicate checks against itself and accept older suite versions
    :return: every problem found, and the parsed suite and records
    """
    problems = list(candidate.problems)
    doc = candidate.doc
    if doc is None:
        return Validation(problems)
    if not _check_schema(doc, problems):
        return Validation(problems)
    bad = [p for p in iter_non_finite(doc) if not p.startswith("records[")]
    for i, raw in enumerate(doc["records"]):
        bad.extend(f"{_record_label(raw, i)}: {p}" for p in iter_non_finite(raw))
    if bad:
        problems.append(f"non-finite numbers ({len(bad)}; JSON has no NaN or Infinity): {_listing(bad)}")
    suite, current = _check_suite(doc, board, allow_old_version, stored, problems)
    records = _check_records(doc, suite, problems)

    if doc.get("records_sha256") != records_sha256(doc["records"]):
        problems.append("records_sha256 does not match the records (they were edited after packing)")
    prov = doc.get("provenance")
    if isinstance(prov, Mapping):
        claimed = prov.get("compute")
        timings: list[Mapping[str, Any]] = [
            r["timing"] if isinstance(r, Mapping) and isinstance(r.get("timing"), Mapping) else {} for r in doc["records"]
        ]
        actual = compute_totals(timings)
        diffs: list[str] = []
        _compare(claimed, actual, "provenance.compute", diffs)
        problems.extend(diffs)

    _check_checkpoints(candidate, suite, records, problems)

    if suite is not None and records is not None and not problems:
        from hyperbench.leaderboard.scores import POINT_REPS, comparable_summary, compute_scores, summarise_scores

        summary = doc.get("summary")
        if summary is None:
            problems.append("summary: missing (pack the submission with `hyperbench submit`)")
        else:
            actual_summary = comparable_summary(
                summarise_scores(compute_scores(suite, doc["records"], reps=POINT_REPS, plots=False).scores), summary
            )
            diffs = []
            _compare(summary, actual_summary, "summary", diffs)
            problems.extend(f"tampered number: {d}" for d in diffs)

    if not stored and isinstance(doc.get("id"), str):
        ids = board.ids()
        if doc["id"] in ids:
            problems.append(f"duplicate id: a submission {doc['id']!r} is already on the board ({ids[doc['id']]})")
        previous = board.records_hashes().get(str(doc.get("records_sha256")))
        if previous is not None:
            problems.append(f"duplicate submission: these records were already submitted as {previous!r}")
    return Validation(problems, suite=suite, records=records or [], current=current)


def accept(candidate: Candidate, board: Leaderboard, *, allow_old_version: bool = False) -> tuple[Validation, str]:
    """Validate, then write the submission (checkpoints first, the JSON last: the JSON is the commit point).

    :param candidate: the submission
    :param board: the leaderboard
    :param allow_old_version: see :func:`validate`
    :return: the validation and the path of the written JSON
    :raises SubmissionRejected: listing every problem; nothing is written
    """
    validation = validate(candidate, board, allow_old_version=allow_old_version)
    if not validation.ok:
        raise SubmissionRejected(candidate.source, validation.problems)
    doc = candidate.doc
    assert doc is not None and validation.suite is not None
    suite_name, sid = validation.suite.name, doc["id"]
    target = board.submission_path(suite_name, sid)
    with board.lock():
        if target.exists():  # another process accepted the same id meanwhile
            raise SubmissionRejected(candidate.source, [f"duplicate id: {target} appeared while validating"])
        ckpt = board.checkpoint_dir(suite_name, sid)
        if ckpt.exists():  # left by a writer killed before its JSON was written: no submission owns it
            shutil.rmtree(ckpt)
        published = False
        if candidate.files and doc.get("checkpoints"):
            tmp = new_tmp_dir(ckpt.parent, ckpt.name)
            try:
                for rel, src in candidate.files.items():
                    dest = tmp / rel
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(src, bytes):
                        dest.write_bytes(src)
                    else:
                        shutil.copyfile(src, dest)
                atomic_publish_dir(tmp, ckpt)
                published = True
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        try:
            atomic_write_json(target, doc)
        except BaseException:
            if published:
                shutil.rmtree(ckpt, ignore_errors=True)
            raise
    return validation, str(target)
