"""Pickle detection without unpickling, safetensors/JSON checks and non-finite numbers, on small hand-made files."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from hyperbench.leaderboard.safety import (
    check_payload_file,
    check_safetensors,
    iter_non_finite,
    parse_json_strict,
    sniff_pickle,
)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol_is_recognised(protocol: int):
    data = pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True)}, protocol=protocol)
    assert sniff_pickle(data) == f"pickle data (protocol {protocol if protocol >= 2 else 0})"
    assert "pickle" in str(check_payload_file("policy.safetensors", data))
    assert "pickle" in str(check_payload_file("spec.json", data))


def test_pickles_inside_zip_archives():
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buffer)  # a zip whose data.pkl member is a pickle
    assert "zip archive holding pickle data (member" in str(sniff_pickle(buffer.getvalue()))
    sb3_like = io.BytesIO()  # SB3's .zip: JSON "data" plus torch.save files
    with zipfile.ZipFile(sb3_like, "w") as archive:
        archive.writestr("data", json.dumps({"policy_class": "x"}))
        archive.writestr("policy.pth", buffer.getvalue())
    assert "member 'policy.pth'" in str(sniff_pickle(sb3_like.getvalue()))
    assert "pickle" in str(check_payload_file("model.zip", sb3_like.getvalue()))
    clean_zip = io.BytesIO()
    with zipfile.ZipFile(clean_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert sniff_pickle(clean_zip.getvalue()) is None


def test_safetensors_and_json_are_not_mistaken_for_pickles():
    tensors = {"actor.weight": torch.randn(4, 3), "actor.bias": torch.zeros(4)}
    data = save_safetensors(tensors)
    assert check_safetensors(data) is None and sniff_pickle(data) is None
    assert check_payload_file("policy.safetensors", data) is None
    # a valid safetensors file whose header length is 0x0280 starts with the bytes of a pickle protocol-2 header
    header = {k: {"dtype": "F32", "shape": list(v.shape), "data_offsets": [0, 0]} for k, v in tensors.items()}
    body, offset = b"", 0
    for k, v in tensors.items():
        raw = v.numpy().tobytes()
        header[k]["data_offsets"] = [offset, offset + len(raw)]
        body, offset = body + raw, offset + len(raw)
    text = json.dumps(header).encode()
    text += b" " * (0x280 - len(text))
    tricky = struct.pack("<Q", len(text)) + text + body
    assert tricky[:2] == b"\x80\x02"
    assert torch.equal(load_safetensors(tricky)["actor.weight"], tensors["actor.weight"])
    assert check_payload_file("policy.safetensors", tricky) is None
    assert check_payload_file("spec.json", json.dumps({"seed": 1}).encode()) is None


def test_other_files_are_refused_with_reasons():
    assert "not a safetensors file" in str(check_payload_file("policy.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{}"))
    assert "pickle-based" in str(check_payload_file("weights.pt", b"plain bytes"))
    assert "not accepted" in str(check_payload_file("run.sh", b"echo hi"))
    assert "not valid JSON" in str(check_payload_file("spec.json", b'{"seed": 1'))
    assert "non-finite" in str(check_payload_file("spec.json", b'{"lr": NaN}'))


def test_non_finite_numbers_are_located():
    parsed = parse_json_strict('{"a": [1, NaN, {"b": -Infinity}], "c": 1e999}')
    assert parsed.constants == ["NaN", "-Infinity"]
    assert list(iter_non_finite(parsed.value)) == ["a[1] = nan", "a[2].b = -inf", "c = inf"]
