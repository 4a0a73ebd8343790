"""hub/server.py: the listener `wasm-hub serve --workers N` shares must be a TCP socket, and
workers are forked from a parent that preloaded the app."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
from uvicorn.config import Config

from hub.server import _bind_tcp
from tests.support.server import HubServer, free_port


def test_shared_listener_reports_tcp_so_asyncio_sets_nodelay() -> None:
    config = Config(app="hub.app:create_app", host="127.0.0.1", port=free_port(), workers=2)
    sock = _bind_tcp(config)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_workers_are_forked_from_a_preloaded_parent(tmp_path: Path) -> None:
    """`--workers 2` forks its workers from the supervisor that imported the app (sharing its
    pages copy-on-write) rather than spawning interpreters that import everything again."""
    with HubServer(tmp_path, {}, workers=2, start_timeout=90) as server:
        assert server.proc is not None
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = children(server.proc.pid)
            time.sleep(0.2)
        assert len(workers) == 2
        parent_cmdline = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        for pid in workers:
            # a spawned worker runs `python -c "from multiprocessing.spawn import ..."`
            assert Path(f"/proc/{pid}/cmdline").read_bytes() == parent_cmdline
        for _ in range(4):  # and they serve
            assert httpx.get(f"{server.url}/v2/", timeout=10).status_code == 200


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found
