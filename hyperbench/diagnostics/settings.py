"""The ``diagnostics`` block of a suite file: which diagnostics the runner records during training.

::

    diagnostics:
      grad_cs:                    # gradient accuracy of the critic (hyperbench.diagnostics.grad_cs)
        steps: [2000, 5000, 10000]   # measure when training reaches these environment steps
        states: 15                # N states (default 15)
        actions: 15               # M actions per state (default 15)
        std: 0.3                  # action perturbation σ (default 0.3)
        hold: 3                   # steps each perturbed action is held (default 3)
        max_rollout_steps: null   # cut rollouts early and bootstrap (default: at the episode's time limit)
        head: actor               # "actor" or "q1" (default actor)
        methods: [td3-mlp]        # optional: only these method labels (default: every TD3/SAC/TQC method)

Only ``steps`` is required. The block is plain data (no torch import), checked by :func:`parse_diagnostics`
when the suite is loaded; the runner measures methods of kind ``sb3`` whose algorithm is TD3, SAC or TQC
(others are skipped) and stores the measurements next to the run's record.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DIAGNOSTIC_KEYS", "GRAD_CS_KEYS", "grad_cs_config", "parse_diagnostics"]

#: Diagnostics a suite may ask for.
DIAGNOSTIC_KEYS: tuple[str, ...] = ("grad_cs",)
#: Keys of the ``grad_cs`` block.
GRAD_CS_KEYS: tuple[str, ...] = ("steps", "states", "actions", "std", "hold", "max_rollout_steps", "head", "methods")
_HEADS = ("actor", "q1")


def _hint(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else f"; valid: {', '.join(options)}"


def _positive_int(value: Any, where: str, problems: list[str], minimum: int = 1) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(f"{where} must be an integer ≥ {minimum}, got {value!r}")
        return None
    return value


def parse_diagnostics(
    value: Any, method_labels: Sequence[str], problems: list[str], max_budget: int | None = None
) -> dict[str, Any]:
    """Validate a suite's ``diagnostics`` block into plain values (problems are appended, not raised).

    :param value: the decoded YAML value (``None`` if the key is absent)
    :param method_labels: the suite's method labels (``methods`` must name some of them)
    :param problems: list that collects every problem found
    :param max_budget: the largest training budget of the suite (a step beyond it would never be measured)
    :return: ``{"grad_cs": {...}}`` with every key filled in, or ``{}``
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"diagnostics must be a mapping, got {type(value).__name__}")
        return {}
    for key in value:
        if key not in DIAGNOSTIC_KEYS:
            problems.append(f"diagnostics: unknown diagnostic {key!r}{_hint(str(key), DIAGNOSTIC_KEYS)}")
    out: dict[str, Any] = {}
    if "grad_cs" in value:
        block = _parse_grad_cs(value["grad_cs"], method_labels, problems, max_budget)
        if block is not None:
            out["grad_cs"] = block
    return out


def _parse_grad_cs(
    raw: Any, method_labels: Sequence[str], problems: list[str], max_budget: int | None
) -> dict[str, Any] | None:
    where = "diagnostics.grad_cs"
    if not isinstance(raw, Mapping):
        problems.append(f"{where} must be a mapping with at least 'steps', got {type(raw).__name__}")
        return None
    n_before = len(problems)
    for key in raw:
        if key not in GRAD_CS_KEYS:
            problems.append(f"{where}: unknown key {key!r}{_hint(str(key), GRAD_CS_KEYS)}")
    steps_raw = raw.get("steps")
    steps: list[int] = []
    if not isinstance(steps_raw, list) or not steps_raw:
        problems.append(f"{where}.steps must be a non-empty list of environment steps, got {steps_raw!r}")
    else:
        checked = [_positive_int(s, f"{where}.steps[{i}]", problems) for i, s in enumerate(steps_raw)]
        steps = sorted({s for s in checked if s is not None})
        beyond = [s for s in steps if max_budget is not None and s > max_budget]
        if beyond:
            problems.append(f"{where}.steps {beyond} are beyond every task's budget (at most {max_budget}): never measured")
    block: dict[str, Any] = {
        "steps": steps,
        "states": _positive_int(raw.get("states", 15), f"{where}.states", problems),
        "actions": _positive_int(raw.get("actions", 15), f"{where}.actions", problems, minimum=3),
        "hold": _positive_int(raw.get("hold", 3), f"{where}.hold", problems),
        "std": raw.get("std", 0.3),
        "max_rollout_steps": raw.get("max_rollout_steps"),
        "head": raw.get("head", "actor"),
        "methods": raw.get("methods"),
    }
    std = block["std"]
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not (std > 0 and math.isfinite(std)):
        problems.append(f"{where}.std must be a positive number, got {std!r}")
    else:
        block["std"] = float(std)
    if block["max_rollout_steps"] is not None:
        _positive_int(block["max_rollout_steps"], f"{where}.max_rollout_steps", problems)
    if block["head"] not in _HEADS:
        problems.append(f"{where}.head must be one of {list(_HEADS)}, got {block['head']!r}")
    methods = block["methods"]
    if methods is not None:
        if not isinstance(methods, list) or not methods or not all(isinstance(m, str) for m in methods):
            problems.append(f"{where}.methods must be a non-empty list of method labels, got {methods!r}")
        else:
            for m in methods:
                if m not in method_labels:
                    problems.append(f"{where}.methods: {m!r} is not a method of this suite{_hint(m, method_labels)}")
    return block if len(problems) == n_before else None


def grad_cs_config(block: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`~hyperbench.diagnostics.grad_cs.GradCSConfig` keyword arguments of a parsed ``grad_cs`` block.

    :param block: the parsed block
    """
    return {k: block[k] for k in ("states", "actions", "std", "hold", "max_rollout_steps", "head") if k in block}
