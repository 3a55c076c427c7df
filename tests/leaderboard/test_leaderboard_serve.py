"""`hyperbench leaderboard serve`: the built board over HTTP on 127.0.0.1, bounded in time."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hyperbench.cli import main
from hyperbench.leaderboard import make_server
from tests.leaderboard.conftest import TinyRun


def test_serves_the_page_and_raw_submissions(tiny_run: TinyRun):
    server = make_server(tiny_run.board, port=0)
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/", timeout=10) as response:
            assert response.status == 200
            assert response.read() == (tiny_run.board / "index.html").read_bytes()
        raw = f"{base}/submissions/lb-tiny/{tiny_run.submission_id}.json"
        with urllib.request.urlopen(raw, timeout=10) as response:
            assert b'"kind": "hyperbench.Submission"' in response.read()
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base}/submissions/", timeout=10)
        assert info.value.code == 404  # no directory listings
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serve_command_is_bounded_and_needs_a_built_board(capsys, tiny_run: TinyRun, tmp_path: Path):
    start = time.monotonic()
    assert main(["leaderboard", "serve", "--leaderboard", str(tiny_run.board), "--port", "0", "--timeout", "0.5"]) == 0
    assert time.monotonic() - start < 10
    out = capsys.readouterr().out
    assert "serving" in out and "at http://127.0.0.1:" in out
    assert main(["leaderboard", "serve", "--leaderboard", str(tmp_path / "none"), "--port", "0"]) == 2
    assert "run `hyperbench leaderboard build` first" in capsys.readouterr().err
