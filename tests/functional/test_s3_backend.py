"""A live `wasm-hub serve` storing blobs in a real S3 server (SeaweedFS): pushes and pulls over
HTTP, presigned redirects, and a digest mismatch that must leave nothing in the bucket."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import seaweed
from tests.support.seaweed import SeaweedS3
from tests.support.server import HubServer

# The session fixture, re-exported (one SeaweedFS process however many modules do this).
seaweedfs = seaweed.seaweedfs

PREFIX = "hub"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def blob_object(d: str) -> str:
    """Where the hub keeps a blob in the bucket: storage/paths.py under the URL's prefix."""
    alg, hex_ = d.split(":")
    return f"{PREFIX}/blobs/{alg}/{hex_[:2]}/{hex_}"


@dataclass
class Hub:
    server: HubServer
    client: httpx.Client
    bucket: str


@contextmanager
def s3_hub(s3: SeaweedS3, workdir: Path, redirect: bool = False) -> Iterator[Hub]:
    """A hub (SQLite metadata) on a fresh bucket of its own."""
    bucket = s3.new_bucket("hub")
    env = s3.hub_env(bucket, PREFIX, redirect=redirect)
    with HubServer(workdir, env) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        yield Hub(server, c, bucket)


@pytest.fixture(scope="module")
def hub(seaweedfs: SeaweedS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    with s3_hub(seaweedfs, tmp_path_factory.mktemp("hub-s3")) as h:
        yield h


@pytest.fixture(scope="module")
def redirecting_hub(
    seaweedfs: SeaweedS3, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hub]:
    with s3_hub(seaweedfs, tmp_path_factory.mktemp("hub-s3-redirect"), redirect=True) as h:
        yield h


def seaweed_endpoint(hub: Hub) -> str:
    return hub.server.env["HUB_S3_ENDPOINT_URL"]


@pytest.fixture
def repo() -> str:
    return f"s3/r{secrets.token_hex(4)}"


def push_monolithic(client: httpx.Client, repo: str, data: bytes) -> str:
    d = digest(data)
    r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=data)
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == d
    return d


def push_chunked(client: httpx.Client, repo: str, data: bytes, cuts: list[int]) -> str:
    """POST, one PATCH per piece between ``cuts`` (with Content-Range), then PUT ?digest=."""
    r = client.post(f"/v2/{repo}/blobs/uploads/")
    assert r.status_code == 202, r.text
    location = r.headers["location"]
    bounds = [0, *cuts, len(data)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        r = client.patch(
            location,
            content=data[start:end],
            headers={
                "Content-Range": f"{start}-{end - 1}",
                "Content-Type": "application/octet-stream",
            },
        )
        assert r.status_code == 202, r.text
        assert r.headers["range"] == f"0-{end - 1}"
        location = r.headers["location"]
    d = digest(data)
    r = client.put(location, params={"digest": d})
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == d
    return d


def test_monolithic_push_pull(hub: Hub, seaweedfs: SeaweedS3, repo: str) -> None:
    data = secrets.token_bytes(300_000)
    d = push_monolithic(hub.client, repo, data)
    r = hub.client.get(f"/v2/{repo}/blobs/{d}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["docker-content-digest"] == d
    head = hub.client.head(f"/v2/{repo}/blobs/{d}")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    # the bytes are in the bucket, under the URL's prefix, stored whole
    assert blob_object(d) in seaweedfs.keys(hub.bucket)
    stored = seaweedfs.client().get_object(Bucket=hub.bucket, Key=blob_object(d))["Body"].read()
    assert stored == data


def test_chunked_push_pull(hub: Hub, seaweedfs: SeaweedS3, repo: str) -> None:
    data = secrets.token_bytes(2 * 1024 * 1024 + 12345)
    d = push_chunked(hub.client, repo, data, cuts=[1, 1024 * 1024 + 3])  # PATCH x3, PUT
    assert hub.client.get(f"/v2/{repo}/blobs/{d}").content == data
    r = hub.client.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=1048570-1048589"})
    assert r.status_code == 206 and r.content == data[1048570:1048590]
    # the session's segment objects went with it
    assert [k for k in seaweedfs.keys(hub.bucket) if k.startswith(f"{PREFIX}/uploads/")] == []


def test_manifest_push_pull(hub: Hub, repo: str) -> None:
    config = b'{"architecture":"wasm","os":"wasip1"}'
    layer = secrets.token_bytes(70_000)
    cd = push_monolithic(hub.client, repo, config)
    ld = push_chunked(hub.client, repo, layer, cuts=[1000, 50_000])
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cd,
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": ld,
                    "size": len(layer),
                }
            ],
        },
        indent=1,  # unusual formatting must survive byte for byte
    ).encode()
    md = digest(manifest)
    r = hub.client.put(
        f"/v2/{repo}/manifests/v1", content=manifest, headers={"Content-Type": MANIFEST}
    )
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == md
    for ref in ("v1", md):
        got = hub.client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST})
        assert got.status_code == 200 and got.content == manifest
        assert got.headers["docker-content-digest"] == md
    assert hub.client.get(f"/v2/{repo}/tags/list").json()["tags"] == ["v1"]
    assert hub.client.get(f"/v2/{repo}/blobs/{ld}").content == layer
    assert hub.client.get(f"/v2/{repo}/blobs/{cd}").content == config


