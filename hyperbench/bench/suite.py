"""Suite files: YAML → validated, frozen dataclasses → the grid of runs.

A suite names methods × tasks × seeds, the training budget and the evaluation protocol::

    name: mini-rl                 # lowercase letters, digits, '-', '_'
    version: 1                    # bump on any change of protocol
    description: one paragraph    # optional
    baseline: td3-mlp             # label of one of the methods below (comparisons are against it)
    seeds: 5                      # a count (seeds 0..4) or an explicit list [0, 1, 2]
    budget: 20000                 # environment steps per run
    eval:
      frequency: 2000             # evaluate every N environment steps (and always at the end)
      episodes: 5                 # evaluation episodes (per held-out task for task families)
      max_tasks: null             # task families: evaluate on the first N test tasks only (optional)
    config:                       # optional: overrides for every method that has these settings
      learning_starts: 1000
    methods:                      # registry names, or labelled variants with their own overrides
      - td3-mlp
      - name: td3-sa-hyper-lite   # the label used in records and reports
        method: td3-sa-hyper      # the registry name (defaults to the label)
        config: {preset: lite}    # overrides of the method's defaults (plain values only)
        tasks: [Hopper-v5]        # optional: run this method only on these tasks
        baseline: td3-mlp         # optional: compare with this method instead of the suite's baseline
    claims:                       # optional: decision rules pre-registered before the runs (hyperbench claims)
      - id: sa-hyper-final-return # a claim of hyperbench.claims.registry
        method: td3-sa-hyper-lite # the method the claim is about, and what it is compared with
        baseline: td3-mlp
        rule: the decision rule in words (metric, comparison, threshold, seeds)
    tasks:                        # Gymnasium ids, optionally with per-task settings
      - InvertedDoublePendulum-v5
      - name: Hopper-v5
        budget: 30000             # per-task budget
        eval: {frequency: 3000}   # per-task evaluation settings (merged into the suite's)
        config: {learning_starts: 5000}   # per-task overrides for every method that has the setting
        env_kwargs: {}            # extra gym.make keyword arguments
        reference: [-20.0, 3500.0]        # optional (random, reference) returns for tasks missing from
                                          # hyperbench.envs.reference (used only for normalisation)
    diagnostics:                  # optional: measurements taken during training (hyperbench.diagnostics.settings)
      grad_cs: {steps: [5000, 20000], states: 15, actions: 15}

A method's configuration resolves as: registry defaults ← suite ``config`` ← task ``config`` ← method
``config`` (later wins). Overrides are plain YAML values checked against the type of the default;
nothing in a suite is ever evaluated as code. Every problem in a file is reported at once, unknown names
with the closest valid ones.
"""

from __future__ import annotations

import difflib
import importlib.resources
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hyperbench.bench.bounded import InputError, load_yaml
from hyperbench.bench.files import content_hash
from hyperbench.bench.registry import UnknownMethodError, _freeze, _is_plain, check_override, get_method, thaw
from hyperbench.bench.tasks import UnknownTaskError, resolve_task
from hyperbench.diagnostics.settings import parse_diagnostics

__all__ = [
    "ClaimEntry",
    "EvalProtocol",
    "MethodEntry",
    "RunSpec",
    "Suite",
    "SuiteError",
    "TaskEntry",
    "available_suites",
    "find_suite_file",
    "load_suite",
    "parse_suite",
    "shipped_suites_dir",
]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
#: Upper bounds of a suite's numbers: far above any real suite, low enough that a typo fails fast instead of
#: exhausting memory (``seeds: 1000000000000`` would allocate every seed).
MAX_BUDGET = 10**9
MAX_SEEDS = 1000
MAX_SEED = 2**31 - 1
MAX_EPISODES = 10_000
MAX_TASKS = 10_000
MAX_RUNS = 100_000
_TOP_KEYS = (
    "name",
    "version",
    "description",
    "baseline",
    "seeds",
    "budget",
    "eval",
    "config",
    "methods",
    "tasks",
    "diagnostics",  # measurements taken during training (hyperbench.diagnostics.settings)
    "claims",  # decision rules pre-registered before the runs (hyperbench.claims)
)
_REQUIRED_TOP = ("name", "version", "baseline", "seeds", "budget", "eval", "methods", "tasks")
_EVAL_KEYS = ("frequency", "episodes", "max_tasks")
_METHOD_KEYS = ("name", "method", "config", "tasks", "baseline")
_TASK_KEYS = ("name", "budget", "eval", "config", "env_kwargs", "reference")
_CLAIM_KEYS = ("id", "method", "baseline", "rule")


