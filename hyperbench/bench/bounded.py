"""Bounded parsing of untrusted text: YAML and JSON that fail fast, with a clear message, in bounded time and memory.

Suite files, submissions, run records and checkpoints' JSON come from people and directories hyperbench does
not control. Plain ``yaml.safe_load`` and ``json.loads`` execute nothing, but one small input can still cost
minutes or gigabytes later (a YAML alias bomb expands to 10⁹ nodes when walked), or crash with a
``RecursionError`` (5000-deep nesting, recursive aliases) or a ``UnicodeDecodeError``. Here:

- bytes must be UTF-8 (the message gives the offset of the first bad byte);
- YAML: at most :data:`MAX_YAML_BYTES`, nesting at most :data:`MAX_DEPTH` levels, at most
  :data:`MAX_YAML_NODES` nodes *after* expanding aliases, no recursive alias, and no duplicate mapping key
  (YAML would silently keep the last one; the message names the key and both lines);
- JSON: nesting at most :data:`MAX_DEPTH` levels, checked on the text before decoding.

Every failure raises :class:`InputError` (a ``ValueError``) naming the source and the bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import yaml

__all__ = [
    "MAX_DEPTH",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "InputError",
    "decode_utf8",
    "json_depth",
    "load_json",
    "load_yaml",
]

#: Deepest nesting of lists/mappings accepted (hyperbench's own documents nest fewer than 10 levels).
MAX_DEPTH = 64
#: Largest YAML document accepted (suite files are a few kilobytes).
MAX_YAML_BYTES = 1_000_000
#: Most YAML nodes accepted once aliases are expanded (a suite has a few hundred).
MAX_YAML_NODES = 100_000

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class InputError(ValueError):
    """Untrusted text that is not accepted: not UTF-8, malformed, too deep, too large or ambiguous."""


def decode_utf8(data: bytes, source: str) -> str:
    """Decode UTF-8 bytes, or say where the first invalid byte is.

    :param data: the raw content
    :param source: where it came from, for the message
    :return: the text
    :raises InputError: not UTF-8
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{source}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); is it the right file?"
        ) from None


# ----------------------------------------------------------------------------------------------------
# JSON


def json_depth(text: str | bytes) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text, ignoring brackets inside strings (no decoding).

    :param text: JSON text
    :return: the maximum depth (0 for a scalar)
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    stripped = np.frombuffer(_JSON_STRING.sub(b'""', data), dtype=np.uint8)
    if stripped.size == 0:
        return 0
    steps = np.zeros(stripped.shape, dtype=np.int64)
    steps[(stripped == ord("[")) | (stripped == ord("{"))] = 1
    steps[(stripped == ord("]")) | (stripped == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def load_json(
    text: str | bytes, source: str, *, parse_constant: Callable[[str], Any] | None = None, max_depth: int = MAX_DEPTH
) -> Any:
    """Decode JSON whose nesting is at most ``max_depth`` levels.

    :param text: JSON text (bytes must be UTF-8)
    :param source: where it came from, for the message
    :param parse_constant: passed to :func:`json.loads` (called for ``NaN`` / ``Infinity``)
    :param max_depth: the nesting bound
    :return: the decoded value
    :raises InputError: not UTF-8, nested too deep
    :raises json.JSONDecodeError: (a ``ValueError``) not JSON
    """
    if isinstance(text, bytes):
        text = decode_utf8(text, source)
    depth = json_depth(text)
    if depth > max_depth:
        raise InputError(f"{source}: JSON nested {depth} levels deep; at most {max_depth} are accepted")
    return json.loads(text, parse_constant=parse_constant)


# ----------------------------------------------------------------------------------------------------
# YAML


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that stops composing below :data:`MAX_DEPTH` levels."""

    def __init__(self, stream: str, source: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._source = source

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise InputError(
                    f"{self._source}: YAML nested more than {MAX_DEPTH} levels deep (line {mark.line + 1}); "
                    "suite files nest a few levels"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_duplicate_keys(node: yaml.MappingNode, source: str) -> None:
    first: dict[tuple[str, str], int] = {}
    for key, _value in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        ident = (key.tag, key.value)
        line = key.start_mark.line + 1
        if ident in first:
            raise InputError(
                f"{source}: duplicate key {key.value!r} on lines {first[ident]} and {line} "
                "(YAML would silently keep the last one); remove one of them"
            )
        first[ident] = line


def _check_graph(root: yaml.Node, source: str) -> None:
    """Expanded size and depth of the node graph (aliases counted at every use), cycles, duplicate keys."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if children_done:
            kids = _children(node)
            size[ident] = 1 + sum(size[id(k)] for k in kids)
            depth[ident] = 1 + max((depth[id(k)] for k in kids), default=0)
            on_path.discard(ident)
            if size[ident] > MAX_YAML_NODES:
                raise InputError(
                    f"{source}: the YAML expands to more than {MAX_YAML_NODES} values (aliases counted at every use, "
                    f"line {node.start_mark.line + 1}): an alias bomb? Write the values out"
                )
            if depth[ident] > MAX_DEPTH:
                raise InputError(
                    f"{source}: the YAML nests more than {MAX_DEPTH} levels once aliases are expanded "
                    f"(line {node.start_mark.line + 1})"
                )
            continue
        if ident in size:
            continue
        if ident in on_path:
            raise InputError(f"{source}: recursive YAML alias (a value that contains itself, line {node.start_mark.line + 1})")
        on_path.add(ident)
        if isinstance(node, yaml.MappingNode):
            _check_duplicate_keys(node, source)
        stack.append((node, True))
        for kid in _children(node):
            if id(kid) in on_path:
                raise InputError(
                    f"{source}: recursive YAML alias (a value that contains itself, line {kid.start_mark.line + 1})"
                )
            if id(kid) not in size:
                stack.append((kid, False))


def load_yaml(data: str | bytes, source: str) -> Any:
    """``yaml.safe_load`` with the bounds of this module.

    :param data: YAML text, or bytes that must be UTF-8
    :param source: where it came from, for messages
    :return: the decoded document (``None`` for an empty one)
    :raises InputError: for every refused input, including malformed YAML
    """
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_YAML_BYTES:
        raise InputError(f"{source}: {len(raw)} bytes of YAML; at most {MAX_YAML_BYTES} are accepted")
    text = decode_utf8(data, source) if isinstance(data, bytes) else data
    loader = _BoundedLoader(text, source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_graph(node, source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: not valid YAML: {exc}") from None
    except RecursionError:  # a bound above should have caught it; keep the promise of no traceback anyway
        raise InputError(f"{source}: YAML nested too deeply") from None
    finally:
        loader.dispose()
