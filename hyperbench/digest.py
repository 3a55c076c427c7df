"""SHA-256 of a safetensors checkpoint: every tensor (name, dtype, shape, bytes) *and* every header entry.

Both hyperbench checkpoint formats (meta learners, :mod:`hyperbench.meta.base`; SB3 training state,
:mod:`hyperbench.sb3.persistence`) keep their configuration and counters as JSON strings in the
safetensors header (``__metadata__``) and a ``sha256`` entry computed by :func:`state_digest`. Covering the
header means a changed configuration or counter (a flipped byte, an edited ``cg_iters``) is refused on
load like a changed weight. The digest detects corruption and edits by anyone who does not recompute it;
it is not a signature (see ``docs/threat-model.md``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import torch as th

__all__ = ["DIGEST_KEY", "state_digest"]

#: Header entry holding the digest (the only entry it does not cover).
DIGEST_KEY = "sha256"


def state_digest(tensors: Mapping[str, th.Tensor], header: Mapping[str, str] | None = None) -> str:
    """Hex SHA-256 over the tensors (sorted by name) and the header entries (sorted by key, ``sha256`` excluded).

    :param tensors: name → tensor (CPU or not; read as raw bytes)
    :param header: string metadata stored in the safetensors header; ``None`` hashes the tensors only
        (the format of version-1 meta-learner checkpoints)
    :return: 64 hex digits
    """
    digest = hashlib.sha256()
    for key in sorted(tensors):
        tensor = tensors[key].detach().contiguous().cpu()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.view(-1).view(th.uint8).numpy().tobytes() if tensor.numel() else b"")
    if header is not None:
        digest.update(b"\x00header\x00")
        for key in sorted(header):
            if key == DIGEST_KEY:
                continue
            digest.update(len(key).to_bytes(8, "little") + key.encode())
            value = str(header[key]).encode()
            digest.update(len(value).to_bytes(8, "little") + value)
    return digest.hexdigest()
