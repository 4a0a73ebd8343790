"""Real proxy-wasm filters built from source for the tests (FORMATS.md section 5).

tests/support/filters/<name>/ holds a filter's sources (package.json pinning the SDK and the
compiler, package-lock.json, assembly/index.ts). build_filter() copies them into
<repo>/.cache/wasm-build/<name>/, runs `npm install` there and compiles with AssemblyScript:

    npm install --no-audit --no-fund
    npx asc assembly/index.ts -b build/filter.wasm --use abort=abort_proc_exit --optimize

The folder is kept across runs: npm install runs again only when package.json or the lock
changed, asc only when a source changed (HUB_WASM_REBUILD=1 forces both). A failing tool raises
BuildError carrying its output; nothing is skipped (a missing node or npm is a failure too).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILTERS = Path(__file__).resolve().parent / "filters"
CACHE = REPO / ".cache" / "wasm-build"
NPM_INSTALL = "npm install --no-audit --no-fund".split()
ASC = (
    "npx asc assembly/index.ts -b build/filter.wasm --use abort=abort_proc_exit --optimize".split()
)
OUTPUT = Path("build/filter.wasm")
TIMEOUT = 600  # seconds per tool run; both take seconds when the registry answers


class BuildError(RuntimeError):
    """A filter could not be built; the message holds the command and its output."""


def _sources(src: Path) -> dict[str, bytes]:
    files = [p for p in sorted(src.rglob("*")) if p.is_file()]
    return {str(p.relative_to(src)): p.read_bytes() for p in files}


def _digest(files: dict[str, bytes], names: list[str] | None = None) -> str:
    h = hashlib.sha256()
    for name in sorted(names if names is not None else files):
        h.update(name.encode() + b"\0" + files.get(name, b"") + b"\0")
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path) -> float:
    if shutil.which(cmd[0]) is None:
        raise BuildError(f"{cmd[0]} is not on PATH: the real-filter tests need Node.js and npm")
    env = {**os.environ, "npm_config_update_notifier": "false"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"`{' '.join(cmd)}` in {cwd} timed out after {TIMEOUT}s") from exc
    if done.returncode != 0:
        raise BuildError(
            f"`{' '.join(cmd)}` in {cwd} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        )
    return time.monotonic() - started


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One build per folder at a time (parallel test sessions share the cache)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def build_filter(name: str = "add-header") -> bytes:
    """The compiled module of tests/support/filters/<name>, building it when needed."""
    src = FILTERS / name
    if not (src / "package.json").is_file():
        raise BuildError(f"no filter sources in {src}")
    work = CACHE / name
    files = _sources(src)
    deps_stamp = _digest(files, ["package.json", "package-lock.json"])
    build_stamp = _digest(files)
    force = os.environ.get("HUB_WASM_REBUILD") == "1"
    with _locked(work):
        for rel, data in files.items():
            target = work / rel
            if not target.is_file() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        deps_file, build_file = work / ".deps-stamp", work / ".build-stamp"
        if force or not (work / "node_modules").is_dir() or _read(deps_file) != deps_stamp:
            _run(NPM_INSTALL, work)
            deps_file.write_text(deps_stamp)
            build_file.unlink(missing_ok=True)
        output = work / OUTPUT
        if force or not output.is_file() or _read(build_file) != build_stamp:
            output.unlink(missing_ok=True)
            _run(ASC, work)
            if not output.is_file():
                raise BuildError(f"`{' '.join(ASC)}` succeeded but wrote no {OUTPUT}")
            build_file.write_text(build_stamp)
        return output.read_bytes()


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None


@pytest.fixture(scope="session")
def real_filter() -> bytes:
    """The add-header filter of @solo-io/proxy-runtime 0.1.8's README, compiled by
    AssemblyScript 0.14.13: exports proxy_abi_version_0_2_0 and proxy_on_*, imports env.proxy_*
    and wasi_unstable.proc_exit, registers root id "add_header"."""
    return build_filter("add-header")


@pytest.fixture(scope="session")
def require_header_filter() -> bytes:
    """tests/support/filters/require-header, built like real_filter: root id "require_header";
    answers 403 locally (proxy_send_local_response) when the request lacks the header its
    configuration names (x-api-key when empty), else sets x-auth-checked: true upstream; adds
    x-required-header: <name> to every response, the local 403 included; counts denials in
    the counter require_header_denied."""
    return build_filter("require-header")
