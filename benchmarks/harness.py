"""Shared pieces of the benchmarks: starting the hub and the reference registry on 127.0.0.1,
reading a process tree's memory and CPU from /proc, and describing the machine.

Nothing here talks to any address but 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE_BINARY = "/usr/bin/docker-registry"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- /proc ----------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """``pid`` and every live descendant (via /proc/<pid>/task/<tid>/children)."""
    seen: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as fh:
                    stack.extend(int(c) for c in fh.read().split())
            except OSError:
                continue
    return seen


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in process_tree(pid))


def pss_bytes(pid: int) -> int:
    """Proportional set size: resident pages, each shared page divided among the processes
    sharing it. Summed over a process tree it counts every physical page once, where summed
    RSS counts a page shared by three processes three times."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(pid: int) -> int:
    return sum(pss_bytes(p) for p in process_tree(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used (its own, not its reaped children's)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            raw = fh.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu(pid: int) -> float:
    return sum(cpu_seconds(p) for p in process_tree(pid))


# --- servers ---------------------------------------------------------------------------------


class Server:
    """A registry in a subprocess, answering on http://127.0.0.1:<port>."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def ready(self) -> bool:
        raise NotImplementedError

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 180) -> Server:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
            try:
                if self.ready():
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def hub_command() -> list[str]:
    script = Path(sys.executable).parent / "wasm-hub"
    if script.exists():
        return [str(script)]
    found = shutil.which("wasm-hub")
    return [found] if found else [sys.executable, "-m", "hub"]


class Hub(Server):
    """``wasm-hub serve`` on SQLite and filesystem storage in ``workdir``, HUB_AUTH=none.

    ``workers=None`` leaves the worker count to serve's default (one per CPU): the server a
    user gets from plain ``wasm-hub serve``. Only host and port are passed."""

    name = "hub"

    def __init__(
        self, workdir: Path, workers: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(workdir)
        self.workers = workers
        self.extra_env = env or {}

    @property
    def expected_workers(self) -> int:
        return self.workers if self.workers is not None else (os.cpu_count() or 1)

    def command(self) -> list[str]:
        workers = [] if self.workers is None else ["--workers", str(self.workers)]
        return [
            *hub_command(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            *workers,
        ]

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "HUB_AUTH": "none",
            "HUB_BASE_URL": self.url,
            "HUB_DATABASE_URL": f"sqlite:///{self.workdir}/hub.db",
            "HUB_STORAGE_URL": f"file://{self.workdir}/blobs",
            **self.extra_env,
        }

    def ready(self) -> bool:
        if httpx.get(f"{self.url}/healthz", timeout=1).status_code != 200:
            return False
        # With several workers, wait until uvicorn has started all of them.
        n = self.expected_workers
        return n <= 1 or len(process_tree(self.pid)) >= n + 1


class Reference(Server):
    """Debian's docker-registry (distribution 2.8) with filesystem storage in ``workdir``.

    ``shipped_logging``: the logging of Debian's /etc/docker/registry/config.yml (info level,
    access log on: a line per request, as the hub's default); otherwise warnings only."""

    name = "reference"

    def __init__(self, workdir: Path, shipped_logging: bool = False) -> None:
        super().__init__(workdir)
        self.shipped_logging = shipped_logging

    def config(self) -> str:
        quiet = ["  level: warn", "  accesslog:", "    disabled: true"]
        shipped = ["  fields:", "    service: registry"]
        return "\n".join(
            [
                "version: 0.1",
                "log:",
                *(shipped if self.shipped_logging else quiet),
                "storage:",
                "  cache:",
                "    blobdescriptor: inmemory",
                "  filesystem:",
                f"    rootdirectory: {self.workdir}/data",
                "  delete:",
                "    enabled: true",
                "http:",
                f"  addr: 127.0.0.1:{self.port}",
                f"  secret: {secrets.token_hex(16)}",
                "",
            ]
        )

    def command(self) -> list[str]:
        path = self.workdir / "config.yml"
        self.workdir.mkdir(parents=True, exist_ok=True)
        path.write_text(self.config())
        return [REFERENCE_BINARY, "serve", str(path)]

    def ready(self) -> bool:
        return httpx.get(f"{self.url}/v2/", timeout=1).status_code == 200


# --- reporting -------------------------------------------------------------------------------


def today() -> str:
    return dt.date.today().isoformat()


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(
            cmd, capture_output=True, text=True, timeout=10, cwd=ROOT
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment_info() -> dict[str, object]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "hub_commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        "hub_tree_dirty": bool(_run(["git", "status", "--porcelain", "--", "hub"])),
        "reference": _run([REFERENCE_BINARY, "--version"]),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