def test_redirect_to_presigned_url(redirecting_hub: Hub, repo: str) -> None:
    client = redirecting_hub.client
    data = secrets.token_bytes(1024 * 1024 + 77)
    d = push_chunked(client, repo, data, cuts=[100_000, 600_000])
    r = client.get(f"/v2/{repo}/blobs/{d}", follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["docker-content-digest"] == d
    url = r.headers["location"]
    assert url.startswith(f"{seaweed_endpoint(redirecting_hub)}/")
    # the client fetches straight from S3, with no hub credentials; the bytes match the digest
    fetched = httpx.get(url, timeout=60)
    assert fetched.status_code == 200
    assert digest(fetched.content) == d and fetched.content == data
    # clients that follow redirects (oras, containerd) end with the same bytes
    assert client.get(f"/v2/{repo}/blobs/{d}", follow_redirects=True).content == data
    # HEAD still answers from the hub: size and digest without a redirect
    head = client.head(f"/v2/{repo}/blobs/{d}", follow_redirects=False)
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    # a blob the repository does not have is a 404 from the hub, not a URL to nothing
    missing = client.get(f"/v2/{repo}/blobs/{digest(b'never pushed')}", follow_redirects=False)
    assert missing.status_code == 404


@pytest.fixture
def fresh_hub(seaweedfs: SeaweedS3, tmp_path: Path) -> Iterator[Hub]:
    """Its own bucket, so the test can assert on everything in it."""
    with s3_hub(seaweedfs, tmp_path) as h:
        yield h


def test_digest_mismatch_leaves_nothing_in_the_bucket(
    fresh_hub: Hub, seaweedfs: SeaweedS3, repo: str
) -> None:
    client = fresh_hub.client
    good = secrets.token_bytes(5000)
    good_digest = push_monolithic(client, repo, good)
    wrong = digest(b"not what is sent")
    sent: list[bytes] = []

    def refused(r: httpx.Response) -> None:
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["code"] == "DIGEST_INVALID"

    # monolithic POST ?digest= with the wrong digest
    body = secrets.token_bytes(40_000)
    sent.append(body)
    refused(client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": wrong}, content=body))

    # chunked: two PATCHes, then a PUT carrying the last chunk, with the wrong digest
    body = secrets.token_bytes(90_000)
    sent.append(body)
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    for start, end in [(0, 30_000), (30_000, 60_000)]:
        r = client.patch(
            location, content=body[start:end], headers={"Content-Range": f"{start}-{end - 1}"}
        )
        assert r.status_code == 202, r.text
        location = r.headers["location"]
    refused(
        client.put(
            location,
            params={"digest": wrong},
            content=body[60_000:],
            headers={"Content-Range": f"60000-{len(body) - 1}"},
        )
    )
    assert client.get(location).status_code == 404  # the session is gone

    # chunked with an empty closing PUT
    body = secrets.token_bytes(10_000)
    sent.append(body)
    location = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    location = client.patch(location, content=body).headers["location"]
    refused(client.put(location, params={"digest": wrong}))

    for d in [wrong, *(digest(b) for b in sent)]:
        assert client.head(f"/v2/{repo}/blobs/{d}").status_code == 404
    # Only what should exist is in the bucket: the one good blob. No object for the refused
    # content (under either digest), no segment left under uploads/.
    assert seaweedfs.keys(fresh_hub.bucket) == [blob_object(good_digest)]
    assert client.get(f"/v2/{repo}/blobs/{good_digest}").content == good
