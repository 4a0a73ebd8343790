"""oras-py (the real client library) pushing to and pulling from a live hub."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import oras.defaults
import oras.provider
import pytest
import requests

from tests.support.artifacts import (
    ABI_ISTIO_17,
    TITLE,
    WASME_CONFIG,
    WASME_LAYER,
    minimal_wasm,
    sha256,
    wasme_config,
)
from tests.support.oras_push import push_module
from tests.support.server import HubServer

CHUNK = 64 * 1024


@pytest.fixture
def sent() -> list[requests.PreparedRequest]:
    """Every request the `registry` fixture's oras-py made, in order."""
    return []


@pytest.fixture
def registry(
    live_server: HubServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sent: list[requests.PreparedRequest],
) -> Iterator[oras.provider.Registry]:
    # oras-py reads ~/.docker/config.json for credentials: point HOME at an empty tmp dir.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    reg = oras.provider.Registry(hostname=live_server.host, insecure=True)
    reg.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request))
    yield reg
    reg.session.close()


def target(server: HubServer, tag: str = "v1") -> str:
    return f"{server.host}/oras/m{secrets.token_hex(4)}:{tag}"


def repository(ref: str) -> str:
    """127.0.0.1:PORT/oras/mXXXX:tag -> oras/mXXXX"""
    return ref.split("/", 1)[1].rsplit(":", 1)[0]


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def push_wasm(
    registry: oras.provider.Registry, ref: str, tmp_path: Path, wasm: bytes, **kwargs: Any
) -> requests.Response:
    response = push_module(
        registry, ref, wasm, WASME_LAYER, wasme_config(), WASME_CONFIG, tmp_path / "push",
        manifest_annotations={"module.wasm.runtime/abi_version": ABI_ISTIO_17}, **kwargs,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    return response


def test_push_and_pull_wasm_file(
    registry: oras.provider.Registry, live_server: HubServer, tmp_path: Path
) -> None:
    wasm = minimal_wasm(secrets.token_bytes(200))
    ref = target(live_server)
    pushed = push_wasm(registry, ref, tmp_path, wasm)
    # oras-py sends the manifest with requests' json= (json.dumps defaults, so ", " and ": ");
    # the hub must name that exact body's digest.
    sent_manifest = pushed.request.body
    assert isinstance(sent_manifest, bytes)
    assert pushed.headers["Docker-Content-Digest"] == sha256(sent_manifest)

    files = registry.pull(target=ref, outdir=str(tmp_path / "pulled"))
    assert [Path(f).name for f in files] == ["filter.wasm"]
    assert Path(files[0]).read_bytes() == wasm

    manifest = registry.get_manifest(ref)
    assert manifest["mediaType"] == oras.defaults.default_manifest_media_type
    assert manifest["config"]["mediaType"] == WASME_CONFIG
    assert manifest["config"]["digest"] == sha256(wasme_config())
    [layer] = manifest["layers"]
    assert layer["mediaType"] == WASME_LAYER
    assert layer["digest"] == sha256(wasm)
    assert layer["size"] == len(wasm)
    assert layer["annotations"] == {TITLE: "filter.wasm"}
    assert manifest["annotations"] == {"module.wasm.runtime/abi_version": ABI_ISTIO_17}

    # the stored bytes are the very bytes oras-py sent
    raw = httpx.get(f"{live_server.url}/v2/{repository(ref)}/manifests/v1")
    assert raw.content == sent_manifest


def test_chunked_push_of_a_multi_chunk_blob(
    registry: oras.provider.Registry,
    live_server: HubServer,
    tmp_path: Path,
    sent: list[requests.PreparedRequest],
) -> None:
    # 4.5 chunks: several PATCHes with Content-Range, a short last one, then PUT ?digest=
    wasm = minimal_wasm(secrets.token_bytes(4 * CHUNK + CHUNK // 2))
    ref = target(live_server, "chunked")
    push_wasm(registry, ref, tmp_path, wasm, do_chunked=True, chunk_size=CHUNK)
    patches = [r for r in sent if r.method == "PATCH"]
    # the config blob is always sent monolithically by oras-py; the module goes in chunks
    assert [r.headers["Content-Range"] for r in patches] == [
        f"{start}-{min(start + CHUNK, len(wasm)) - 1}" for start in range(0, len(wasm), CHUNK)
    ]

    files = registry.pull(target=ref, outdir=str(tmp_path / "pulled"))
    data = Path(files[0]).read_bytes()
    assert len(data) == len(wasm)
    assert hashlib.sha256(data).digest() == hashlib.sha256(wasm).digest()

    head = registry.get_blob(repository(ref), sha256(wasm), head=True)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(wasm))
    assert head.headers["Docker-Content-Digest"] == sha256(wasm)


def test_chunked_upload_api_directly(
    registry: oras.provider.Registry, live_server: HubServer, tmp_path: Path
) -> None:
    # Registry.chunked_upload is the public per-blob API: check each PATCH answer
    data = secrets.token_bytes(3 * CHUNK + 17)
    blob = write(tmp_path / "blob.bin", data)
    container = registry.get_container(target(live_server))
    layer = oras.oci.NewLayer(str(blob))
    response = registry.chunked_upload(str(blob), container, layer, chunk_size=CHUNK)
    assert response.status_code == 201
    assert response.headers["Docker-Content-Digest"] == sha256(data)
    got = registry.get_blob(container, sha256(data))
    assert got.content == data


def test_tags_and_delete(
    registry: oras.provider.Registry, live_server: HubServer, tmp_path: Path
) -> None:
    ref = target(live_server, "one")
    push_wasm(registry, ref, tmp_path, minimal_wasm(b"tags"))
    name = ref.rsplit(":", 1)[0]
    push_wasm(registry, f"{name}:two", tmp_path, minimal_wasm(b"tags"))
    assert sorted(registry.get_tags(name)) == ["one", "two"]
    assert registry.get_tags(name, N=1) == ["one"]
    # oras-py's delete_tag: HEAD for Docker-Content-Digest, then DELETE by digest (202)
    assert registry.delete_tag(name, "two") is True
    assert registry.get_tags(name) == []  # both tags named the same manifest
    with pytest.raises(ValueError):
        registry.get_manifest(ref)


def test_pull_of_missing_tag_raises(
    registry: oras.provider.Registry, live_server: HubServer, tmp_path: Path
) -> None:
    ref = target(live_server)
    push_wasm(registry, ref, tmp_path, minimal_wasm(b"missing"))
    response = registry.get_blob(repository(ref), sha256(b"nope"), head=True)
    assert response.status_code == 404
    missing_tag = registry.get_container(f"{repository(ref)}:nope")
    manifest_url = f"http://{missing_tag.manifest_url()}"
    missing = registry.do_request(manifest_url, "GET")
    assert missing.status_code == 404
    assert json.loads(missing.content)["errors"][0]["code"] == "MANIFEST_UNKNOWN"
