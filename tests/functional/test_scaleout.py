"""The scale-out deployment (README "Scale-out"): stateless `wasm-hub serve` replicas on one
PostgreSQL database and a multi-node SeaweedFS (master, two volume servers, filer, two S3
gateways), each replica talking to a different gateway. Whatever one replica starts, another
continues; whatever one stores, every other serves. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from tests.support.postgres import fresh_database
from tests.support.pushing import MANIFEST, Artifact, path_of, push_blob, sha256
from tests.support.seaweed_cluster import SeaweedCluster, seaweed_cluster
from tests.support.server import HubServer


@dataclass
class Deployment:
    cluster: SeaweedCluster
    servers: list[HubServer]
    # Replica 0 streams blobs through gateway a; replica 1 uses gateway b and answers blob
    # GETs with presigned redirects to it (HUB_S3_REDIRECT), which the client follows.
    clients: list[httpx.Client]


def _migrate(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_database("hub_scaleout"))
        with ThreadPoolExecutor(1) as pool:  # the schema is made while SeaweedFS starts
            migrated = pool.submit(_migrate, database_url)
            cluster = stack.enter_context(
                seaweed_cluster(tmp_path_factory.mktemp("seaweed-cluster"))
            )
            migrated.result()
        a, b = cluster.gateways
        common = {
            "HUB_DATABASE_URL": database_url,
            # replicas of one registry share their secret (tokens signed by one, checked by all)
            "HUB_SECRET_KEY": secrets.token_urlsafe(32),
        }
        envs = [
            {**common, **a.hub_env(cluster.bucket, "hub")},
            {**common, **b.hub_env(cluster.bucket, "hub", redirect=True)},
        ]
        servers = [
            # replicas start at once, beside six SeaweedFS processes: be patient
            HubServer(tmp_path_factory.mktemp(f"replica-{n}"), env, start_timeout=90)
            for n, env in enumerate(envs)
        ]
        for server in servers:
            stack.callback(server.stop)
        with ThreadPoolExecutor(len(servers)) as pool:  # started together, as replicas are
            list(pool.map(HubServer.start, servers))
        clients = [
            stack.enter_context(httpx.Client(base_url=s.url, timeout=60, follow_redirects=True))
            for s in servers
        ]
        yield Deployment(cluster, servers, clients)


@pytest.fixture
def repo() -> str:
    return f"scale/r{secrets.token_hex(4)}"


def listening_addresses(pid: int) -> set[str]:
    """host:port (hex, as the kernel writes it) of every TCP socket ``pid`` listens on."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                    found.add(fields[1])
    return found


def test_layout_is_multi_node_and_loopback_only(deployment: Deployment) -> None:
    cluster = deployment.cluster
    assert [n.name for n in cluster.nodes] == [
        "master",
        "volume1",
        "volume2",
        "filer",
        "s3a",
        "s3b",
    ]
    assert len(cluster.data_nodes()) == 2  # both volume servers joined the master
    endpoints = {s.env["HUB_S3_ENDPOINT_URL"] for s in deployment.servers}
    assert len(endpoints) == 2  # the replicas use different gateways
    for node in cluster.nodes:
        assert node.proc is not None
        addresses = listening_addresses(node.proc.pid)
        assert addresses, f"{node.name} listens nowhere?"
        # 0100007F is 127.0.0.1 in /proc/net/tcp's little-endian hex
        assert all(a.startswith("0100007F:") for a in addresses), (node.name, addresses)


