"""A pool of sandbox worker processes (hub.playground.worker), started on first use.

`run()` is blocking and thread-safe; the service calls it from a worker thread with its own
capacity limiter, so the event loop never waits on a filter. Each run borrows one idle
process; when the run overstays its wall clock the process is killed and replaced, so an
endless loop the epoch deadline cannot stop (a compile bomb, a host-call storm) costs one
process, not the hub."""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger("hub.playground")
START_TIMEOUT = 30.0  # a fresh interpreter importing wasmtime on a loaded machine
IPC_GRACE = 0.5  # sending the module and the answer, beyond the run's own wall clock


class PoolBusy(Exception):
    """No worker became free in time."""


class RunFailed(Exception):
    """The run did not come back: killed at the wall clock, or the process died."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Worker:
    def __init__(self) -> None:
        from hub.playground.worker import serve

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        # Not a daemon: uvicorn's own worker processes may be daemonic-safe, but a daemon
        # cannot have children. close() and the pipe's EOF end these processes instead.
        self.process: BaseProcess = ctx.Process(
            target=serve, args=(child,), name="hub-playground-worker"
        )
        self.process.start()
        child.close()
        self.conn: Connection = parent
        self.ready = False

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            raise RunFailed("crash", f"a sandbox worker did not start within {timeout:g} s")
        self.conn.recv()
        self.ready = True

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        try:
            self.process.kill()
            self.process.join(2)
        finally:
            self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.close()  # the worker sees EOF and returns
            self.process.join(1)
        finally:
            if self.process.is_alive():
                self.process.kill()
                self.process.join(1)


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
        self, kind: str, data: bytes, job: dict[str, Any], timeout: float, wait: float
    ) -> dict[str, Any]:
        """The worker's answer; PoolBusy when no worker is free within `wait` seconds;
        RunFailed when the run exceeds `timeout` seconds or its process dies."""
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
            worker.wait_ready(START_TIMEOUT)
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
            code = worker.process.exitcode
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
