"""The /v2 API over HTTP against a live server: happy paths and bad input."""

from __future__ import annotations

import hashlib
import http.client
import json
import secrets

import httpx
import pytest

from tests.support.server import HubServer


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(live_server: HubServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


@pytest.fixture
def repo() -> str:
    return f"tests/r{secrets.token_hex(4)}"


def push_blob(client: httpx.Client, repo: str, data: bytes) -> str:
    d = digest(data)
    r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=data)
    assert r.status_code == 201, r.text
    return d


def image_manifest(config: str, config_size: int, layers: list[tuple[str, int]]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config,
                "size": config_size,
            },
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s}
                for d, s in layers
            ],
        }
    ).encode()


def test_base_announces_api_version(client: httpx.Client) -> None:
    r = client.get("/v2/")
    assert r.status_code == 200
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_digest_mismatch_stores_nothing(client: httpx.Client, repo: str) -> None:
    start = client.post(f"/v2/{repo}/blobs/uploads/")
    assert start.status_code == 202
    wrong = digest(b"something else")
    r = client.put(start.headers["location"], params={"digest": wrong}, content=b"payload")
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "DIGEST_INVALID"
    assert client.head(f"/v2/{repo}/blobs/{wrong}").status_code == 404
    assert client.head(f"/v2/{repo}/blobs/{digest(b'payload')}").status_code == 404
    # the session is gone too: nothing half-written stays behind
    assert client.get(start.headers["location"]).status_code == 404


def test_chunked_upload_in_order_and_out_of_order(client: httpx.Client, repo: str) -> None:
    data = secrets.token_bytes(3000)
    loc = client.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
    r = client.patch(
        loc,
        content=data[:1000],
        headers={"Content-Range": "0-999", "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202 and r.headers["range"] == "0-999"
    loc = r.headers["location"]
    bad = client.patch(loc, content=data[2000:], headers={"Content-Range": "2000-2999"})
    assert bad.status_code == 416
    r = client.patch(loc, content=data[1000:2000], headers={"Content-Range": "1000-1999"})
    assert r.status_code == 202 and r.headers["range"] == "0-1999"
    status = client.get(r.headers["location"])
    assert status.status_code == 204 and status.headers["range"] == "0-1999"
    r = client.put(r.headers["location"], params={"digest": digest(data)}, content=data[2000:])
    assert r.status_code == 201
    assert r.headers["docker-content-digest"] == digest(data)
    assert client.get(f"/v2/{repo}/blobs/{digest(data)}").content == data


def test_range_requests(client: httpx.Client, repo: str) -> None:
    data = bytes(range(256)) * 4
    d = push_blob(client, repo, data)
    r = client.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    r = client.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=-5"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = client.get(f"/v2/{repo}/blobs/{d}", headers={"Range": "bytes=5000-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(data)}"


def test_manifest_byte_exact_and_tags(client: httpx.Client, repo: str) -> None:
    config = b'{"architecture":"wasm"}'
    layer = secrets.token_bytes(100)
    cd, ld = push_blob(client, repo, config), push_blob(client, repo, layer)
    # unusual whitespace must survive: the digest is of these exact bytes
    raw = image_manifest(cd, len(config), [(ld, len(layer))]).replace(b", ", b",   ")
    ct = "application/vnd.oci.image.manifest.v1+json"
    for tag in ["v1", "latest", "A_tag", "b"]:
        r = client.put(f"/v2/{repo}/manifests/{tag}", content=raw, headers={"Content-Type": ct})
        assert r.status_code == 201 and r.headers["docker-content-digest"] == digest(raw)
    got = client.get(f"/v2/{repo}/manifests/v1", headers={"Accept": ct})
    assert got.content == raw and got.headers["content-type"] == ct
    head = client.head(f"/v2/{repo}/manifests/{digest(raw)}")
    assert head.headers["content-length"] == str(len(raw))
    tags = client.get(f"/v2/{repo}/tags/list").json()["tags"]
    assert tags == sorted(["v1", "latest", "A_tag", "b"])  # byte order: upper case first
    page = client.get(f"/v2/{repo}/tags/list", params={"n": 2})
    assert page.json()["tags"] == ["A_tag", "b"]
    assert page.headers["link"] == f'</v2/{repo}/tags/list?n=2&last=b>; rel="next"'
    page = client.get(f"/v2/{repo}/tags/list", params={"n": 2, "last": "b"})
    assert page.json()["tags"] == ["latest", "v1"]


def test_manifest_with_unknown_blob_is_refused(client: httpx.Client, repo: str) -> None:
    config = b"{}"
    cd = push_blob(client, repo, config)
    raw = image_manifest(cd, 2, [(digest(b"never pushed"), 12)])
    r = client.put(
        f"/v2/{repo}/manifests/v1",
        content=raw,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"
    assert client.get(f"/v2/{repo}/manifests/v1").status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/vnd.oci.image.manifest.v1+json", 400, "MANIFEST_INVALID"),
        (
            b'{"schemaVersion": 1}',
            "application/vnd.oci.image.manifest.v1+json",
            400,
            "MANIFEST_INVALID",
        ),
        (
            b'{"schemaVersion": 2, "config": {}}',
            "application/vnd.oci.image.manifest.v1+json",
            400,
            "MANIFEST_INVALID",
        ),
        (b'{"schemaVersion": 2}', "application/vnd.example.unknown+json", 415, "UNSUPPORTED"),
    ],
)
def test_malformed_manifests(
    client: httpx.Client, repo: str, body: bytes, content_type: str, status: int, code: str
) -> None:
    r = client.put(f"/v2/{repo}/manifests/v1", content=body, headers={"Content-Type": content_type})
    assert r.status_code == status, r.text
    assert r.json()["errors"][0]["code"] == code
    assert r.json()["errors"][0]["message"]


