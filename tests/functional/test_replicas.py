"""Two stateless replicas (DESIGN.md "Shape"): two `wasm-hub serve` processes sharing one
PostgreSQL database and one S3 bucket. Whatever one replica starts, the other continues."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest

from tests.support import seaweed
from tests.support.postgres import fresh_database
from tests.support.pushing import MANIFEST, Artifact, path_of, push_blob, sha256
from tests.support.seaweed import SeaweedS3
from tests.support.server import HubServer, migrate

# The session fixture, re-exported (one SeaweedFS process however many modules do this).
seaweedfs = seaweed.seaweedfs


@dataclass
class Replicas:
    a: httpx.Client
    b: httpx.Client
    bucket: str


@pytest.fixture(scope="module")
def replicas(seaweedfs: SeaweedS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    bucket = seaweedfs.new_bucket("replicas")
    with fresh_database("hub_replicas") as database_url:
        env = {
            **seaweedfs.hub_env(bucket, "hub"),
            "HUB_DATABASE_URL": database_url,
            # replicas of one registry share their secret (tokens signed by one, checked by both)
            "HUB_SECRET_KEY": secrets.token_urlsafe(32),
        }
        migrate(env, tmp_path_factory.mktemp("replicas-migrate"))
        # started together on a busy 2-core machine: be patient
        a = HubServer(tmp_path_factory.mktemp("replica-a"), env, start_timeout=90)
        b = HubServer(tmp_path_factory.mktemp("replica-b"), env, start_timeout=90)
        with ExitStack() as stack:
            stack.callback(a.stop)
            stack.callback(b.stop)
            # started together, as a deployment's replicas are
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(HubServer.start, [a, b]))
            assert a.port != b.port
            client_a = stack.enter_context(httpx.Client(base_url=a.url, timeout=60))
            client_b = stack.enter_context(httpx.Client(base_url=b.url, timeout=60))
            yield Replicas(client_a, client_b, bucket)


@pytest.fixture
def repo() -> str:
    return f"replicas/r{secrets.token_hex(4)}"


def test_upload_hops_between_replicas(replicas: Replicas, seaweedfs: SeaweedS3, repo: str) -> None:
    a, b = replicas.a, replicas.b
    data = secrets.token_bytes(1024 * 1024 + 4321)
    cuts = [0, 1000, 700_000, len(data)]
    chunk = [data[s:e] for s, e in zip(cuts, cuts[1:], strict=False)]

    def content_range(n: int) -> dict[str, str]:
        return {"Content-Range": f"{cuts[n]}-{cuts[n + 1] - 1}"}

    r = a.post(f"/v2/{repo}/blobs/uploads/")  # begun on A
    assert r.status_code == 202, r.text
    location = path_of(r.headers["location"])

    for client, n in [(b, 0), (a, 1)]:  # continued with PATCH on B, then another on A
        r = client.patch(location, content=chunk[n], headers=content_range(n))
        assert r.status_code == 202, r.text
        assert r.headers["range"] == f"0-{cuts[n + 1] - 1}"
        location = path_of(r.headers["location"])

    # both replicas report the same progress, and B refuses a chunk that does not follow
    # what A received
    for client in (a, b):
        status = client.get(location)
        assert status.status_code == 204 and status.headers["range"] == f"0-{cuts[2] - 1}"
    gap = {"Content-Range": f"{cuts[2] + 1}-{cuts[3] - 1}"}  # one byte missing
    assert b.patch(location, content=chunk[2][1:], headers=gap).status_code == 416

    d = sha256(data)
    r = b.put(location, params={"digest": d}, content=chunk[2], headers=content_range(2))
    assert r.status_code == 201, r.text  # closed with PUT on B, carrying the last chunk
    assert r.headers["docker-content-digest"] == d

    pulled = a.get(f"/v2/{repo}/blobs/{d}")  # pulled from A
    assert pulled.status_code == 200 and pulled.content == data
    assert b.get(f"/v2/{repo}/blobs/{d}").content == data
    for client in (a, b):
        assert client.get(location).status_code == 404  # the session is closed everywhere
    assert [k for k in seaweedfs.keys(replicas.bucket) if k.startswith("hub/uploads/")] == []


def test_manifest_pushed_to_one_is_pulled_from_the_other(replicas: Replicas, repo: str) -> None:
    a, b = replicas.a, replicas.b
    layer = secrets.token_bytes(20_000)
    image = Artifact(repo, "v1", [layer], config=b'{"architecture":"wasm","os":"wasip1"}')
    for blob in (image.config, layer):  # single-POST monolithic pushes on A
        push_blob(a, repo, blob, chunked=False, skip_existing=False)
    manifest = image.build_manifest()
    md = sha256(manifest)
    for tag in ("v1.0.0", "latest"):
        r = a.put(
            f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": MANIFEST}
        )
        assert r.status_code == 201, r.text
        assert r.headers["docker-content-digest"] == md

    for ref in ("v1.0.0", "latest", md):
        got = b.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST})
        assert got.status_code == 200, (ref, got.text)
        assert got.content == manifest
        assert got.headers["docker-content-digest"] == md
        assert got.headers["content-type"] == MANIFEST
    assert b.get(f"/v2/{repo}/blobs/{sha256(layer)}").content == layer

    # a tag added on B is seen on A
    tags_a = a.get(f"/v2/{repo}/tags/list").json()
    tags_b = b.get(f"/v2/{repo}/tags/list").json()
    assert tags_a == tags_b == {"name": repo, "tags": ["latest", "v1.0.0"]}
    r = b.put(f"/v2/{repo}/manifests/stable", content=manifest, headers={"Content-Type": MANIFEST})
    assert r.status_code == 201
    assert a.get(f"/v2/{repo}/tags/list").json()["tags"] == ["latest", "stable", "v1.0.0"]
    assert a.get(f"/v2/{repo}/tags/list").json() == b.get(f"/v2/{repo}/tags/list").json()
