"""wasme's exact push and pull wire behaviour (FORMATS.md section 2) against a live hub."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs

import httpx
import pytest

from tests.support.artifacts import (
    ABI_ISTIO_17,
    TITLE,
    WASME_CONFIG,
    WASME_LAYER,
    minimal_wasm,
    sha256,
    wasme_config,
)
from tests.support.server import HubServer
from tests.support.wasme import (
    ABI_ANNOTATION,
    OCI_MANIFEST,
    RESOLVE_ACCEPT,
    TYPE_ANNOTATION,
    WasmeClient,
    WasmeError,
    read_runtime_config,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def wasme(live_server: HubServer) -> Iterator[WasmeClient]:
    with WasmeClient(live_server.url) as client:
        yield client


@pytest.fixture
def repo() -> str:
    return f"wasme/f{secrets.token_hex(4)}"


def test_push_then_pull_is_byte_exact(wasme: WasmeClient, repo: str) -> None:
    wasm = minimal_wasm(secrets.token_bytes(64))
    config = wasme_config()
    digest = wasme.push(repo, "v1", wasm, config)
    pushed = WasmeClient.build_manifest(wasm, config)
    assert digest == sha256(pushed)

    wasme.exchanges.clear()
    image = wasme.pull(repo, "v1")
    assert image.wasm == wasm
    assert image.config == config
    assert image.manifest == pushed
    assert image.manifest_digest == digest
    assert image.manifest_media_type == OCI_MANIFEST
    assert image.runtime.abi_versions == [ABI_ISTIO_17]
    assert image.runtime.root_ids == ["add_header"]

    # resolve = HEAD by tag with the broad Accept list, then manifest and blobs by digest
    calls = [(e.method, e.path, e.status) for e in wasme.exchanges]
    assert calls == [
        ("HEAD", f"/v2/{repo}/manifests/v1", 200),
        ("GET", f"/v2/{repo}/manifests/{digest}", 200),
        ("GET", f"/v2/{repo}/blobs/{sha256(config)}", 200),
        ("GET", f"/v2/{repo}/blobs/{sha256(wasm)}", 200),
    ]
    head = wasme.exchanges[0]
    assert head.request_headers["accept"] == RESOLVE_ACCEPT
    # the descriptor is built from these three headers alone
    assert head.response_headers["content-type"] == OCI_MANIFEST
    assert head.response_headers["content-length"] == str(len(pushed))
    assert head.response_headers["docker-content-digest"] == digest


def test_push_requests_match_wasme(wasme: WasmeClient, repo: str) -> None:
    wasm = minimal_wasm(b"requests")
    config = wasme_config(root_ids=("my_root",))
    digest = wasme.push(repo, "latest", wasm, config)
    log = wasme.exchanges

    # 1. checkAuth: a bare GET /v2/ -- on an open registry a 200, which wasme ignores
    assert (log[0].method, log[0].path, log[0].status) == ("GET", "/v2/", 200)
    assert "authorization" not in log[0].request_headers

    # 2. every blob: HEAD (404 here) -> POST -> one PUT with the whole body, never PATCH
    assert not [e for e in log if e.method == "PATCH"]
    puts = [e for e in log if e.method == "PUT" and "/blobs/uploads/" in e.path]
    # Go's url.Values.Encode escapes the colon (digest=sha256%3A...), as does urlencode
    put_digests = [parse_qs(e.query)["digest"][0] for e in puts]
    # the config may go up twice (config and layers[0] race) or once (second HEAD saw it)
    assert set(put_digests) == {sha256(config), sha256(wasm)}
    assert 2 <= len(puts) <= 3
    for put in puts:
        assert put.status == 201
        assert put.response_headers["docker-content-digest"] in (sha256(config), sha256(wasm))
        assert "content-type" not in put.request_headers
    for head in [e for e in log if e.method == "HEAD" and "/blobs/" in e.path]:
        assert head.status in (200, 404)
        assert head.request_headers["accept"] in (f"{WASME_CONFIG}, *", f"{WASME_LAYER}, *")
    posts = [e for e in log if e.method == "POST"]
    assert all(e.path == f"/v2/{repo}/blobs/uploads/" and e.status == 202 for e in posts)

    # 3. manifest: HEAD by digest (404), then PUT by tag with the OCI type
    head, put = log[-2], log[-1]
    assert (head.method, head.path, head.status) == ("HEAD", f"/v2/{repo}/manifests/{digest}", 404)
    assert (put.method, put.path, put.status) == ("PUT", f"/v2/{repo}/manifests/latest", 201)
    assert put.request_headers["content-type"] == OCI_MANIFEST
    assert put.response_headers["docker-content-digest"] == digest


def test_stored_manifest_is_wasme_shaped(
    wasme: WasmeClient, repo: str, live_server: HubServer
) -> None:
    wasm = minimal_wasm(b"shape")
    config = wasme_config()
    digest = wasme.push(repo, "v2", wasm, config)
    raw = httpx.get(
        f"{live_server.url}/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}
    )
    assert raw.status_code == 200
    body = json.loads(raw.content)
    assert "mediaType" not in body  # wasme omits it; the hub must not add it
    assert body["config"]["mediaType"] == WASME_CONFIG
    assert [layer["mediaType"] for layer in body["layers"]] == [WASME_CONFIG, WASME_LAYER]
    assert body["layers"][0] == body["config"]
    assert [layer["annotations"][TITLE] for layer in body["layers"]] == [
        "runtime-config.json",
        "filter.wasm",
    ]
    assert body["annotations"] == {ABI_ANNOTATION: ABI_ISTIO_17, TYPE_ANNOTATION: "envoy_proxy"}
    # the stored config is byte-exact, so wasme's strict reader still accepts it
    blob = httpx.get(f"{live_server.url}/v2/{repo}/blobs/{sha256(config)}")
    assert blob.content == config
    read_runtime_config(blob.content)


def test_second_push_skips_existing_blobs(wasme: WasmeClient, repo: str) -> None:
    wasm = minimal_wasm(b"twice")
    config = wasme_config()
    wasme.push(repo, "a", wasm, config)
    wasme.exchanges.clear()
    wasme.push(repo, "a", wasm, config)
    # everything answers 200 to HEAD, so nothing is uploaded and the manifest is not re-put
    assert {(e.method, e.status) for e in wasme.exchanges} == {("GET", 200), ("HEAD", 200)}


def test_unknown_blob_head_is_404(wasme: WasmeClient, repo: str, live_server: HubServer) -> None:
    # wasme treats anything but 200/404 on this HEAD as a push failure; check both an unknown
    # repository and an unknown blob in a known one
    unknown = sha256(secrets.token_bytes(16))
    wasme.push(repo, "v1", minimal_wasm(b"known"), wasme_config())
    for name in (repo, f"{repo}-never-pushed"):
        response = httpx.head(f"{live_server.url}/v2/{name}/blobs/{unknown}")
        assert response.status_code == 404
        assert response.content == b""


def test_pull_of_unknown_tag_fails_cleanly(wasme: WasmeClient, repo: str) -> None:
    wasme.push(repo, "v1", minimal_wasm(b"tagged"), wasme_config())
    with pytest.raises(WasmeError, match="not found"):
        wasme.pull(repo, "missing")
    with pytest.raises(WasmeError, match="not found"):
        wasme.pull(f"{repo}-nope", "v1")


def test_pull_by_digest(wasme: WasmeClient, repo: str) -> None:
    wasm = minimal_wasm(b"by digest")
    digest = wasme.push(repo, "v1", wasm, wasme_config())
    image = wasme.pull(repo, digest)
    assert image.wasm == wasm
    assert image.manifest_digest == digest


def test_auth_priming_get_is_tolerated_when_open(wasme: WasmeClient) -> None:
    response = wasme.check_auth()
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    assert wasme.auth.scheme is None  # nothing to prime on an open registry


def test_config_reader_is_strict() -> None:
    # both spellings of the spec are read; anything else is an error, as in wasme
    assert read_runtime_config(
        b'{"abi_versions":["v0.2.1"],"config":{"root_ids":["r"]}}'
    ).root_ids == ["r"]
    with pytest.raises(WasmeError, match="unknown field"):
        read_runtime_config(b'{"type":"envoy_proxy","extra":1}')


@pytest.fixture(scope="module")
def basic_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """A hub with HUB_AUTH=required (a Bearer challenge; the token spec's flow) and one user;
    SQLite only -- the auth handshake does not depend on the database."""
    workdir = tmp_path_factory.mktemp("hub-auth")
    with HubServer(workdir, {"HUB_AUTH": "required"}) as server:
        server.cli("user", "create", "pusher", "--password-stdin", stdin=f"{PASSWORD}\n")
        yield server


def test_push_and_pull_with_token_challenge(basic_auth_server: HubServer) -> None:
    repo = f"pusher/f{secrets.token_hex(4)}"
    wasm = minimal_wasm(b"authenticated")
    with WasmeClient(basic_auth_server.url, "pusher", PASSWORD) as client:
        digest = client.push(repo, "v1", wasm, wasme_config())
        # checkAuth's 401 primed the authorizer; containerd then POSTs for a token (grant
        # password, client_id containerd-client) and every registry request carries it
        first = client.exchanges[0]
        assert (first.path, first.status) == ("/v2/", 401)
        assert first.response_headers["www-authenticate"].lower().startswith("bearer ")
        token_calls = [e for e in client.exchanges if e.path == "/auth/token"]
        assert token_calls and all(e.status == 200 for e in token_calls)
        assert token_calls[0].method == "POST"
        registry = [e for e in client.exchanges[1:] if e.path.startswith("/v2/")]
        assert all(
            e.request_headers["authorization"].startswith("Bearer ")
            for e in registry
            if e.status != 401
        )
    with WasmeClient(basic_auth_server.url, "pusher", PASSWORD) as client:
        # a new repository is public: pull has no checkAuth, and needs no token
        image = client.pull(repo, "v1")
        assert image.wasm == wasm and image.manifest_digest == digest
    with WasmeClient(basic_auth_server.url) as anonymous:
        assert anonymous.pull(repo, "v1").wasm == wasm
        assert all(e.status == 200 for e in anonymous.exchanges)
        with pytest.raises(WasmeError, match="401"):
            anonymous.push(repo, "v2", minimal_wasm(b"anonymous"), wasme_config())
    with WasmeClient(basic_auth_server.url, "pusher", "wrong") as wrong:
        with pytest.raises(WasmeError, match="401"):
            wrong.push(repo, "v2", wasm, wasme_config())


def fake_registry(put_digest: Callable[[str], str | None]) -> httpx.MockTransport:
    """Just enough of a registry for a wasme push; PUT answers carry put_digest(expected)."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET":
            return httpx.Response(200, json={})
        if request.method == "HEAD":
            return httpx.Response(404)
        if request.method == "POST":
            return httpx.Response(202, headers={"Location": f"{path}some-session"})
        if "/manifests/" in path:
            expected = sha256(request.content)
        else:
            expected = parse_qs(request.url.query.decode())["digest"][0]
        digest = put_digest(expected)
        return httpx.Response(201, headers={"Docker-Content-Digest": digest} if digest else {})

    return httpx.MockTransport(handle)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (lambda expected: None, "invalid content digest in response"),
        (lambda expected: "sha256:NOT-HEX", "invalid content digest in response"),
        (lambda expected: sha256(b"other"), "got digest sha256:"),
    ],
)
def test_client_rejects_put_answers_like_wasme(
    answer: Callable[[str], str | None], error: str
) -> None:
    # the check this client makes of the hub is the one wasme makes (containerd Commit)
    with WasmeClient("http://registry.invalid", transport=fake_registry(answer)) as client:
        with pytest.raises(WasmeError, match=error):
            client.push("ns/name", "v1", minimal_wasm(), wasme_config())
    with WasmeClient("http://registry.invalid", transport=fake_registry(str)) as client:
        client.push("ns/name", "v1", minimal_wasm(), wasme_config())