class SuiteError(ValueError):
    """A suite file that does not validate; the message lists every problem found."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid suite {source}: {len(self.problems)} problem(s)\n{lines}")


@dataclass(frozen=True)
class EvalProtocol:
    """How a run is evaluated."""

    frequency: int
    """evaluate every ``frequency`` environment steps (and at the end of the budget)"""
    episodes: int
    """evaluation episodes (per held-out task for task families)"""
    max_tasks: int | None = None
    """task families: only the first ``max_tasks`` test tasks (``None``: all)"""

    def to_dict(self) -> dict[str, Any]:
        """Plain form."""
        return {"frequency": self.frequency, "episodes": self.episodes, "max_tasks": self.max_tasks}


@dataclass(frozen=True)
class MethodEntry:
    """A method as the suite uses it."""

    name: str
    """label in records and reports"""
    method: str
    """registry name"""
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """overrides of the method's defaults"""
    tasks: tuple[str, ...] | None = None
    """restrict the method to these tasks (``None``: every task of the suite)"""
    baseline: str | None = None
    """the method this one is compared with (``None``: the suite's baseline)"""


@dataclass(frozen=True)
class TaskEntry:
    """A task as the suite uses it."""

    name: str
    """Gymnasium id"""
    budget: int | None = None
    """per-task budget (``None``: the suite's)"""
    eval: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """per-task evaluation settings, merged into the suite's"""
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """overrides for every method that has these settings"""
    env_kwargs: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """extra ``gym.make`` keyword arguments"""
    reference: tuple[float, float] | None = None
    """(random, reference) returns used for normalisation when the reference table lacks this task"""


