"""The worker process: receives (kind, wasm, job) over a socket, runs it in the
proxy-wasm host (hub.wasm.host) and sends the result back. It is a fresh interpreter started by
hub.playground.pool with an environment of its own, so it holds nothing of the hub's memory
(no database engine, no settings, no secrets); the host functions give the guest no network
and no files. A run that overstays its wall clock is killed by the pool,
which starts a fresh worker."""

from __future__ import annotations

import os
import sys
from multiprocessing.connection import Connection
from typing import Any


def _harden() -> None:
    import resource

    # A crashing guest must not leave core files of a process that read other people's data.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def serve(conn: Connection) -> None:
    _harden()
    from hub.wasm import host
    from hub.wasm.host.sandbox import engine

    engine()  # compile nothing yet, but have the engine and its epoch ticker ready
    conn.send(("ready", os.getpid()))
    while True:
        try:
            kind, data, job = conn.recv()
        except (EOFError, OSError):
            return  # the hub went away
        try:
            result: dict[str, Any] = (
                host.run_filter(data, job) if kind == "run" else host.load_check(data, job)
            )
            conn.send(("ok", result))
        except Exception as exc:  # a host bug: report it, keep serving
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def main() -> None:
    """Entry point: `python -I -c BOOT <hub root> <socket fd>` (hub.playground.pool)."""
    serve(Connection(int(sys.argv[2])))