def test_manifest_over_4_mib_is_refused(client: httpx.Client, repo: str) -> None:
    body = b'{"schemaVersion":2,"pad":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    r = client.put(
        f"/v2/{repo}/manifests/big",
        content=body,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 413
    assert client.get(f"/v2/{repo}/manifests/big").status_code == 404


@pytest.mark.parametrize("name", ["UPPER/case", "a/../x", "../x", "-lead", "a//b", "trail-"])
def test_invalid_names(live_server: HubServer, name: str) -> None:
    # http.client sends the path as written; httpx would resolve the dot segments itself.
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    conn.request("POST", f"/v2/{name}/blobs/uploads/", body=b"")
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 400
    assert body["errors"][0]["code"] == "NAME_INVALID"


def test_catalog_pagination(client: httpx.Client) -> None:
    names = sorted(f"cat/z{secrets.token_hex(3)}" for _ in range(3))
    for name in names:
        push_blob(client, name, b"x")
        cd = push_blob(client, name, b"{}")
        r = client.put(
            f"/v2/{name}/manifests/t",
            content=image_manifest(cd, 2, []),
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert r.status_code == 201
    everything = client.get("/v2/_catalog").json()["repositories"]
    assert everything == sorted(everything) and set(names) <= set(everything)
    first = client.get("/v2/_catalog", params={"n": 1, "last": names[0]})
    assert first.json()["repositories"] == [names[1]]
    assert 'rel="next"' in first.headers["link"]


def push_image(client: httpx.Client, repo: str, ref: str, **extra: object) -> tuple[str, bytes]:
    config = b"{}"
    cd = push_blob(client, repo, config)
    body = json.loads(image_manifest(cd, len(config), []))
    body.update(extra)
    raw = json.dumps(body).encode()
    r = client.put(
        f"/v2/{repo}/manifests/{ref}",
        content=raw,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 201, r.text
    return r.headers["docker-content-digest"], raw


def test_sha512_blob_and_manifest(client: httpx.Client, repo: str) -> None:
    data = secrets.token_bytes(500)
    d512 = "sha512:" + hashlib.sha512(data).hexdigest()
    r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d512}, content=data)
    assert r.status_code == 201 and r.headers["docker-content-digest"] == d512
    assert client.get(f"/v2/{repo}/blobs/{d512}").content == data
    _, raw = push_image(client, repo, "base")
    m512 = "sha512:" + hashlib.sha512(raw).hexdigest()
    r = client.put(
        f"/v2/{repo}/manifests/{m512}",
        content=raw,
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert r.status_code == 201 and r.headers["docker-content-digest"] == m512
    assert client.get(f"/v2/{repo}/manifests/{m512}").content == raw


def test_index_requires_its_children(client: httpx.Client, repo: str) -> None:
    child, raw = push_image(client, repo, "child")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": child,
                "size": len(raw),
            }
        ],
    }
    ct = {"Content-Type": "application/vnd.oci.image.index.v1+json"}
    r = client.put(f"/v2/{repo}/manifests/multi", content=json.dumps(index).encode(), headers=ct)
    assert r.status_code == 201
    index["manifests"][0]["digest"] = digest(b"missing")  # type: ignore[index]
    r = client.put(f"/v2/{repo}/manifests/broken", content=json.dumps(index).encode(), headers=ct)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"