@dataclass(frozen=True)
class ClaimEntry:
    """A claim the suite tests, with its decision rule fixed before the runs (see :mod:`hyperbench.claims`)."""

    id: str
    """a claim of :data:`hyperbench.claims.registry.CLAIMS`"""
    method: str
    """label of the method the claim is about"""
    baseline: str
    """label of the method it is compared with"""
    rule: str
    """the decision rule in words: metric, comparison, threshold, seeds"""

    def to_dict(self) -> dict[str, str]:
        """Plain form."""
        return {"id": self.id, "method": self.method, "baseline": self.baseline, "rule": self.rule}


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid: everything a worker needs, in plain values (picklable, JSON-able)."""

    suite_name: str
    suite_version: int
    suite_hash: str
    method: str
    method_id: str
    task: str
    seed: int
    budget: int
    eval: EvalProtocol
    config: Mapping[str, Any]
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    """measurements the runner takes during training (``{"grad_cs": {...}}``); they do not change the
    experiment, so they are not part of :attr:`config_hash`"""

    @property
    def run_id(self) -> str:
        """``method/task/seed-N``, unique within a suite."""
        return f"{self.method}/{self.task}/seed-{self.seed}"

    def protocol(self) -> dict[str, Any]:
        """The parts of the spec that define the experiment (hashed into ``config_hash``)."""
        return {
            "method_id": self.method_id,
            "task": self.task,
            "seed": self.seed,
            "budget": self.budget,
            "eval": self.eval.to_dict(),
            "config": thaw(self.config),
            "env_kwargs": thaw(self.env_kwargs),
        }

    @property
    def config_hash(self) -> str:
        """Hash of :meth:`protocol`: two specs with the same hash run the same experiment."""
        return content_hash(self.protocol())

    def to_dict(self) -> dict[str, Any]:
        """Plain form (for Ray and for the record's ``config``; ``diagnostics`` only when there are some)."""
        data = {
            "suite_name": self.suite_name,
            "suite_version": self.suite_version,
            "suite_hash": self.suite_hash,
            "method": self.method,
            "method_id": self.method_id,
            "task": self.task,
            "seed": self.seed,
            "budget": self.budget,
            "eval": self.eval.to_dict(),
            "config": thaw(self.config),
            "env_kwargs": thaw(self.env_kwargs),
        }
        if self.diagnostics:
            data["diagnostics"] = thaw(self.diagnostics)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Inverse of :meth:`to_dict`.

        :param data: plain form
        :return: the spec
        """
        return cls(
            suite_name=data["suite_name"],
            suite_version=data["suite_version"],
            suite_hash=data["suite_hash"],
            method=data["method"],
            method_id=data["method_id"],
            task=data["task"],
            seed=data["seed"],
            budget=data["budget"],
            eval=EvalProtocol(**data["eval"]),
            config=dict(data["config"]),
            env_kwargs=dict(data.get("env_kwargs", {})),
            diagnostics=dict(data.get("diagnostics") or {}),
        )


@dataclass(frozen=True)
class Suite:
    """A validated suite (build it with :func:`load_suite` or :func:`parse_suite`)."""

    name: str
    version: int
    baseline: str
    methods: tuple[MethodEntry, ...]
    tasks: tuple[TaskEntry, ...]
    seeds: tuple[int, ...]
    budget: int
    eval: EvalProtocol
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    description: str = ""
    claims: tuple[ClaimEntry, ...] = ()
    """pre-registered decision rules (part of the hash when present, so a rule cannot change silently)"""
    source: str | None = None
    """the file it was read from (not part of the hash)"""
    diagnostics: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """measurements taken during training (:mod:`hyperbench.diagnostics.settings`)"""

    @property
    def method_names(self) -> tuple[str, ...]:
        """Method labels in suite order."""
        return tuple(m.name for m in self.methods)

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in suite order."""
        return tuple(t.name for t in self.tasks)

    def method(self, name: str) -> MethodEntry:
        """The entry labelled ``name``.

        :param name: method label
        """
        for m in self.methods:
            if m.name == name:
                return m
        raise KeyError(name)

    def task(self, name: str) -> TaskEntry:
        """The entry for task ``name``.

        :param name: task name
        """
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    def baseline_of(self, method: str) -> str:
        """The method ``method`` is compared with (its own ``baseline`` or the suite's).

        :param method: method label
        """
        return self.method(method).baseline or self.baseline

    def tasks_of(self, method: str) -> tuple[str, ...]:
        """Tasks the method runs on.

        :param method: method label
        """
        entry = self.method(method)
        return self.task_names if entry.tasks is None else tuple(t for t in self.task_names if t in entry.tasks)

    def to_dict(self) -> dict[str, Any]:
        """Canonical plain form of the validated suite (what :attr:`hash` covers, plus the description).

        ``claims`` appears only when the suite has some, so suites without claims keep their hash.
        """
        data: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "baseline": self.baseline,
            "seeds": list(self.seeds),
            "budget": self.budget,
            "eval": self.eval.to_dict(),
            "config": thaw(self.config),
            "methods": [
                {
                    "name": m.name,
                    "method": m.method,
                    "config": thaw(m.config),
                    "tasks": None if m.tasks is None else list(m.tasks),
                    "baseline": m.baseline,
                }
                for m in self.methods
            ],
            "tasks": [
                {
                    "name": t.name,
                    "budget": t.budget,
                    "eval": thaw(t.eval),
                    "config": thaw(t.config),
                    "env_kwargs": thaw(t.env_kwargs),
                    "reference": None if t.reference is None else list(t.reference),
                }
                for t in self.tasks
            ],
            # only when present, so suites without diagnostics keep their hash
            **({"diagnostics": thaw(self.diagnostics)} if self.diagnostics else {}),
        }
        if self.claims:
            data["claims"] = [c.to_dict() for c in self.claims]
        return data

    @property
    def hash(self) -> str:
        """Content hash of the validated suite (comments, key order and the description do not count)."""
        data = self.to_dict()
        data.pop("description")
        return content_hash(data)

    def resolved_config(self, method: str, task: str) -> dict[str, Any]:
        """The configuration ``method`` runs with on ``task``: defaults ← suite ← task ← method overrides.

        :param method: method label
        :param task: task name
        :return: plain dict
        """
        entry = self.method(method)
        defaults = get_method(entry.method).defaults
        cfg = thaw(defaults)
        for layer in (self.config, self.task(task).config, entry.config):
            for key, value in layer.items():
                if key in defaults:
                    cfg[key] = thaw(value)
        return cfg

    def run_spec(self, method: str, task: str, seed: int) -> RunSpec:
        """The spec of one run.

        :param method: method label
        :param task: task name
        :param seed: seed
        """
        t = self.task(task)
        ev = {**self.eval.to_dict(), **thaw(t.eval)}
        return RunSpec(
            suite_name=self.name,
            suite_version=self.version,
            suite_hash=self.hash,
            method=method,
            method_id=self.method(method).method,
            task=task,
            seed=seed,
            budget=t.budget if t.budget is not None else self.budget,
            eval=EvalProtocol(**ev),
            config=self.resolved_config(method, task),
            env_kwargs=thaw(t.env_kwargs),
            diagnostics=self.diagnostics_of(method),
        )

    def diagnostics_of(self, method: str) -> dict[str, Any]:
        """The diagnostics that apply to ``method`` (those whose ``methods`` list, if any, names it).

        :param method: method label
        """
        return {
            name: thaw(block)
            for name, block in self.diagnostics.items()
            if block.get("methods") is None or method in block["methods"]
        }

    def grid(self) -> list[RunSpec]:
        """Every run of the suite, ordered seed-major (all first seeds, then all second seeds…).

        Seed-major order means an interrupted suite has the most complete picture so far.
        """
        return [
            self.run_spec(m.name, task, seed)
            for seed in self.seeds
            for task in self.task_names
            for m in self.methods
            if task in self.tasks_of(m.name)
        ]


