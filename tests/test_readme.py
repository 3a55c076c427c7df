"""Every code block of README.md runs, so the README cannot rot.

- ``python`` blocks are executed, each in a fresh namespace and an empty working directory, with training
  budgets capped: ``learn(total_timesteps=N)`` of SB3 algorithms and of hyperbench's meta learners runs
  ``min(N, $HYPERBENCH_README_STEPS)`` steps (default 200; a meta learner always completes one iteration).
  Everything else runs as written.
- ``bash`` blocks (and untagged blocks whose every line is a command): each command is checked with
  ``bash -n``; ``hyperbench …`` arguments must parse with the real parser, and the cheap ones (``--help``,
  ``--dry-run``, ``--list-methods``, ``envs list``) are run; ``tox -e ENV`` needs ``ENV`` in tox.ini;
  ``pip install`` extras must exist in pyproject.toml; ``python FILE`` needs ``FILE`` in the repository.
- ``yaml`` blocks that look like suites must validate.

The blocks are collected when the tests run, so blocks added to the README later are covered too.
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
STEPS = int(os.environ.get("HYPERBENCH_README_STEPS", "200"))
COMMANDS = ("pip", "tox", "hyperbench", "python")
CHEAP = ("--help", "--dry-run", "--list-methods")


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # 1-based line of the opening fence
    section: str

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.section.lower()).strip("-")[:30]
        return f"L{self.line}-{self.language or 'text'}-{slug}"


def readme_blocks() -> list[Block]:
    blocks: list[Block] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    section, i = "top", 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        fence = re.match(r"^(```+)\s*([\w+-]*)\s*$", line)
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith(fence.group(1)))
            blocks.append(Block(fence.group(2).lower(), "\n".join(lines[i + 1 : end]) + "\n", i + 1, section))
            i = end
        i += 1
    return blocks


def _is_shell(block: Block) -> bool:
    if block.language in ("bash", "sh", "shell", "console"):
        return True
    if block.language:
        return False
    lines = [ln.strip() for ln in block.code.splitlines() if ln.strip()]
    return bool(lines) and all(ln.split()[0] in COMMANDS for ln in lines)


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b.language in ("python", "py")]
SHELL = [b for b in BLOCKS if _is_shell(b)]
YAML = [b for b in BLOCKS if b.language in ("yaml", "yml")]


def test_the_readme_has_code_blocks_of_each_kind() -> None:
    assert PYTHON and SHELL and YAML, "the README lost its examples (or this parser broke)"


# ---------------------------------------------------------------------------------------------- python


@pytest.fixture
def capped_budgets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
    from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

    from hyperbench.meta.base import MetaLearner

    for cls in (OffPolicyAlgorithm, OnPolicyAlgorithm, MetaLearner):
        original = cls.learn

        def learn(self: Any, total_timesteps: int, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            return _original(self, min(int(total_timesteps), STEPS), *args, **kwargs)

        monkeypatch.setattr(cls, "learn", learn)
    yield


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.id)
def test_python_block_runs(block: Block, capped_budgets: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hyperbench.bench.registry import list_methods, unregister_method

    monkeypatch.chdir(tmp_path)
    before = set(list_methods())
    try:
        exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "readme_block"})
    finally:
        for name in set(list_methods()) - before:  # the plug-in example registers a method
            unregister_method(name)


# ----------------------------------------------------------------------------------------------- shell


def _commands(code: str) -> list[str]:
    """Simple commands of a shell block: continuation lines joined, comments dropped, split at && ; |."""
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in [*words, ";"]:
            if word in ("&&", ";", "||", "|"):
                if command:
                    out.append(shlex.join(command))
                command = []
            else:
                command.append(word)
    return out


def _tox_envs() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "tox.ini")
    envs = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("testenv:")}
    return envs | {e.strip() for e in parser["tox"]["env_list"].split(",")}


def _extras() -> set[str]:
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is Python >= 3.11; this project supports 3.10)
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w-]+)\s*=", section, re.M))


def _check_hyperbench(argv: list[str]) -> None:
    from hyperbench.cli import build_parser

    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise AssertionError(f"`hyperbench {shlex.join(argv)}` does not parse") from exc
        return  # --help parsed (and printed)
    cheap = any(a in CHEAP for a in argv) or argv[:2] == ["envs", "list"]
    if cheap:
        result = subprocess.run(
            [sys.executable, "-m", "hyperbench.cli", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, f"`hyperbench {shlex.join(argv)}` failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("block", SHELL, ids=lambda b: b.id)
def test_shell_block_commands_exist_and_parse(block: Block) -> None:
    syntax = subprocess.run(["bash", "-n"], input=block.code, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    commands = _commands(block.code)
    assert commands, "an empty shell block"
    for command in commands:
        argv = shlex.split(command)
        program, args = argv[0], argv[1:]
        assert program in COMMANDS, f"unknown program {program!r} in {command!r}"
        if program == "hyperbench":
            _check_hyperbench(args)
        elif program == "tox":
            envs = [args[i + 1] for i, a in enumerate(args) if a == "-e"]
            for env in envs:
                assert env in _tox_envs(), f"{command!r}: tox.ini has no environment {env!r}"
        elif program == "pip" and args[:1] == ["install"]:
            for spec in args[1:]:
                extras = re.search(r"\[([\w,\s-]+)\]", spec)
                for extra in extras.group(1).split(",") if extras else ():
                    assert extra.strip() in _extras(), f"{command!r}: pyproject.toml has no extra {extra.strip()!r}"
                if spec.startswith("constraints/") or spec.endswith(".txt"):
                    assert (ROOT / spec).is_file(), f"{command!r}: no file {spec}"
        elif program == "python" and args and not args[0].startswith("-") and "<" not in args[0]:
            assert (ROOT / args[0]).is_file(), f"{command!r}: no file {args[0]}"  # (<script> is a placeholder)


# ------------------------------------------------------------------------------------------------ yaml


@pytest.mark.parametrize("block", YAML, ids=lambda b: b.id)
def test_yaml_suite_block_validates(block: Block) -> None:
    from hyperbench.bench.suite import parse_suite

    data = yaml.safe_load(block.code)
    if isinstance(data, dict) and {"name", "methods", "tasks"} <= set(data):
        parse_suite(data, source=f"README.md:{block.line}")
