"""``hyperbench leaderboard verify ID --sample K``: re-evaluate submitted checkpoints on fresh evaluation seeds.

For each of ``K`` checkpoints drawn at random (seeded, so a verification can be repeated), the network is
rebuilt by the method registry from the run's JSON spec (``spec.json`` = the suite's
:class:`~hyperbench.bench.suite.RunSpec`), the safetensors weights are loaded into it
(:func:`safetensors.torch.load_model`, strict, into ``policy.actor`` for ``actor.safetensors`` and into
the whole policy for ``policy.safetensors``; nothing is unpickled), and the policy is evaluated with
the suite's evaluation protocol through the same method-kind objects as the runner
(:mod:`hyperbench.bench.kinds`: SB3's ``evaluate_policy`` with deterministic actions, the protocol's episodes
and held-out test tasks; meta learners through their ``evaluate(tasks, n_episodes, seed)``, scored by the
headline they declare), but with **fresh evaluation seeds** derived from the verification seed instead of
the run's.

**Tolerance.** A checkpoint agrees with its record when

    |mean re-evaluated return − submitted final return_mean|
        ≤ max(normalised × |reference − random|,  z × sqrt(s₁²/n₁ + s₂²/n₂))

with the task's (random, reference) returns of ``hyperbench report``'s normalisation (or the submitted
mean's magnitude, at least 1, for tasks without reference scores), s and n the standard deviation
(ddof 1) and number of the submitted and re-evaluated episode returns (one sample's s stands in for the
other's when that one has a single episode). Defaults: ``normalised = 0.1`` (a tenth of the task's
random-to-reference range) and ``z = 4`` (fresh seeds give another sample of the same return
distribution; 4 standard errors keeps honest entries from failing by chance). The entry is **verified**
when every sampled checkpoint agrees; otherwise every discrepancy is reported. Results are appended to
``leaderboard/verifications/<suite>/<id>.json`` and shown on the board after the next build.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hyperbench.bench.files import atomic_write_json
from hyperbench.bench.record import RunRecord
from hyperbench.bench.suite import RunSpec, Suite
from hyperbench.leaderboard.board import Leaderboard
from hyperbench.leaderboard.submission import checkpoint_relpath, read_submission_file
from hyperbench.leaderboard.validate import WEIGHT_FILES, SubmissionRejected, validate

__all__ = ["Tolerance", "VerifyError", "check_verification", "reevaluate", "verify_submission"]

VERIFICATION_SCHEMA_VERSION = 1
VERIFICATION_KIND = "hyperbench.Verification"
#: Episodes a re-evaluation runs at least when the record has a single one: the standard error of the
#: difference needs a spread, and one episode has none (it is then estimated from the re-evaluation).
MIN_SPREAD_EPISODES = 5


class VerifyError(RuntimeError):
    """A submission that cannot be verified (no checkpoints, method unavailable here)."""


@dataclass(frozen=True)
class Tolerance:
    """When a re-evaluated score agrees with the submitted one (see the module docstring)."""

    normalised: float = 0.1
    """allowed difference as a fraction of the task's |reference − random| return range"""
    z: float = 4.0
    """allowed difference in standard errors of the difference of the two means"""


def _scale(suite: Suite, task: str, submitted_mean: float) -> float:
    from hyperbench.bench.stats import default_reference
    from hyperbench.bench.tasks import UnknownTaskError, resolve_task

    entry = suite.task(task)
    try:
        name = resolve_task(task, entry.env_kwargs).reference_name
    except UnknownTaskError:
        name = task
    ref = default_reference(name) or entry.reference
    if ref is not None and ref[1] != ref[0]:
        return abs(ref[1] - ref[0])
    return max(abs(submitted_mean), 1.0)


def _std(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1)) if len(values) >= 2 else None


def allowed_difference(
    submitted: list[float], reevaluated: list[float], scale: float, tolerance: Tolerance
) -> tuple[float, float]:
    """The tolerance of one comparison.

    :param submitted: the record's final episode returns
    :param reevaluated: the re-evaluation's episode returns
    :param scale: |reference − random| of the task (or the fallback scale)
    :param tolerance: settings
    :return: ``(allowed difference, standard error of the difference)``
    """
    s1, s2 = _std(submitted), _std(reevaluated)
    s1 = s1 if s1 is not None else (s2 or 0.0)
    s2 = s2 if s2 is not None else s1
    se = math.sqrt(s1**2 / max(len(submitted), 1) + s2**2 / max(len(reevaluated), 1))
    return max(tolerance.normalised * scale, tolerance.z * se), se


