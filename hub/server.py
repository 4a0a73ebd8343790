"""Running uvicorn: the one place that knows about its quirks."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
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


def _fork_preloaded_workers() -> None:
    """Workers forked from a parent that has imported the app, instead of uvicorn's spawned
    ones that each import it again. The ~90 MB of imported code and module state then exists
    once in memory, shared copy-on-write by every worker (benchmarks/: 2 workers plus the
    supervisor went from ~290 MB to ~150 MB proportional set size), and workers start at once.

    Safe because the parent is single-threaded here and holds nothing a child would share by
    accident: the start-up checks dispose of their engine and storage clients before this, and
    each worker builds its own in the app's lifespan (hub.app.create_app)."""
    import uvicorn._subprocess

    import hub.app  # noqa: F401 - the import is the point: its pages are what get shared

    gc.collect()
    # Objects alive now are never scanned by the collector again, so collections in a worker
    # do not write to (and so copy) the shared pages that hold them.
    gc.freeze()
    uvicorn._subprocess.spawn = multiprocessing.get_context("fork")  # type: ignore[assignment]


def _limit_malloc_arenas() -> None:
    """glibc gives each thread that allocates its own malloc arena (up to 8 per CPU). Request
    bodies and blob chunks are MiB-sized buffers allocated in a worker thread and freed on the
    event loop's, so freed memory piles up in many arenas (benchmarks/: +200 MB over 16
    connections). Two arenas keep it reusable; set before any thread exists (forked workers
    inherit it)."""
    if os.environ.get("HUB_MALLOC_ARENAS", "2") in ("", "0"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc
    m_arena_max = -8
    libc.mallopt(m_arena_max, int(os.environ.get("HUB_MALLOC_ARENAS", "2")))


def run(**kwargs: Any) -> None:
    import uvicorn

    _limit_malloc_arenas()

    Config.bind_socket = _bind_tcp  # type: ignore[method-assign]
    if kwargs.get("workers", 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
        _fork_preloaded_workers()
    uvicorn.run("hub.app:create_app", factory=True, **kwargs)
