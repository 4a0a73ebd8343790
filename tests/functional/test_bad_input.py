"""Hostile input against a live `wasm-hub serve`, each refused cleanly: path traversal in
names, digests and upload ids; oversized headers; request bodies that stall or trickle; a
gzip bomb in a compat layer. Never a 5xx, never a byte outside storage touched."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import json
import socket
import tarfile
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.artifacts import OCI_MANIFEST, minimal_wasm
from tests.support.server import HubServer

OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
BODY_TIMEOUT = 2.0
SENTINEL = "top-secret-sentinel-7f3a"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    workdir = tmp_path_factory.mktemp("hub-bad-input")
    env = {
        "HUB_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "HUB_BODY_MIN_BYTES_PER_SECOND": "1024",
        "HUB_MAX_HEADER_BYTES": str(32 * 1024),
    }
    (workdir / "secret.txt").write_text(SENTINEL)
    with HubServer(workdir, env) as server:
        yield server


def raw_request(
    hub: HubServer, method: str, path: str, body: bytes | None = None
) -> tuple[int, bytes]:
    """Send the path exactly as written: http.client neither normalises `..` nor re-encodes."""
    conn = http.client.HTTPConnection("127.0.0.1", hub.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def files_outside_storage(workdir: Path) -> dict[str, bytes]:
    """Every file of the server's directory except what the hub itself writes."""
    found = {}
    for path in sorted(workdir.rglob("*")):
        relative = path.relative_to(workdir).as_posix()
        if path.is_file() and not relative.startswith(("blobs/", "hub.db", "server-")):
            found[relative] = path.read_bytes()
    return found


EMPTY = "sha256:" + "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TRAVERSALS = [
    ("GET", "/v2/../../secret.txt/manifests/latest"),
    ("GET", "/v2/a/../../../secret.txt/tags/list"),
    ("GET", "/v2/%2e%2e/%2e%2e/secret.txt/manifests/latest"),
    ("GET", "/v2/a%2F..%2F..%2Fsecret.txt/manifests/v1"),
    ("GET", "/v2/a/..%2f..%2fsecret.txt/tags/list"),
    ("GET", "/v2//etc/passwd/manifests/latest"),
    ("GET", "/v2/%2Fetc%2Fpasswd/blobs/" + EMPTY),
    ("GET", "/v2/a/blobs/sha256:..%2F..%2F..%2Fsecret.txt"),
    ("GET", "/v2/a/blobs/sha256:../../../secret.txt"),
    ("GET", "/v2/a/blobs/..%2F..%2Fsecret.txt"),
    ("GET", "/v2/a/blobs/uploads/..%2F..%2F..%2Fsecret.txt"),
    ("PATCH", "/v2/a/blobs/uploads/..%2F..%2Fsecret.txt"),
    ("PUT", "/v2/a/blobs/uploads/%2e%2e%2f%2e%2e?digest=" + EMPTY),
    ("DELETE", "/v2/a/blobs/uploads/../../secret.txt"),
    ("PUT", "/v2/../x/manifests/latest"),
    ("PUT", "/v2/a/manifests/..%2F..%2Fsecret.txt"),
    ("DELETE", "/v2/a/manifests/..%2F..%2Fsecret.txt"),
    ("POST", "/v2/a/blobs/uploads/?mount=sha256:..%2F..%2Fsecret.txt&from=..%2F.."),
    ("POST", "/v2/a/blobs/uploads/?digest=sha256:..%2F..%2Fsecret.txt"),
    ("GET", "/v2/a/referrers/sha256:..%2F..%2Fsecret.txt"),
    ("GET", "/api/v1/repositories/..%2F..%2Fsecret.txt"),
    ("GET", "/api/v1/repositories/../../secret.txt/tags"),
    ("PATCH", "/api/v1/repositories/%2e%2e%2fsecret.txt"),
    ("GET", "/api/v1/modules/..%2F..%2Fsecret.txt"),
    ("GET", "/api/v1/modules/sha256:..%2f..%2fsecret.txt.wasm"),
    ("GET", "/api/repositories/..%2F..%2Fsecret.txt/tags"),
    ("GET", "/api/v1/deploy?repository=../../secret.txt&target=istio"),
    ("GET", "/%2e%2e/secret.txt"),
    ("GET", "/../secret.txt"),
]