def reevaluate(spec: RunSpec, weights: Path, eval_seed: int, episodes: int | None = None) -> list[float]:
    """Rebuild a run's policy from its spec, load its safetensors weights, evaluate it on fresh seeds.

    :param spec: the run (the suite's spec; the submitted ``spec.json`` was checked equal to it)
    :param weights: ``actor.safetensors`` (SB3: ``policy.actor``'s ``state_dict``), ``policy.safetensors``
        (SB3: the whole policy's) or ``learner.safetensors`` (a meta learner's own safetensors checkpoint)
    :param eval_seed: seed of the evaluation episodes (differs from the run's seed)
    :param episodes: episodes per task (default: the protocol's)
    :return: every evaluation episode's return
    :raises VerifyError: if the method cannot run here
    """
    import torch

    from hyperbench.bench.registry import BuildContext, get_method
    from hyperbench.bench.tasks import resolve_task

    torch.set_num_threads(1)
    method = get_method(spec.method_id)
    reason = method.availability()
    if reason is not None:
        raise VerifyError(reason)
    task = resolve_task(spec.task, spec.env_kwargs)
    config = dict(spec.config)
    if isinstance(config.get("buffer_size"), int):  # the replay buffer is not part of the policy: keep it small
        config["buffer_size"] = min(config["buffer_size"], 1000)
    ctx = BuildContext(config=config, seed=spec.seed, task=task)
    kind = method.kind_object
    kind.prepare(method, ctx)
    learner = kind.load_policy(method, weights, ctx, eval_seed)
    protocol = spec.eval if episodes is None else dataclasses.replace(spec.eval, episodes=episodes)
    evaluator = kind.evaluator(method, task, protocol, eval_seed, fresh=True)
    try:
        outcome = evaluator(learner)
    finally:
        evaluator.close()
        kind.close(learner)
    return [float(r) for r in outcome.returns]


