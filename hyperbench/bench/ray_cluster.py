"""A throwaway local Ray cluster (``ray start --head``) for tests and benchmarks of the Ray executor.

:func:`local_ray_cluster` starts a head node the way a user starts one on a cluster machine, in its own
session with its own temporary directory, yields its address for ``hyperbench run --executor ray --address``,
and on exit stops every process of that session (the head's services and the Ray workers they started), so
nothing is left running and no other Ray instance on the machine is touched (``ray stop`` would stop them all).

Recent Ray releases (2.60 here) enable token authentication on new clusters by default; this local cluster runs with
``RAY_AUTH_MODE=disabled``, and a driver connecting to it needs the same setting in its environment.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = ["LocalRayCluster", "RayClusterError", "local_ray_cluster", "session_processes"]

#: Environment of the cluster and of a driver that connects to it.
RAY_ENV: dict[str, str] = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}


class RayClusterError(RuntimeError):
    """The local Ray head node did not start."""


class LocalRayCluster(NamedTuple):
    """A running local head node."""

    address: str
    """``127.0.0.1:PORT``, for ``--address``"""
    session: int
    """session id of its processes (see :func:`session_processes`)"""


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid`` (Linux ``/proc``).

    :param sid: session id (the pid of the session leader)
    :return: their pids
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_ray_cluster(
    num_cpus: int,
    env: Mapping[str, str] | None = None,
    python_path: Sequence[str | os.PathLike[str]] = (),
    start_timeout: float = 180.0,
) -> Iterator[LocalRayCluster]:
    """Run a local Ray head node with ``num_cpus`` CPUs for the duration of the block.

    :param num_cpus: CPUs the node offers (one hyperbench run each)
    :param env: environment of the node and its workers (default: this process's), plus :data:`RAY_ENV`
    :param python_path: directories put first on the workers' ``PYTHONPATH`` (e.g. a plugin's directory)
    :param start_timeout: seconds to wait for the node to start
    :return: its address (``127.0.0.1:PORT``, to give ``--address``) and session
    :raises RayClusterError: if ``ray`` is not installed or the node does not start in time
    """
    ray = shutil.which("ray")
    if ray is None:
        raise RayClusterError("the `ray` command is not installed: pip install 'hyperbench[ray]'")
    port = _free_port()
    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths have a length limit
    full_env = {**(env if env is not None else os.environ), **RAY_ENV}
    paths = [str(p) for p in python_path] + ([full_env["PYTHONPATH"]] if full_env.get("PYTHONPATH") else [])
    if paths:
        full_env["PYTHONPATH"] = os.pathsep.join(paths)
    cmd = [ray, "start", "--head", "--block", f"--port={port}", f"--num-cpus={num_cpus}", "--include-dashboard=false"]
    cmd += [f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    proc = subprocess.Popen(
        cmd, env=full_env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output: list[str] = []
        started = threading.Event()

        def read() -> None:  # keep draining the pipe so the node never blocks on a full one
            assert proc.stdout is not None
            for line in proc.stdout:
                output.append(line)
                if "Ray runtime started" in line:
                    started.set()

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + start_timeout
        while not started.wait(0.2):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = "".join(output[-20:])
                raise RayClusterError(f"`{' '.join(cmd)}` did not start a Ray node in {start_timeout:.0f} s:\n{tail}")
        yield LocalRayCluster(f"127.0.0.1:{port}", proc.pid)
    finally:
        _stop_session(proc)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _stop_session(proc: subprocess.Popen[str], grace: float = 5.0) -> None:
    """SIGTERM the node's session, then SIGKILL whatever is left after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and session_processes(proc.pid):
        time.sleep(0.1)
    for pid in session_processes(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and session_processes(proc.pid):
        time.sleep(0.1)
