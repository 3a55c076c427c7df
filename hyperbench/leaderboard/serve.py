"""``hyperbench leaderboard serve``: the board directory over HTTP on 127.0.0.1 (standard library only).

Serves ``index.html`` and the raw submission files its links point to. It binds to the loopback
interface only: it is a viewer for the machine it runs on, not a public web server.
"""

from __future__ import annotations

import functools
import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["HOST", "make_server", "serve"]

HOST = "127.0.0.1"


class _Handler(SimpleHTTPRequestHandler):
    """Static files of the board, without directory listings, quietly."""

    def list_directory(self, path: str | os.PathLike[str]) -> Any:
        self.send_error(404, "no directory listings")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)


def make_server(root: str | os.PathLike[str], port: int = 8000, verbose: bool = False) -> ThreadingHTTPServer:
    """An HTTP server for the board directory, bound to 127.0.0.1 (not started).

    :param root: the leaderboard directory
    :param port: TCP port (0: any free port; read it back from ``server.server_address``)
    :param verbose: log every request to stderr
    :return: the server; call ``serve_forever()`` and later ``shutdown()``
    :raises FileNotFoundError: if the board has no ``index.html`` (run ``hyperbench leaderboard build``)
    """
    root = Path(root)
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root / 'index.html'} does not exist; run `hyperbench leaderboard build` first")
    handler = functools.partial(_Handler, directory=str(root))
    server = ThreadingHTTPServer((HOST, port), handler)
    server.verbose = verbose  # type: ignore[attr-defined]
    return server


def serve(root: str | os.PathLike[str], port: int = 8000, timeout: float | None = None, verbose: bool = True) -> None:
    """Serve the board until interrupted (or for ``timeout`` seconds).

    :param root: the leaderboard directory
    :param port: TCP port
    :param timeout: stop after this many seconds (``None``: until Ctrl-C)
    :param verbose: log requests
    """
    server = make_server(root, port, verbose)
    real_port = server.server_address[1]
    print(f"serving {Path(root).resolve()} at http://{HOST}:{real_port}/ (Ctrl-C to stop)", flush=True)
    timer = threading.Timer(timeout, server.shutdown) if timeout is not None else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if timer is not None:
            timer.cancel()
        server.server_close()