def _utcnow() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def verify_submission(
    board: Leaderboard,
    submission_id: str,
    *,
    sample: int = 3,
    seed: int | None = None,
    tolerance: Tolerance | None = None,
    write: bool = True,
) -> dict[str, Any]:
    """Re-evaluate ``sample`` checkpoints of a submission and record whether they agree with its records.

    :param board: the leaderboard
    :param submission_id: the submission
    :param sample: number of checkpoints to re-evaluate (all of them if fewer)
    :param seed: verification seed (draws the checkpoints and the evaluation seeds); random by default,
        stored with the result so the verification can be repeated
    :param tolerance: agreement rule
    :param write: append the result to the board's verification file
    :return: the verification attempt (``status`` ``"verified"`` or ``"discrepancy"``, per-run ``checks``)
    :raises KeyError: unknown id (naming close ones)
    :raises SubmissionRejected: the stored submission does not validate
    :raises VerifyError: no checkpoints, or the method cannot run here
    """
    if sample < 1:
        raise ValueError(f"--sample must be at least 1, got {sample}")
    tolerance = tolerance or Tolerance()
    path = board.find(submission_id)
    candidate = read_submission_file(path)
    validation = validate(candidate, board, stored=True)
    if not validation.ok:
        raise SubmissionRejected(str(path), validation.problems)
    doc = candidate.doc
    suite = validation.suite
    assert doc is not None and suite is not None
    checkpoints = [c for c in doc.get("checkpoints") or [] if isinstance(c, Mapping)]
    if not checkpoints:
        raise VerifyError(
            f"submission {submission_id!r} carries no checkpoints, so it cannot be re-evaluated "
            "(runs must be made with `hyperbench run --save-policies`)"
        )
    seed = secrets.randbits(31) if seed is None else int(seed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E51F1]))
    chosen_idx = sorted(rng.choice(len(checkpoints), size=min(sample, len(checkpoints)), replace=False).tolist())
    records: dict[tuple[str, str, int], RunRecord] = {r.key: r for r in validation.records}
    checks: list[dict[str, Any]] = []
    for idx in chosen_idx:
        entry = checkpoints[idx]
        key = (entry["method"], entry["task"], int(entry["seed"]))
        record = records[key]
        assert record.final is not None
        spec = suite.run_spec(*key)
        weights_name = next(n for n in entry["files"] if n in WEIGHT_FILES)
        weights = candidate.files[checkpoint_relpath(*key, weights_name)]
        assert isinstance(weights, Path)  # a stored submission's files are on disk
        eval_seed = int(rng.integers(0, 2**31 - 1))
        if eval_seed == record.seed:
            eval_seed += 1
        submitted = list(record.final.returns)
        episodes = None
        note = None
        if len(submitted) < 2:  # one episode has no spread: estimate it from a longer re-evaluation
            episodes = max(spec.eval.episodes, MIN_SPREAD_EPISODES)
            note = (
                f"the record has {len(submitted)} evaluation episode, so its spread is estimated from the "
                f"re-evaluation's {episodes}"
            )
        returns = reevaluate(spec, weights, eval_seed, episodes)
        new_mean = float(np.mean(returns))
        diff = new_mean - record.final.return_mean
        scale = _scale(suite, spec.task, record.final.return_mean)
        allowed, se = allowed_difference(submitted, returns, scale, tolerance)
        checks.append(
            {
                "run": spec.run_id,
                "weights": weights_name,
                "sha256": entry["files"][weights_name]["sha256"],
                "eval_seed": eval_seed,
                "submitted": {"mean": record.final.return_mean, "std": record.final.return_std, "n": len(submitted)},
                "reevaluated": {"mean": new_mean, "std": float(np.std(returns)), "n": len(returns), "returns": returns},
                "difference": diff,
                "scale": scale,
                "standard_error": se,
                "allowed": allowed,
                "agree": abs(diff) <= allowed,
                **({"note": note} if note else {}),
            }
        )
    from hyperbench.version import __version__

    attempt = {
        "date": _utcnow(),
        "status": "verified" if all(c["agree"] for c in checks) else "discrepancy",
        "sample": len(checks),
        "of": len(checkpoints),
        "seed": seed,
        "records_sha256": doc["records_sha256"],
        "tolerance": {"normalised": tolerance.normalised, "z": tolerance.z},
        "hyperbench": __version__,
        "checks": checks,
    }
    if write:
        target = board.verification_path(suite.name, doc["id"])
        with board.lock():
            history: dict[str, Any] = {
                "schema_version": VERIFICATION_SCHEMA_VERSION,
                "kind": VERIFICATION_KIND,
                "submission": doc["id"],
                "suite": {"name": suite.name, "version": suite.version, "hash": suite.hash},
                "attempts": [],
            }
            if target.is_file():
                try:
                    previous = json.loads(target.read_text(encoding="utf-8"))
                    if isinstance(previous, dict) and isinstance(previous.get("attempts"), list):
                        history["attempts"] = previous["attempts"]
                except (OSError, ValueError):
                    pass
            history["attempts"].append(attempt)
            atomic_write_json(target, history)
    return attempt


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check_verification(history: Any, doc: Mapping[str, Any], suite: Suite, records: list[RunRecord]) -> list[str]:
    """Check a verification file against the entry it claims to verify; the build shows only files that pass.

    The latest attempt must follow the schema :func:`verify_submission` writes, name this submission, its suite
    (name, version, hash), its records (``records_sha256``) and, per check, a run and weights file the entry
    carries with that file's SHA-256; its submitted numbers must be the records', its re-evaluated mean and
    count those of its returns, and every ``allowed`` / ``agree`` / ``status`` what the agreement rule gives.
    Attempts written before the hashes were recorded (no ``records_sha256``) are checked for everything else.
    What cannot be checked without re-running is whether the returns came from evaluating the weights: a
    verification file is its verifier's word (``docs/threat-model.md``).

    :param history: the decoded verification file
    :param doc: the submission document
    :param suite: its suite
    :param records: its parsed records
    :return: every problem found (empty: the latest attempt may be shown)
    """
    if not isinstance(history, Mapping):
        return ["not a JSON object"]
    problems: list[str] = []
    if history.get("schema_version") != VERIFICATION_SCHEMA_VERSION or history.get("kind") != VERIFICATION_KIND:
        return [f"not a {VERIFICATION_KIND} file of schema_version {VERIFICATION_SCHEMA_VERSION}"]
    if history.get("submission") != doc.get("id"):
        problems.append(f"it verifies submission {history.get('submission')!r}, not {doc.get('id')!r}")
    want_suite = {"name": suite.name, "version": suite.version, "hash": suite.hash}
    if history.get("suite") != want_suite:
        problems.append(f"its suite {history.get('suite')!r} is not the entry's {want_suite}")
    attempts = history.get("attempts")
    if not isinstance(attempts, list) or not attempts or not isinstance(attempts[-1], Mapping):
        return [*problems, "no attempts"]
    attempt = attempts[-1]
    if "records_sha256" in attempt and attempt["records_sha256"] != doc.get("records_sha256"):
        problems.append("its records_sha256 is not the entry's (it verified other records)")
    tol = attempt.get("tolerance")
    if not isinstance(tol, Mapping) or not all(_finite(tol.get(k)) and tol[k] >= 0 for k in ("normalised", "z")):
        return [*problems, "tolerance must hold finite, non-negative 'normalised' and 'z'"]
    tolerance = Tolerance(normalised=float(tol["normalised"]), z=float(tol["z"]))
    checks = attempt.get("checks")
    entries = {
        f"{c['method']}/{c['task']}/seed-{c['seed']}": c for c in doc.get("checkpoints") or [] if isinstance(c, Mapping)
    }
    by_run = {f"{r.method}/{r.task}/seed-{r.seed}": r for r in records}
    if not isinstance(checks, list) or not checks:
        return [*problems, "the latest attempt lists no checks"]
    if attempt.get("sample") != len(checks) or attempt.get("of") != len(entries):
        problems.append(
            f"sample/of are {attempt.get('sample')!r}/{attempt.get('of')!r}, the file lists {len(checks)} of {len(entries)}"
        )
    seen: set[str] = set()
    all_agree = True
    for i, check in enumerate(checks):
        where = f"checks[{i}]"
        if not isinstance(check, Mapping) or not isinstance(check.get("run"), str):
            problems.append(f"{where}: not a check")
            continue
        run = check["run"]
        where = f"check {run}"
        entry, record = entries.get(run), by_run.get(run)
        if entry is None or record is None or record.final is None or run in seen:
            problems.append(f"{where}: not a checkpoint of this entry (or listed twice)")
            continue
        seen.add(run)
        if "sha256" in check:
            listed = (entry.get("files") or {}).get(check.get("weights"), {})
            if not isinstance(listed, Mapping) or check["sha256"] != listed.get("sha256"):
                problems.append(f"{where}: verified weights with SHA-256 {str(check['sha256'])[:12]}…, not the entry's file")
        elif "records_sha256" in attempt:
            problems.append(f"{where}: no SHA-256 of the weights it evaluated")
        sub, new = check.get("submitted"), check.get("reevaluated")
        if not isinstance(sub, Mapping) or not isinstance(new, Mapping):
            problems.append(f"{where}: needs 'submitted' and 'reevaluated'")
            continue
        returns = new.get("returns")
        if not isinstance(returns, list) or not returns or not all(_finite(r) for r in returns):
            problems.append(f"{where}: reevaluated.returns must be a non-empty list of finite numbers")
            continue
        submitted = list(record.final.returns)
        mean = float(np.mean(returns))
        if not (_close(sub.get("mean"), record.final.return_mean) and sub.get("n") == len(submitted)):
            problems.append(f"{where}: submitted mean/n are not the record's ({record.final.return_mean}, {len(submitted)})")
        if not (_close(new.get("mean"), mean) and new.get("n") == len(returns)):
            problems.append(f"{where}: reevaluated mean/n are not those of its returns")
        diff = mean - record.final.return_mean
        allowed, _se = allowed_difference(
            submitted, [float(r) for r in returns], _scale(suite, record.task, record.final.return_mean), tolerance
        )
        if not (_close(check.get("difference"), diff) and _close(check.get("allowed"), allowed)):
            problems.append(f"{where}: difference/allowed are not what the agreement rule gives ({diff:.6g}, {allowed:.6g})")
        agree = abs(diff) <= allowed
        all_agree = all_agree and agree
        if check.get("agree") is not agree:
            problems.append(f"{where}: 'agree' is {check.get('agree')!r}, the agreement rule gives {agree}")
    want_status = "verified" if all_agree else "discrepancy"
    if not problems and attempt.get("status") != want_status:
        problems.append(f"status {attempt.get('status')!r}, its checks give {want_status!r}")
    return problems


def _close(a: Any, b: float) -> bool:
    return _finite(a) and math.isclose(float(a), b, rel_tol=1e-9, abs_tol=1e-9)