def test_traversal_is_refused_and_touches_nothing(hub: HubServer) -> None:
    before = files_outside_storage(hub.workdir)
    for method, path in TRAVERSALS:
        body = b"{}" if method in ("PUT", "PATCH", "POST") else None
        status, answer = raw_request(hub, method, path, body)
        assert status in (400, 404, 405), (method, path, status, answer[:300])
        assert SENTINEL.encode() not in answer
        if status == 400 and path.startswith("/v2/"):
            code = json.loads(answer)["errors"][0]["code"]
            assert code in ("NAME_INVALID", "DIGEST_INVALID", "MANIFEST_INVALID"), (path, code)
    # Every name with a `..` or an absolute path is refused as a name, with an actionable message.
    status, answer = raw_request(hub, "GET", "/v2/a/..%2F..%2Fsecret.txt/tags/list")
    assert status == 400
    error = json.loads(answer)["errors"][0]
    assert error["code"] == "NAME_INVALID" and "lower-case path components" in error["message"]
    assert files_outside_storage(hub.workdir) == before
    assert (hub.workdir / "secret.txt").read_text() == SENTINEL


def _send_and_read(port: int, data: bytes, timeout: float = 30) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server may refuse before it has read everything
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


@pytest.mark.parametrize(
    "headers",
    [
        b"X-Big: " + b"x" * 200_000 + b"\r\n",  # one huge header
        b"".join(b"X-H%d: value\r\n" % i for i in range(5000)),  # very many small ones
        b"Authorization: Bearer " + b"e" * 100_000 + b"\r\n",  # a giant token
    ],
    ids=["one-huge", "many", "giant-token"],
)
def test_oversized_headers_are_refused_with_431(hub: HubServer, headers: bytes) -> None:
    request = b"GET /v2/ HTTP/1.1\r\nHost: hub\r\n" + headers + b"Connection: close\r\n\r\n"
    answer = _send_and_read(hub.port, request)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"HEADERS_TOO_LARGE"' in answer
    # The server is unharmed, and headers of an ordinary size pass.
    ok = (
        b"GET /v2/ HTTP/1.1\r\nHost: hub\r\nX-Fine: "
        + b"x" * 8000
        + b"\r\nConnection: close\r\n\r\n"
    )
    assert _send_and_read(hub.port, ok).startswith(b"HTTP/1.1 200 ")


@pytest.mark.parametrize("size", [40_000, 100_000])
def test_an_oversized_request_line_is_refused(hub: HubServer, size: int) -> None:
    request = b"GET /v2/" + b"a" * size + b"/tags/list HTTP/1.1\r\nHost: hub\r\n\r\n"
    assert _send_and_read(hub.port, request).startswith(b"HTTP/1.1 431 ")