def test_referrers_and_subject(client: httpx.Client, repo: str) -> None:
    subject, raw = push_image(client, repo, "v1")
    desc = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": subject,
        "size": len(raw),
    }
    ref_digest, _ = push_image(
        client,
        repo,
        "sig",
        subject=desc,
        artifactType="application/vnd.example.sig",
        annotations={"org.example": "yes"},
    )
    push_image(client, repo, "sbom", subject=desc, artifactType="application/vnd.example.sbom")
    r = client.get(f"/v2/{repo}/referrers/{subject}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.oci.image.index.v1+json"
    assert len(r.json()["manifests"]) == 2
    r = client.get(
        f"/v2/{repo}/referrers/{subject}", params={"artifactType": "application/vnd.example.sig"}
    )
    assert r.headers["oci-filters-applied"] == "artifactType"
    [only] = r.json()["manifests"]
    assert only["digest"] == ref_digest and only["annotations"] == {"org.example": "yes"}
    none = client.get(f"/v2/{repo}/referrers/{digest(b'nothing')}")
    assert none.status_code == 200 and none.json()["manifests"] == []


def test_delete_tag_then_manifest(client: httpx.Client, repo: str) -> None:
    d, _ = push_image(client, repo, "v1")
    push_image(client, repo, "v2")
    assert client.delete(f"/v2/{repo}/manifests/v1").status_code == 202
    assert client.get(f"/v2/{repo}/manifests/v1").status_code == 404
    assert client.get(f"/v2/{repo}/manifests/v2").status_code == 200
    assert client.delete(f"/v2/{repo}/manifests/{d}").status_code == 202
    assert client.get(f"/v2/{repo}/manifests/v2").status_code == 404
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == []


def test_cross_repository_mount(client: httpx.Client, repo: str) -> None:
    data = secrets.token_bytes(64)
    d = push_blob(client, repo, data)
    other = repo + "-copy"
    r = client.post(f"/v2/{other}/blobs/uploads/", params={"mount": d, "from": repo})
    assert r.status_code == 201 and r.headers["docker-content-digest"] == d
    assert client.get(f"/v2/{other}/blobs/{d}").content == data
    # a blob the source does not have: fall back to an upload session
    r = client.post(f"/v2/{other}/blobs/uploads/", params={"mount": digest(b"no"), "from": repo})
    assert r.status_code == 202 and "location" in r.headers


def test_upload_ids_are_single_use_and_unforgeable(client: httpx.Client, repo: str) -> None:
    """POST writes no row (hub.artifacts.uploads): the id itself must then carry the proof.
    An id works for its own repository only, not once altered, and not after it ended."""
    client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest(b"x")}, content=b"x")
    other = f"{repo}-other"
    client.post(f"/v2/{other}/blobs/uploads/", params={"digest": digest(b"y")}, content=b"y")

    def new_upload() -> str:
        r = client.post(f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202 and r.headers["range"] == "0-0"
        return r.headers["location"]

    def unknown(r: httpx.Response) -> bool:
        return r.status_code == 404 and r.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"

    fresh = new_upload()
    assert client.get(fresh).status_code == 204  # an empty session, known without a row
    upload_id = fresh.rsplit("/", 1)[1]
    last = upload_id[-1]
    tampered = upload_id[:-1] + ("A" if last != "A" else "B")
    assert unknown(client.get(f"/v2/{repo}/blobs/uploads/{tampered}"))
    assert unknown(client.get(f"/v2/{other}/blobs/uploads/{upload_id}"))
    assert unknown(client.patch(f"/v2/{other}/blobs/uploads/{upload_id}", content=b"zz"))
    assert unknown(client.get(f"/v2/{repo}/blobs/uploads/{secrets.token_hex(20)}.{'A' * 16}"))

    # Finished without a PATCH (POST + PUT): the id is spent.
    r = client.put(fresh, params={"digest": digest(b"one")}, content=b"one")
    assert r.status_code == 201, r.text
    assert unknown(client.get(fresh))
    assert unknown(client.put(fresh, params={"digest": digest(b"one")}, content=b"one"))

    # Finished after PATCHes (the row exists): spent too.
    chunked = new_upload()
    r = client.patch(chunked, content=b"ab", headers={"Content-Range": "0-1"})
    assert r.status_code == 202 and r.headers["range"] == "0-1"
    assert client.put(chunked, params={"digest": digest(b"ab")}).status_code == 201
    assert unknown(client.patch(chunked, content=b"c", headers={"Content-Range": "2-2"}))

    # Cancelled, with and without a PATCH.
    for patched in (False, True):
        cancelled = new_upload()
        if patched:
            assert client.patch(cancelled, content=b"abc").status_code == 202
        assert client.delete(cancelled).status_code == 204
        assert unknown(client.get(cancelled))
        assert unknown(client.patch(cancelled, content=b"d"))
