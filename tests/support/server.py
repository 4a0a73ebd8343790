"""A real `wasm-hub serve` in a subprocess on 127.0.0.1, for functional tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    proc: subprocess.Popen[bytes],
    url: str,
    timeout: float,
    what: str,
    log: Path,
    error: type[Exception] = RuntimeError,
) -> None:
    """Return once ``url`` answers 200. If ``proc`` exits first, or nothing answers within
    ``timeout`` seconds (then ``proc`` is stopped), raise ``error`` with the end of ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise error(f"{what} exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    terminate(proc)
    raise error(f"{what} did not answer: {log.read_text()[-3000:]}")


def terminate(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, and SIGKILL if it is still there 10 s later."""
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def migrate(env: dict[str, str], workdir: Path) -> None:
    """``python -m hub migrate`` with ``env`` over this environment, as a deployment runs it
    before starting servers on a new PostgreSQL database (SQLite is migrated by `serve`)."""
    subprocess.run(
        [sys.executable, "-m", "hub", "migrate"],
        env={**os.environ, **env},
        cwd=workdir,
        check=True,
        capture_output=True,
    )


class HubServer:
    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        port: int | None = None,
        workers: int = 1,
        log_level: str = "warning",
        start_timeout: float = 90.0,  # generous: CI machines can be loaded
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "HUB_AUTH": "none",
            "HUB_BASE_URL": self.url,
            "HUB_DATABASE_URL": f"sqlite:///{workdir}/hub.db",
            "HUB_STORAGE_URL": f"file://{workdir}/blobs",
            "HUB_PULL_FLUSH_SECONDS": "0.2",
            **env,
        }
        self.workers = workers
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.log = workdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HubServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "hub", "serve",
                    "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(self.workers), "--log-level", self.log_level,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )  # fmt: skip
        wait_for(self.proc, f"{self.url}/healthz", self.start_timeout, "wasm-hub serve", self.log)
        return self

    def stop(self) -> None:
        terminate(self.proc)

    def run(
        self, *args: str, stdin: str | None = None, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """``python -m hub <args>`` on this server's database and storage (its environment and
        working directory), as an operator would run the CLI beside it."""
        return subprocess.run(
            [sys.executable, "-m", "hub", *args], env=self.env, cwd=self.workdir, input=stdin,
            capture_output=True, text=True, check=check, timeout=timeout,
        )  # fmt: skip

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """What ``python -m hub <args>`` prints; a non-zero exit raises CalledProcessError."""
        return self.run(*args, stdin=stdin, check=True).stdout

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
