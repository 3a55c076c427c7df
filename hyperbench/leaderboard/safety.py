"""Safe reading of submitted files: pickle detection, safetensors and JSON checks, non-finite numbers.

Nothing submitted is ever unpickled. Pickle data is recognised by *parsing* its opcodes with
:func:`pickletools.genops` (a disassembler that executes nothing), also inside zip archives such as
SB3's ``.zip`` models and ``torch.save`` files, whose ``data.pkl`` members are pickles. Weights are
accepted only as safetensors (a length-prefixed JSON header followed by raw tensor bytes) and
configurations only as JSON.
"""

from __future__ import annotations

import hashlib
import io
import math
import pickletools
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hyperbench.bench.bounded import load_json

__all__ = [
    "ALLOWED_SUFFIXES",
    "JsonParse",
    "check_payload_file",
    "check_safetensors",
    "iter_non_finite",
    "non_finite_tensors",
    "parse_json_strict",
    "sha256_bytes",
    "sniff_pickle",
]

#: File types a submission may carry: weights (safetensors) and configuration (JSON).
ALLOWED_SUFFIXES: tuple[str, ...] = (".safetensors", ".json")

#: Suffixes that name pickle-based formats, for a clearer message than "not allowed".
PICKLE_SUFFIXES: tuple[str, ...] = (".pkl", ".pickle", ".pt", ".pth", ".zip", ".ckpt", ".joblib", ".npy", ".npz")

