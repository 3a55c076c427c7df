"""The ``hyperbench`` command.

Each feature package contributes its sub-commands through a ``register(subparsers)`` function in its own
``cli`` module; the modules are imported lazily so ``hyperbench --help`` stays fast and a missing optional
dependency only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from hyperbench.version import __version__

# Modules that define ``register(subparsers: argparse._SubParsersAction) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "hyperbench.bench.cli",
    "hyperbench.diagnostics.cli",
    "hyperbench.leaderboard.cli",
    "hyperbench.envs.cli",
    "hyperbench.claims.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="hyperbench",
        description="Hypernetwork critics and policies for SB3, and RL / meta-RL benchmark suites.",
    )
    parser.add_argument("--version", action="version", version=f"hyperbench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # the feature package has no CLI (yet); its absence is not an error
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hyperbench`` console script.

    :param argv: arguments (defaults to ``sys.argv[1:]``)
    :return: process exit code
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
