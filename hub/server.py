"""Running uvicorn: the one place that knows about its quirks."""

from __future__ import annotations

import socket
from typing import Any

from uvicorn.config import Config

_original_bind = Config.bind_socket


def _bind_tcp(self: Config) -> socket.socket:
    # uvicorn (Kludex/uvicorn#3149) creates the shared listener of `--workers N` with
    # socket.socket(family=...), so it reports protocol 0; asyncio then skips TCP_NODELAY on
    # accepted connections, and every small response waits ~40 ms for the client's delayed
    # ACK (benchmarks/: manifest GETs at 0.16x the reference until this was fixed).
    sock = _original_bind(self)
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
        sock = socket.socket(fileno=sock.detach())  # the kernel reports IPPROTO_TCP
    return sock


def run(**kwargs: Any) -> None:
    import uvicorn

    Config.bind_socket = _bind_tcp  # type: ignore[method-assign]
    uvicorn.run("hub.app:create_app", factory=True, **kwargs)
