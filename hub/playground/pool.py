"""A pool of sandbox worker processes (hub.playground.worker), started on first use.

`run()` is blocking and thread-safe; the service calls it from a worker thread with its own
capacity limiter, so the event loop never waits on a filter. Each run borrows one idle
process; when the run overstays its wall clock the process is killed and replaced, so an
endless loop the epoch deadline cannot stop (a compile bomb, a host-call storm) costs one
process, not the hub."""

from __future__ import annotations

import logging
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger("hub.playground")
START_TIMEOUT = 30.0  # a fresh interpreter importing wasmtime on a loaded machine
IPC_GRACE = 0.5  # sending the module and the answer, beyond the run's own wall clock


class PoolBusy(Exception):
    """No worker became free in time."""


class NotReady(Exception):
    """A fresh worker has not finished starting; it stays in the pool."""


class RunFailed(Exception):
    """The run did not come back: killed at the wall clock, or the process died."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


# The worker is a fresh interpreter in isolated mode (-I: no PYTHONPATH, no user site, no
# current directory) with an environment of its own: none of the hub's settings or secrets
# reach the process that runs untrusted code. Only the directory holding `hub` is added.
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from hub.playground.worker import main; main()"
HUB_ROOT = str(Path(__file__).resolve().parents[2])


def _environment() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}


class _Worker:
    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", BOOT, HUB_ROOT, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                env=_environment(),
                stdin=subprocess.DEVNULL,
                close_fds=True,
            )
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            raise NotReady(f"a sandbox worker is still starting after {timeout:g} s")
        self.conn.recv()  # EOFError when it died while starting
        self.ready = True

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.wait(5)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.close()  # the worker sees EOF and returns
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


class WorkerPool:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the playground needs at least one worker")
        self.size = size
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._started = False
        self._closed = False

    def start(self) -> None:
        with self._lock:
            if self._started or self._closed:
                return
            for _ in range(self.size):
                self._add()
            self._started = True

    def _add(self) -> None:
        worker = _Worker()
        self._all.add(worker)
        self._idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            if not self._closed:
                self._add()

    def run(
        self,
        kind: str,
        data: bytes,
        job: dict[str, Any],
        timeout: float,
        wait: float,
        start_timeout: float = START_TIMEOUT,
    ) -> dict[str, Any]:
        """The worker's answer; PoolBusy when no worker is free within `wait` seconds (or
        none finished starting within `start_timeout`); RunFailed when the run exceeds
        `timeout` seconds or its process dies."""
        if self._closed:
            raise PoolBusy("the playground is shutting down")
        self.start()
        try:
            worker = self._idle.get(timeout=wait)
        except queue.Empty:
            raise PoolBusy(f"all {self.size} sandbox workers are busy") from None
        healthy = True
        try:
            if not worker.alive():
                raise RunFailed("crash", "a sandbox worker had died; it was replaced")
            try:
                worker.wait_ready(start_timeout)
            except NotReady as exc:
                raise PoolBusy(str(exc)) from None
            started = time.monotonic()
            worker.conn.send((kind, data, job))
            if not worker.conn.poll(timeout + IPC_GRACE):
                raise RunFailed(
                    "timeout",
                    f"exceeded the {timeout:g} s wall-clock limit; the sandbox process was "
                    "stopped and replaced",
                )
            status, payload = worker.conn.recv()
            log.debug("%s run in %.1f ms", kind, (time.monotonic() - started) * 1000)
        except RunFailed:
            healthy = False
            raise
        except (EOFError, OSError, BrokenPipeError):
            healthy = False
            code = worker.process.poll()
            raise RunFailed(
                "crash", f"the sandbox process died (exit code {code}); it was replaced"
            ) from None
        finally:
            if healthy:
                self._idle.put(worker)
            else:
                self._replace(worker)
        if status != "ok":
            raise RunFailed("crash", f"the sandbox host failed: {payload}")
        result: dict[str, Any] = payload
        return result

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