_ZIP_MAGIC = b"PK\x03\x04"
#: Decompressed bytes :func:`sniff_pickle` reads from a zip archive, over all its members (and nested archives).
MAX_ZIP_READ = 16 * 1024 * 1024
#: Members of a zip archive :func:`sniff_pickle` looks at.
MAX_ZIP_MEMBERS = 1000
_MAX_ZIP_DEPTH = 2
_MAX_SAFETENSORS_HEADER = 100_000_000


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    :param data: bytes
    :return: 64 hex digits
    """
    return hashlib.sha256(data).hexdigest()


def _is_pickle_stream(data: bytes) -> str | None:
    """Describe ``data`` if it is exactly one complete pickle (opcodes parsed, nothing executed), else ``None``."""
    body = data.rstrip(b"\r\n\t ")
    if len(body) < 2 or not body.endswith(b"."):
        return None
    protocol = data[1] if data[0] == 0x80 else 0
    try:
        last: str | None = None
        last_pos: int | None = -1
        for opcode, _arg, pos in pickletools.genops(io.BytesIO(body)):
            last, last_pos = opcode.name, pos
    except Exception:  # not a well-formed opcode stream: not a pickle
        return None
    if last != "STOP" or last_pos != len(body) - 1:  # a valid prefix followed by other bytes is not a pickle
        return None
    return f"pickle data (protocol {protocol})"


def sniff_pickle(data: bytes, loose: bool = False, _depth: int = 0) -> str | None:
    """Whether ``data`` is, or carries, pickle data.

    Recognises a complete pickle stream of any protocol, and zip archives (SB3 ``.zip`` models,
    ``torch.save`` files) with a pickle member, a member whose name says pickle (``*.pkl``), or a nested
    ``torch.save`` archive; at most :data:`MAX_ZIP_READ` decompressed bytes of an archive are read, streamed
    (a member's pickle header is in its first bytes). With ``loose``, a pickle protocol header (``\\x80`` +
    2…5) is enough, so a truncated pickle is still named as one: use it only on data already known not to be
    a valid file of its declared type (a valid safetensors file may start with those two bytes).

    :param data: file content
    :param loose: also report a bare pickle protocol header
    :return: a description of what was found (for the rejection message), or ``None``
    """
    found = _is_pickle_stream(data)
    if found is not None:
        return found
    if loose and len(data) > 1 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return f"pickle data (protocol {data[1]} header)"
    if data[:4] == _ZIP_MAGIC and _depth < _MAX_ZIP_DEPTH:
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            return None
        budget = MAX_ZIP_READ  # decompressed bytes read over all members: a zip bomb costs at most this
        with archive:
            for info in archive.infolist()[:MAX_ZIP_MEMBERS]:
                name = info.filename
                if name.lower().endswith((".pkl", ".pickle")):
                    return f"a zip archive holding pickle data (member {name!r})"
                if budget <= 0:
                    break
                try:  # streamed: never more than the remaining budget, whatever size the member claims
                    with archive.open(info) as member:
                        head = member.read(budget)
                except Exception:  # corrupt member, unsupported compression, encryption: nothing to parse
                    continue
                budget -= len(head)
                inner = sniff_pickle(head, loose=True, _depth=_depth + 1)
                if inner is not None:
                    return f"a zip archive holding {inner} (member {name!r})"
    return None


#: Bytes per element of every safetensors dtype.
SAFETENSORS_DTYPES: dict[str, int] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


def _safetensors_layout(data: bytes) -> tuple[dict[str, Any], int] | str:
    """The tensor entries of a safetensors header and where the tensor bytes start, or the problem found."""
    if len(data) < 8:
        return "too short to be a safetensors file"
    (n,) = struct.unpack("<Q", data[:8])
    if n == 0 or n > _MAX_SAFETENSORS_HEADER or 8 + n > len(data):
        return "not a safetensors file (bad header length)"
    try:
        header = load_json(data[8 : 8 + n], "safetensors header")
    except ValueError:  # not UTF-8, not JSON, or nested absurdly deep
        return "not a safetensors file (header is not JSON)"
    if not isinstance(header, dict):
        return "not a safetensors file (header is not a JSON object)"
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        return "not a safetensors file (__metadata__ must map strings to strings)"
    return header, 8 + n


def check_safetensors(data: bytes) -> str | None:
    """Check the whole safetensors layout before anything loads it.

    An 8-byte little-endian header length, a JSON header, tensor bytes. Every tensor must have a known
    dtype, a shape of non-negative integers and ``data_offsets`` whose span is exactly
    ``prod(shape) × dtype size`` bytes; the spans must not overlap and must cover the tensor bytes
    exactly (no gap, nothing after the last tensor). Only the header is parsed (JSON).

    :param data: file content
    :return: a problem, or ``None`` if the layout is valid
    """
    layout = _safetensors_layout(data)
    if isinstance(layout, str):
        return layout
    header, start = layout
    body = len(data) - start
    spans: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            return f"not a safetensors file (tensor {name!r} must have exactly dtype, shape, data_offsets)"
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            return f"tensor {name!r} has unknown dtype {dtype!r} (known: {', '.join(SAFETENSORS_DTYPES)})"
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            return f"tensor {name!r} has shape {shape!r}; a shape is a list of non-negative integers"
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= body
        ):
            return f"not a safetensors file (tensor {name!r} has offsets outside the file)"
        need = math.prod(shape) * SAFETENSORS_DTYPES[dtype]
        if offsets[1] - offsets[0] != need:
            return (
                f"tensor {name!r}: shape {shape} of {dtype} needs {need} bytes but its data_offsets span "
                f"{offsets[1] - offsets[0]}"
            )
        spans.append((offsets[0], offsets[1], name))
    spans.sort()
    position = 0
    for begin, end, name in spans:
        if begin < position:
            return f"tensor {name!r} overlaps the tensor before it (data_offsets {begin}…{end})"
        if begin > position:
            return f"{begin - position} bytes before tensor {name!r} belong to no tensor"
        position = end
    if position != body:
        return f"{body - position} bytes after the last tensor belong to no tensor"
    return None


def non_finite_tensors(data: bytes) -> list[str]:
    """Name every floating-point tensor of a (valid, see :func:`check_safetensors`) safetensors file with NaN or ±inf.

    :param data: file content
    :return: ``"name (all NaN)"`` or ``"name (k of n values non-finite)"`` per offending tensor
    """
    import numpy as np

    layout = _safetensors_layout(data)
    if isinstance(layout, str):
        return []
    header, start = layout
    found = []
    for name, entry in sorted(header.items()):
        dtype = entry["dtype"]
        begin, end = (start + o for o in entry["data_offsets"])
        raw = memoryview(data)[begin:end]
        if dtype in ("F16", "F32", "F64"):
            values = np.frombuffer(raw, dtype={"F16": "<f2", "F32": "<f4", "F64": "<f8"}[dtype])
            bad, nan = ~np.isfinite(values), np.isnan(values)
        elif dtype == "BF16":  # exponent bits all ones: inf or NaN; NaN also has mantissa bits
            bits = np.frombuffer(raw, dtype="<u2")
            bad = (bits & 0x7F80) == 0x7F80
            nan = bad & ((bits & 0x007F) != 0)
        else:
            continue
        n_bad = int(bad.sum())
        if n_bad:
            all_nan = bool(nan.all())
            found.append(
                f"{name} (all NaN)"
                if all_nan
                else f"{name} ({n_bad} of {values.size if dtype != 'BF16' else bits.size} values non-finite)"
            )
    return found


def check_payload_file(name: str, data: bytes) -> str | None:
    """Check one file a submission carries (a checkpoint's weights or its JSON configuration).

    :param name: file name (its suffix decides the expected format)
    :param data: file content
    :return: a problem, or ``None`` when the file is acceptable
    """
    suffix = Path(name).suffix.lower()
    problem: str | None
    if suffix == ".safetensors":
        problem = check_safetensors(data)
        if problem is None:
            bad = non_finite_tensors(data)
            if bad:
                return "weights are not finite: " + ", ".join(bad[:8]) + (f" … ({len(bad) - 8} more)" if len(bad) > 8 else "")
    elif suffix == ".json":
        try:
            parsed = parse_json_strict(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            problem = f"not valid JSON ({exc})"
        else:
            bad = list(iter_non_finite(parsed.value))
            return "has non-finite numbers: " + ", ".join(bad) if bad else None
    elif suffix in PICKLE_SUFFIXES:
        problem = f"{suffix} files are pickle-based formats and are not accepted"
    else:
        problem = f"file type {suffix or '(none)'!r} is not accepted (allowed: {', '.join(ALLOWED_SUFFIXES)})"
    if problem is None:
        return None
    pickled = sniff_pickle(data, loose=True)
    if pickled is not None:
        return f"contains {pickled}; nothing submitted is ever unpickled: submit weights as safetensors and configs as JSON"
    if suffix not in ALLOWED_SUFFIXES:
        problem += "; submit weights as safetensors and configs as JSON"
    return problem


class JsonParse:
    """Result of :func:`parse_json_strict`."""

    def __init__(self, value: Any, constants: list[str]) -> None:
        self.value = value
        """the decoded document (non-finite literals decoded as floats, so the walk can locate them)"""
        self.constants = constants
        """``NaN`` / ``Infinity`` / ``-Infinity`` literals met while parsing (not valid JSON)"""


def parse_json_strict(text: str) -> JsonParse:
    """Decode JSON, noting the non-standard ``NaN``/``Infinity`` literals Python's decoder accepts.

    :param text: JSON text
    :return: the value and the non-finite literals seen
    :raises ValueError: (``json.JSONDecodeError``) for text that is not JSON, e.g. a truncated file, and
        (:class:`~hyperbench.bench.bounded.InputError`) for JSON nested deeper than ``MAX_DEPTH`` levels
    """
    constants: list[str] = []

    def constant(name: str) -> float:
        constants.append(name)
        return float(name.replace("Infinity", "inf"))

    return JsonParse(load_json(text, "JSON document", parse_constant=constant), constants)


def iter_non_finite(value: Any, path: str = "") -> Iterator[str]:
    """Yield the path of every non-finite float inside a decoded JSON value.

    :param value: decoded JSON
    :param path: prefix of the reported paths
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            yield f"{path or '(value)'} = {value}"
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from iter_non_finite(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from iter_non_finite(v, f"{path}[{i}]")