# ----------------------------------------------------------------------------------------------------
# Loading and validation


def shipped_suites_dir() -> Path:
    """The suites shipped with the package (``hyperbench/suites``, package data; in a checkout a link to ``suites/``)."""
    return Path(str(importlib.resources.files("hyperbench").joinpath("suites")))


def _search_dirs() -> list[Path]:
    dirs = [Path.cwd() / "suites", shipped_suites_dir()]
    extra = os.environ.get("HYPERBENCH_SUITES")
    if extra:
        dirs = [Path(p) for p in extra.split(os.pathsep) if p] + dirs
    seen: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [s.resolve() for s in seen]:
            seen.append(d)
    return seen


def available_suites() -> dict[str, Path]:
    """Suite files found by name: ``$HYPERBENCH_SUITES``, ``./suites``, then the suites shipped with hyperbench.

    :return: name → path
    """
    found: dict[str, Path] = {}
    for d in _search_dirs():
        for path in sorted(d.glob("*.yaml")):
            found.setdefault(path.stem, path)
    return found


def find_suite_file(name_or_path: str | os.PathLike[str]) -> Path:
    """Resolve a suite argument: an existing file, or the name of a shipped suite (``smoke``).

    :param name_or_path: path or name
    :return: the file
    :raises FileNotFoundError: listing the suites that can be named
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    suites = available_suites()
    key = path.stem if path.suffix in (".yaml", ".yml") else str(name_or_path)
    if key in suites and (path.parent == Path(".") or not path.parent.exists()):
        return suites[key]
    close = difflib.get_close_matches(key, list(suites), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise FileNotFoundError(
        f"no suite file {str(name_or_path)!r}{hint} Known suites: {', '.join(sorted(suites)) or '(none found)'}"
    )


def load_suite(name_or_path: str | os.PathLike[str]) -> Suite:
    """Read and validate a suite file.

    :param name_or_path: a YAML file, or the name of a shipped suite
    :return: the validated suite
    :raises SuiteError: listing every problem found
    """
    path = find_suite_file(name_or_path)
    try:
        data = load_yaml(path.read_bytes(), str(path))
    except InputError as exc:
        raise SuiteError(str(path), [str(exc)]) from None
    return parse_suite(data, source=str(path))


def _closest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.5)
    if close:
        return f"; did you mean {', '.join(repr(c) for c in close)}?"
    return f"; valid: {', '.join(options)}" if len(options) <= 12 else ""


def _unknown_keys(data: Mapping[str, Any], valid: Sequence[str], where: str, problems: list[str]) -> None:
    for key in data:
        if key not in valid:
            problems.append(f"{where}: unknown key {key!r}{_closest(str(key), valid)}")


def _int(value: Any, where: str, problems: list[str], minimum: int = 0, maximum: int | None = None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where} must be an integer, got {value!r}")
        return None
    if value < minimum:
        problems.append(f"{where} must be ≥ {minimum}, got {value}")
        return None
    if maximum is not None and value > maximum:
        problems.append(f"{where} must be ≤ {maximum:,}, got {value:,}")
        return None
    return value


def _mapping(value: Any, where: str, problems: list[str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{where} must be a mapping, got {type(value).__name__}")
        return {}
    if not _is_plain(value):
        problems.append(f"{where} must contain only plain values (numbers, strings, lists, mappings)")
        return {}
    return dict(value)


def _parse_eval(value: Any, where: str, problems: list[str], partial: bool) -> dict[str, Any]:
    ev = _mapping(value, where, problems)
    _unknown_keys(ev, _EVAL_KEYS, where, problems)
    out: dict[str, Any] = {}
    for key in ("frequency", "episodes"):
        if key in ev:
            v = _int(
                ev[key], f"{where}.{key}", problems, minimum=1, maximum=MAX_BUDGET if key == "frequency" else MAX_EPISODES
            )
            if v is not None:
                out[key] = v
        elif not partial:
            problems.append(f"{where}: missing {key!r}")
    if ev.get("max_tasks") is not None:
        v = _int(ev["max_tasks"], f"{where}.max_tasks", problems, minimum=1, maximum=MAX_TASKS)
        if v is not None:
            out["max_tasks"] = v
    elif "max_tasks" in ev or not partial:
        out["max_tasks"] = None
    return out


def parse_suite(data: Any, source: str = "<suite>") -> Suite:
    """Validate decoded YAML into a :class:`Suite`.

    :param data: the mapping ``yaml.safe_load`` returned
    :param source: where it came from, for messages
    :return: the validated suite
    :raises SuiteError: listing every problem found
    """
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise SuiteError(source, [f"the file must contain a mapping, got {type(data).__name__}"])
    _unknown_keys(data, _TOP_KEYS, "suite", problems)
    for key in _REQUIRED_TOP:
        if key not in data:
            problems.append(f"suite: missing required key {key!r}")

    name = data.get("name", "")
    if "name" in data and (not isinstance(name, str) or not _NAME_RE.match(name)):
        problems.append(f"name {name!r} must be lowercase letters, digits, '.', '-', '_' (at most 100 characters)")
    version = _int(data.get("version", 1), "version", problems, minimum=1) or 1
    description = data.get("description") or ""
    if not isinstance(description, str):
        problems.append("description must be a string")
        description = ""
    budget = _int(data.get("budget", 1), "budget", problems, minimum=1, maximum=MAX_BUDGET) or 1

    seeds_raw = data.get("seeds", 1)
    seeds: tuple[int, ...] = ()
    if isinstance(seeds_raw, int) and not isinstance(seeds_raw, bool):
        if seeds_raw < 1:
            problems.append(f"seeds: a count must be ≥ 1, got {seeds_raw}")
        elif seeds_raw > MAX_SEEDS:
            problems.append(f"seeds: a count must be ≤ {MAX_SEEDS}, got {seeds_raw:,}")
        seeds = tuple(range(min(max(seeds_raw, 0), MAX_SEEDS)))
    elif isinstance(seeds_raw, list) and seeds_raw:
        if len(seeds_raw) > MAX_SEEDS:
            problems.append(f"seeds: at most {MAX_SEEDS} seeds, got a list of {len(seeds_raw):,}")
            seeds_raw = seeds_raw[:MAX_SEEDS]
        checked = [_int(s, f"seeds[{i}]", problems, maximum=MAX_SEED) for i, s in enumerate(seeds_raw)]
        seeds = tuple(s for s in checked if s is not None)
        if len(set(seeds)) != len(seeds):
            problems.append(f"seeds contain duplicates: {list(seeds_raw)}")
    else:
        problems.append(f"seeds must be a count or a non-empty list of integers, got {seeds_raw!r}")

    ev = _parse_eval(data.get("eval"), "eval", problems, partial=False)
    eval_protocol = EvalProtocol(
        frequency=ev.get("frequency", 1), episodes=ev.get("episodes", 1), max_tasks=ev.get("max_tasks")
    )
    suite_config = _mapping(data.get("config"), "config", problems)

    # ---- tasks
    tasks: list[TaskEntry] = []
    raw_tasks = data.get("tasks", [])
    if not isinstance(raw_tasks, list) or not raw_tasks:
        problems.append("tasks must be a non-empty list")
        raw_tasks = []
    handles = {}
    for i, raw in enumerate(raw_tasks):
        where = f"tasks[{i}]"
        entry = {"name": raw} if isinstance(raw, str) else _mapping(raw, where, problems)
        _unknown_keys(entry, _TASK_KEYS, where, problems)
        tname = entry.get("name")
        if not isinstance(tname, str):
            problems.append(f"{where}: 'name' (a Gymnasium id) is required")
            continue
        where = f"task {tname!r}"
        if tname in [t.name for t in tasks]:
            problems.append(f"{where} is listed twice")
            continue
        env_kwargs = _mapping(entry.get("env_kwargs"), f"{where}.env_kwargs", problems)
        try:
            handles[tname] = resolve_task(tname, env_kwargs)
        except UnknownTaskError as exc:
            problems.append(str(exc))
        tbudget = (
            None
            if entry.get("budget") is None
            else _int(entry["budget"], f"{where}.budget", problems, minimum=1, maximum=MAX_BUDGET)
        )
        tev = _parse_eval(entry.get("eval"), f"{where}.eval", problems, partial=True)
        reference = entry.get("reference")
        ref: tuple[float, float] | None = None
        if reference is not None:
            if (
                not isinstance(reference, list)
                or len(reference) != 2
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in reference)
                or reference[0] == reference[1]
            ):
                problems.append(f"{where}.reference must be [random_return, reference_return] (two different numbers)")
            else:
                ref = (float(reference[0]), float(reference[1]))
        tasks.append(
            TaskEntry(
                name=tname,
                budget=tbudget,
                eval=_freeze(tev),
                config=_freeze(_mapping(entry.get("config"), f"{where}.config", problems)),
                env_kwargs=_freeze(env_kwargs),
                reference=ref,
            )
        )
    task_names = [t.name for t in tasks]

    # ---- methods
    methods: list[MethodEntry] = []
    raw_methods = data.get("methods", [])
    if not isinstance(raw_methods, list) or not raw_methods:
        problems.append("methods must be a non-empty list")
        raw_methods = []
    for i, raw in enumerate(raw_methods):
        where = f"methods[{i}]"
        entry = {"name": raw} if isinstance(raw, str) else _mapping(raw, where, problems)
        _unknown_keys(entry, _METHOD_KEYS, where, problems)
        label = entry.get("name", entry.get("method"))
        if not isinstance(label, str) or not _NAME_RE.match(label):
            problems.append(f"{where}: 'name' must be a lowercase label, got {label!r}")
            continue
        registry_name = entry.get("method", label)
        where = f"method {label!r}"
        if label in [m.name for m in methods]:
            problems.append(f"{where} is listed twice (give variants distinct 'name' labels)")
            continue
        try:
            spec = get_method(registry_name)
        except UnknownMethodError as exc:
            problems.append(f"{where}: {exc}")
            continue
        mconfig = _mapping(entry.get("config"), f"{where}.config", problems)
        for key, value in mconfig.items():
            if key not in spec.defaults:
                problems.append(f"{where}.config: unknown setting {key!r}{_closest(key, list(spec.defaults))}")
            else:
                try:
                    check_override(registry_name, key, value, spec.defaults[key])
                except ValueError as exc:
                    problems.append(f"{where}.config: {exc}")
        restrict = entry.get("tasks")
        mtasks: tuple[str, ...] | None = None
        if restrict is not None:
            if not isinstance(restrict, list) or not restrict or not all(isinstance(t, str) for t in restrict):
                problems.append(f"{where}.tasks must be a non-empty list of task names")
            else:
                for t in restrict:
                    if t not in task_names:
                        problems.append(f"{where}.tasks: {t!r} is not a task of this suite{_closest(t, task_names)}")
                mtasks = tuple(restrict)
        for t in mtasks if mtasks is not None else task_names:
            if t not in handles:
                continue
            if spec.needs_family and not handles[t].is_family:
                problems.append(
                    f"{where} ({registry_name}) needs a task family (hyperbench/… id) but {t!r} is a single task; "
                    "restrict it with 'tasks: [...]'"
                )
                continue
            for why in spec.requirements.problems(registry_name, t, handles[t].capabilities()):
                problems.append(f"{where} cannot run on task {t!r}: {why}; restrict it with 'tasks: [...]'")
        own_baseline = entry.get("baseline")
        if own_baseline is not None and not isinstance(own_baseline, str):
            problems.append(f"{where}.baseline must be a method label")
            own_baseline = None
        methods.append(
            MethodEntry(name=label, method=registry_name, config=_freeze(mconfig), tasks=mtasks, baseline=own_baseline)
        )
    method_names = [m.name for m in methods]

    # ---- overrides that apply to several methods must exist for at least one of them
    all_keys: dict[str, list[tuple[str, Any]]] = {}
    for m in methods:
        for key, default in get_method(m.method).defaults.items():
            all_keys.setdefault(key, []).append((m.method, default))
    layers = [("config", suite_config)] + [(f"task {t.name!r}.config", t.config) for t in tasks]
    for where, layer in layers:
        for key, value in layer.items():
            if key not in all_keys:
                problems.append(
                    f"{where}: setting {key!r} belongs to none of the suite's methods{_closest(key, sorted(all_keys))}"
                )
                continue
            for registry_name, default in all_keys[key]:
                try:
                    check_override(registry_name, key, value, default)
                except ValueError as exc:
                    problems.append(f"{where}: {exc}")
                    break

    baseline = data.get("baseline")
    if "baseline" in data and baseline not in method_names:
        problems.append(f"baseline {baseline!r} is not one of the suite's methods{_closest(str(baseline), method_names)}")
    by_name = {m.name: m for m in methods}
    for m in methods:
        b = m.baseline
        if b is None:
            continue
        if b not in by_name:
            problems.append(f"method {m.name!r}: baseline {b!r} is not one of the suite's methods{_closest(b, method_names)}")
        elif by_name[b].tasks is not None and not set(m.tasks or task_names) <= set(by_name[b].tasks or ()):
            problems.append(f"method {m.name!r}: its baseline {b!r} does not run on all of its tasks")
    if baseline in by_name and by_name[baseline].tasks is not None:
        problems.append(f"the baseline {baseline!r} must run on every task (remove its 'tasks' restriction)")

    n_runs = len(seeds) * sum(len(m.tasks) if m.tasks is not None else len(tasks) for m in methods)
    if n_runs > MAX_RUNS:
        problems.append(f"the grid has {n_runs:,} runs (methods × tasks × seeds); at most {MAX_RUNS:,} are accepted")
    for t in tasks:
        tb = t.budget if t.budget is not None else budget
        freq = t.eval.get("frequency", eval_protocol.frequency)
        if freq > tb:
            problems.append(f"task {t.name!r}: eval frequency {freq} is larger than its budget {tb}")

    budgets = [t.budget if t.budget is not None else budget for t in tasks] or [budget]
    diagnostics = parse_diagnostics(data.get("diagnostics"), method_names, problems, max_budget=max(budgets))
    claims = _parse_claims(data.get("claims"), method_names, problems)

    if problems:
        raise SuiteError(source, problems)
    return Suite(
        name=name,
        version=version,
        description=description.strip(),
        baseline=str(baseline),
        methods=tuple(methods),
        tasks=tuple(tasks),
        seeds=seeds,
        budget=budget,
        eval=eval_protocol,
        config=_freeze(suite_config),
        claims=claims,
        source=source,
        diagnostics=_freeze(diagnostics),
    )


def _parse_claims(raw: Any, method_names: Sequence[str], problems: list[str]) -> tuple[ClaimEntry, ...]:
    """Validate the optional ``claims`` list (each claim id must be registered, its methods in the suite)."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        problems.append("claims must be a non-empty list of {id, method, baseline, rule} mappings (or left out)")
        return ()
    from hyperbench.claims.registry import CLAIMS

    out: list[ClaimEntry] = []
    for i, item in enumerate(raw):
        where = f"claims[{i}]"
        entry = _mapping(item, where, problems)
        _unknown_keys(entry, _CLAIM_KEYS, where, problems)
        missing = [k for k in _CLAIM_KEYS if not isinstance(entry.get(k), str) or not entry[k].strip()]
        if missing:
            problems.append(f"{where}: {', '.join(repr(k) for k in missing)} must be non-empty strings")
            continue
        if entry["id"] not in CLAIMS:
            problems.append(f"{where}: unknown claim {entry['id']!r}{_closest(entry['id'], sorted(CLAIMS))}")
        for key in ("method", "baseline"):
            if entry[key] not in method_names:
                problems.append(
                    f"{where}.{key}: {entry[key]!r} is not one of the suite's methods{_closest(entry[key], method_names)}"
                )
        claim = ClaimEntry(
            id=entry["id"], method=entry["method"], baseline=entry["baseline"], rule=" ".join(entry["rule"].split())
        )
        if any((c.id, c.method, c.baseline) == (claim.id, claim.method, claim.baseline) for c in out):
            problems.append(f"{where}: claim {claim.id!r} for {claim.method} vs {claim.baseline} is listed twice")
            continue
        out.append(claim)
    return tuple(out)
