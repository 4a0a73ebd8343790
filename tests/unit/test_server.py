"""The listener `wasm-hub serve --workers N` shares must be a TCP socket (see hub/server.py)."""

from __future__ import annotations

import socket

from uvicorn.config import Config

from hub.server import _bind_tcp
from tests.support.server import free_port


def test_shared_listener_reports_tcp_so_asyncio_sets_nodelay() -> None:
    config = Config(app="hub.app:create_app", host="127.0.0.1", port=free_port(), workers=2)
    sock = _bind_tcp(config)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
