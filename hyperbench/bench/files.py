"""Crash-safe file writing and provenance (package versions, git revision, host).

Every file the runner leaves behind is written with :func:`atomic_write_text` (or built in a temporary
directory renamed into place by :func:`atomic_publish_dir`): write to a temporary name in the same
directory, ``fsync``, ``os.replace`` onto the final name, ``fsync`` the directory. A reader therefore sees
either the previous complete file or the new complete file, never a truncated one, whenever the writer
is killed (SIGKILL included).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

#: Prefix of every temporary file or directory the runner creates; loaders ignore these names.
TMP_PREFIX = ".tmp-"

#: Distributions whose versions every record carries.
TRACKED_PACKAGES: tuple[str, ...] = (
    "hyperbench",
    "torch",
    "numpy",
    "gymnasium",
    "mujoco",
    "stable-baselines3",
    "sb3-contrib",
    "metaworld",
    "rliable",
    "ray",
)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """``fsync`` a directory so a rename inside it survives a power loss (best effort on odd filesystems).

    :param path: directory to sync
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. directories that cannot be opened on some platforms
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + ``os.replace`` + directory fsync).

    :param path: destination file; its parent directories are created
    :param data: the complete new content
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f"{TMP_PREFIX}{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    :param path: destination file
    :param text: the complete new content
    """
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically; non-finite floats are rejected (they are not JSON).

    :param path: destination file
    :param obj: a JSON-serialisable object
    """
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def new_tmp_dir(parent: str | os.PathLike[str], name: str) -> Path:
    """Create an empty temporary directory inside ``parent`` for :func:`atomic_publish_dir`.

    :param parent: directory that will also hold the published directory
    :param name: final name, used to make the temporary name recognisable
    :return: the new temporary directory
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f"{TMP_PREFIX}{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def fsync_tree(path: str | os.PathLike[str]) -> None:
    """``fsync`` every file and directory below ``path`` (used before publishing a directory).

    :param path: root directory
    """
    for root, _dirs, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
        fsync_dir(root)


def atomic_publish_dir(tmp_dir: str | os.PathLike[str], final: str | os.PathLike[str]) -> None:
    """Publish a fully written temporary directory under its final name with one atomic rename.

    :param tmp_dir: directory made by :func:`new_tmp_dir` and completely written
    :param final: final path (must not exist; same parent as ``tmp_dir``)
    """
    fsync_tree(tmp_dir)
    os.rename(tmp_dir, final)
    fsync_dir(Path(final).parent)


def remove_stale_tmp(directory: str | os.PathLike[str]) -> int:
    """Delete temporary files/directories left in ``directory`` (not recursive) by a killed writer.

    Call this only when no other writer can be active in ``directory``.

    :param directory: directory to clean
    :return: number of entries removed
    """
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    removed = 0
    for entry in directory.iterdir():
        if entry.name.startswith(TMP_PREFIX):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    entry.unlink()
            removed += 1
    return removed


def iter_tmp_entries(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield every temporary entry anywhere below ``root``.

    :param root: directory to walk
    """
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            if name.startswith(TMP_PREFIX):
                yield Path(dirpath) / name


def canonical_json(obj: Any) -> str:
    """Serialise ``obj`` deterministically (sorted keys, no whitespace) for hashing.

    :param obj: JSON-serialisable object
    :return: canonical JSON text
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def content_hash(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj``, as 16 hex digits.

    :param obj: JSON-serialisable object
    :return: short hex digest
    """
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:16]


def package_versions(packages: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str | None]:
    """Installed versions of ``packages`` (``None`` for those not installed).

    :param packages: distribution names
    :return: name → version
    """
    versions: dict[str, str | None] = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The git commit of the hyperbench checkout (or of ``path``) and whether the tree has local changes.

    :param path: directory inside a git work tree; defaults to the directory of this package
    :return: ``{"commit": str | None, "dirty": bool | None}``
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(status.strip())}


def provenance() -> dict[str, Any]:
    """Everything a record needs to say where and with what it was produced.

    :return: JSON-serialisable mapping (hyperbench version, git revision, packages, Python, host)
    """
    from hyperbench.version import __version__

    return {
        "hyperbench": __version__,
        "git": git_revision(),
        "packages": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
    }


def json_safe(obj: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and paths inside ``obj`` into plain JSON types.

    :param obj: nested structure
    :return: the same structure with plain Python types
    """
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return json_safe(obj.tolist())
    return obj