def _metric(hub: HubServer, name: str) -> float:
    text = httpx.get(f"{hub.url}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    return 0.0


def _start(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head)
    return sock


def _response(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return answer


def test_a_stalled_body_is_refused_with_408(hub: HubServer) -> None:
    timeouts = _metric(hub, "hub_request_body_timeouts_total")
    data = b"x" * 50_000
    head = (
        f"POST /v2/slow/stall/blobs/uploads/?digest={sha(data)} HTTP/1.1\r\n"
        f"Host: hub\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with _start(hub.port, head + data[:1000]) as sock:  # ...and then nothing
        answer = _response(sock)
    took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"connection: close" in answer.lower()
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])["errors"][0]
    assert error["code"] == "REQUEST_TIMEOUT" and "after 1000 bytes" in error["message"]
    assert BODY_TIMEOUT <= took < BODY_TIMEOUT + 10
    # Nothing half-written became visible.
    assert httpx.head(f"{hub.url}/v2/slow/stall/blobs/{sha(data)}").status_code == 404
    assert _metric(hub, "hub_request_body_timeouts_total") == timeouts + 1


def test_a_trickled_body_is_refused_too(hub: HubServer) -> None:
    """One byte every 0.3 s never stalls for the idle timeout, but averages 3 bytes/s."""
    data = b"y" * 10_000
    head = (
        f"PUT /v2/slow/trickle/manifests/v1 HTTP/1.1\r\nHost: hub\r\n"
        f"Content-Type: {OCI_MANIFEST}\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with _start(hub.port, head) as sock:
        answer = b""
        for i in range(200):
            try:
                sock.sendall(data[i : i + 1])
            except OSError:
                break
            sock.settimeout(0.3)
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                continue
            break
        sock.settimeout(30)
        answer += _response(sock)
    took = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
    assert b"bytes/s is required" in answer
    assert took < BODY_TIMEOUT + 10
    assert httpx.get(f"{hub.url}/v2/slow/trickle/manifests/v1").status_code == 404


def test_a_slow_but_steady_upload_still_succeeds(hub: HubServer) -> None:
    data = bytes(range(256)) * 200  # 51,200 bytes in 4 pieces, 1 s apart: ~12 KiB/s
    head = (
        f"POST /v2/slow/steady/blobs/uploads/?digest={sha(data)} HTTP/1.1\r\n"
        f"Host: hub\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with _start(hub.port, head) as sock:
        for i in range(4):
            sock.sendall(data[i * 12_800 : (i + 1) * 12_800])
            time.sleep(1.0)
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 201 "), answer[:300]
    assert httpx.get(f"{hub.url}/v2/slow/steady/blobs/{sha(data)}").content == data


def _tar_member(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def gzip_bomb(inflated: int) -> bytes:
    """A tar.gz whose first member is `inflated` zero bytes (then plugin.wasm): ~1000-fold."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    out = io.BytesIO()
    out.write(compressor.compress(_tar_member("padding.bin", inflated)))
    zeros = bytes(1 << 20)
    for _ in range(inflated >> 20):
        out.write(compressor.compress(zeros))
    wasm = minimal_wasm()
    member = _tar_member("plugin.wasm", len(wasm)) + wasm + bytes(-len(wasm) % 512)
    out.write(compressor.compress(member + bytes(1024)))
    out.write(compressor.flush())
    return out.getvalue()


def push_compat(client: httpx.Client, repo: str, layer: bytes) -> httpx.Response:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    for blob in (config, layer):
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha(blob)}, content=blob)
        assert r.status_code == 201, r.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha(config),
            "size": len(config),
        },
        "layers": [{"mediaType": OCI_LAYER_TAR_GZIP, "digest": sha(layer), "size": len(layer)}],
        "annotations": {"module.wasm.image/variant": "compat"},
    }
    return client.put(
        f"/v2/{repo}/manifests/v1",
        content=json.dumps(manifest).encode(),
        headers={"Content-Type": OCI_MANIFEST},
    )


def test_a_gzip_bomb_in_a_compat_layer_is_refused(hub: HubServer) -> None:
    bomb = gzip_bomb(256 << 20)  # 256 MiB of zeros in ~250 KiB
    assert len(bomb) < 1 << 20
    with httpx.Client(base_url=hub.url, timeout=60) as client:
        started = time.monotonic()
        r = push_compat(client, "bombs/zeros", bomb)
        assert r.status_code == 400, r.text
        error = r.json()["errors"][0]
        assert error["code"] == "MANIFEST_INVALID"
        assert "decompression bomb" in error["message"]
        assert sha(bomb) in error["message"]  # names the layer
        # Refused early, not after inflating a quarter gigabyte.
        assert time.monotonic() - started < 30
        assert client.get("/v2/bombs/zeros/manifests/v1").status_code == 404
        # The same layout without the bomb is a usable compat image.
        wasm = minimal_wasm()
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo("plugin.wasm")
            info.size = len(wasm)
            tar.addfile(info, io.BytesIO(wasm))
        r = push_compat(client, "bombs/fine", gzip.compress(buffer.getvalue()))
        assert r.status_code == 201, r.text


def test_a_plugin_declared_huge_is_refused_before_reading(hub: HubServer) -> None:
    # A tar header claiming a 1 GiB plugin.wasm, and no data behind it.
    layer = gzip.compress(_tar_member("plugin.wasm", 1 << 30) + bytes(1024))
    with httpx.Client(base_url=hub.url, timeout=60) as client:
        r = push_compat(client, "bombs/huge", layer)
    assert r.status_code == 400, r.text
    error = r.json()["errors"][0]
    assert error["code"] == "MANIFEST_INVALID" and "the limit is" in error["message"]