def test_chunked_upload_hops_replicas_and_gateways(deployment: Deployment, repo: str) -> None:
    a, b = deployment.clients
    data = secrets.token_bytes(3 * 1024 * 1024 + 777)
    cuts = [0, 1024 * 1024, 2 * 1024 * 1024 + 5, len(data)]
    d = sha256(data)

    r = a.post(f"/v2/{repo}/blobs/uploads/")  # begun on replica 0 (gateway a)
    assert r.status_code == 202, r.text
    location = path_of(r.headers["location"])
    for n, client in enumerate((b, a)):  # PATCH on replica 1 (gateway b), then on 0
        r = client.patch(
            location,
            content=data[cuts[n] : cuts[n + 1]],
            headers={"Content-Range": f"{cuts[n]}-{cuts[n + 1] - 1}"},
        )
        assert r.status_code == 202, r.text
        assert r.headers["range"] == f"0-{cuts[n + 1] - 1}"
        location = path_of(r.headers["location"])
    r = b.put(location, params={"digest": d}, content=data[cuts[2] :])  # closed on 1
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == d
    for client in (a, b):
        pulled = client.get(f"/v2/{repo}/blobs/{d}")
        assert pulled.status_code == 200 and pulled.content == data
        assert client.get(location).status_code == 404  # the session is gone everywhere
    # nothing of the session is left in the bucket, seen through either gateway
    for gateway in deployment.cluster.gateways:
        assert [k for k in gateway.keys(deployment.cluster.bucket) if "/uploads/" in k] == []


def test_push_on_one_replica_pull_from_every_other(deployment: Deployment, repo: str) -> None:
    a, b = deployment.clients
    layer = secrets.token_bytes(300_000)
    image = Artifact(repo, "v1", [layer], config=b'{"architecture":"wasm","os":"wasip1"}')
    for blob in (image.config, layer):  # single-POST monolithic pushes on replica 1
        push_blob(b, repo, blob, chunked=False, skip_existing=False)
    manifest = image.build_manifest()
    r = a.put(f"/v2/{repo}/manifests/v1", content=manifest, headers={"Content-Type": MANIFEST})
    assert r.status_code == 201, r.text  # the manifest on replica 0 sees replica 1's blobs
    for client in deployment.clients:
        got = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": MANIFEST})
        assert got.status_code == 200 and got.content == manifest
        assert got.headers["docker-content-digest"] == sha256(manifest)
        assert client.get(f"/v2/{repo}/tags/list").json() == {"name": repo, "tags": ["v1"]}

    # Replica 1 sends blob readers to gateway b with a presigned URL; they fetch it there.
    no_follow = httpx.Client(base_url=deployment.servers[1].url, timeout=30)
    with no_follow:
        r = no_follow.get(f"/v2/{repo}/blobs/{sha256(layer)}")
    assert r.status_code == 307, r.text
    assert r.headers["location"].startswith(deployment.cluster.gateways[1].endpoint + "/")
    assert httpx.get(r.headers["location"], timeout=30).content == layer
    assert b.get(f"/v2/{repo}/blobs/{sha256(layer)}").content == layer  # followed


def test_concurrent_pushes_of_the_same_content_through_both_replicas(
    deployment: Deployment, repo: str
) -> None:
    """Replicas race to create the repository, link the blob and move the tag: every push
    succeeds and one consistent state is left."""
    a, b = deployment.clients
    layer = secrets.token_bytes(64 * 1024)
    config = b"{}"

    def push(n: int) -> int:
        client = (a, b)[n % 2]
        for blob in (config, layer):
            r = client.post(
                f"/v2/{repo}/blobs/uploads/", params={"digest": sha256(blob)}, content=blob
            )
            assert r.status_code == 201, r.text
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": sha256(config),
                    "size": 2,
                },
                "layers": [
                    {
                        "mediaType": "application/octet-stream",
                        "digest": sha256(layer),
                        "size": len(layer),
                    }
                ],
                "annotations": {"n": str(n)},
            }
        ).encode()
        r = client.put(
            f"/v2/{repo}/manifests/latest", content=manifest, headers={"Content-Type": MANIFEST}
        )
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(push, range(8))) == [201] * 8
    latest_a = a.get(f"/v2/{repo}/manifests/latest", headers={"Accept": MANIFEST})
    latest_b = b.get(f"/v2/{repo}/manifests/latest", headers={"Accept": MANIFEST})
    assert latest_a.status_code == latest_b.status_code == 200
    assert latest_a.content == latest_b.content
    assert b.get(f"/v2/{repo}/blobs/{sha256(layer)}").content == layer