def test_manifest_bytes_are_what_oras_go_marshals() -> None:
    # ocispec.Manifest through encoding/json: field order schemaVersion, config, layers,
    # annotations; descriptor order mediaType, digest, size, annotations; no spaces
    wasm, config = minimal_wasm(b"golden"), wasme_config()
    c = f'"digest":"{sha256(config)}","size":{len(config)}'
    w = f'"digest":"{sha256(wasm)}","size":{len(wasm)}'
    config_desc = (
        f'{{"mediaType":"{WASME_CONFIG}",{c},"annotations":{{"{TITLE}":"runtime-config.json"}}}}'
    )
    expected = (
        f'{{"schemaVersion":2,"config":{config_desc},"layers":[{config_desc},'
        f'{{"mediaType":"{WASME_LAYER}",{w},"annotations":{{"{TITLE}":"filter.wasm"}}}}],'
        f'"annotations":{{"{ABI_ANNOTATION}":"{ABI_ISTIO_17}","{TYPE_ANNOTATION}":"envoy_proxy"}}}}'
    )
    assert WasmeClient.build_manifest(wasm, config) == expected.encode()
    assert config == (
        b'{"type":"envoy_proxy","abiVersions":["v0-4689a30309abf31aee9ae36e73d34b1bb182685f"],'
        b'"config":{"rootIds":["add_header"]}}'
    )
