"""The installed package: a fast command line (no torch on the way to ``--help``) and a wheel that runs.

The wheel test builds a wheel from a copy of the sources, installs it (without dependencies) into a fresh
virtual environment that sees this interpreter's site-packages for the dependencies, and runs the shipped
suites from a directory that has no ``suites/`` folder, as a ``pip install hyperbench`` user would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.stem for p in (ROOT / "suites").glob("*.yaml"))

NO_TORCH = """
import sys
from hyperbench.cli import main
for argv in (["--help"], ["run", "--help"], ["run", "--wrkers", "2"]):
    try:
        main(argv)
    except SystemExit:
        pass
import hyperbench
print("TORCH" if "torch" in sys.modules else "NO TORCH")
"""


def test_help_and_argument_errors_do_not_import_torch() -> None:
    env = {**os.environ, "COLUMNS": "60"}  # a narrow terminal: suite names must not be split across lines
    result = subprocess.run([sys.executable, "-c", NO_TORCH], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().endswith("NO TORCH"), result.stdout[-500:] + result.stderr[-2000:]
    assert "unrecognized arguments: --wrkers" in result.stderr  # the argument error is reported
    for name in SHIPPED:  # `run --help` lists every shipped suite
        assert name in result.stdout


def test_policy_aliases_are_registered_whatever_is_imported_first() -> None:
    orders = [
        "import hyperbench; from stable_baselines3 import TD3 as A",
        "from stable_baselines3 import TD3 as A; import hyperbench",
        "import hyperbench; from sb3_contrib import TQC as A",
        "from stable_baselines3.common.envs import BitFlippingEnv; import hyperbench; from sb3_contrib import TQC as A",
    ]
    code = "; ".join(f"exec({o!r}); print('SAHyperPolicy' in A.policy_aliases)" for o in orders)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.stdout.split() == ["True"] * len(orders), result.stderr[-2000:]


@pytest.mark.slow
def test_a_wheel_installed_in_a_fresh_venv_runs_the_shipped_suites(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name if src.exists() else _mkdir(src) / name)
    shutil.copytree(ROOT / "suites", src / "suites")
    shutil.copytree(ROOT / "hyperbench", src / "hyperbench", symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(src)],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("hyperbench-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
        check=True,
        timeout=600,
    )
    work = tmp_path / "elsewhere"  # no suites/ here: the names must resolve to the package's own files
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYPERBENCH_SUITES")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)

    where = run("-c", "import hyperbench; print(hyperbench.__file__)")
    assert where.stdout.strip().startswith(str(env_dir)), where.stdout + where.stderr
    helped = run("-m", "hyperbench.cli", "run", "--help")
    assert all(name in helped.stdout for name in SHIPPED), helped.stdout
    for name in SHIPPED:
        plan = run("-m", "hyperbench.cli", "run", name, "--dry-run", "--out", str(work / "runs" / name))
        assert plan.returncode == 0 and f"suite {name} " in plan.stdout, plan.stdout + plan.stderr
    hyperbench_script = env_dir / "bin" / "hyperbench"
    listed = subprocess.run([str(hyperbench_script), "run", "--help"], cwd=work, env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "smoke" in listed.stdout


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path
