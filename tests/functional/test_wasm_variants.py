"""The four Wasm artifact variants (FORMATS.md section 1) pushed with real clients, pulled
byte-exact, and understood: the hub reports the module's facts for each, serves the module
over plain HTTP by its sha256, and refuses a layer that claims to be Wasm but is not."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import oras.provider
import pytest

from tests.support.artifacts import (
    ABI_ISTIO_17,
    OCI_MANIFEST,
    compat_image,
    compat_layer,
    minimal_wasm,
    sha256,
    wasme_config,
)
from tests.support.oras_push import push_module
from tests.support.server import HubServer
from tests.support.wasme import WasmeClient

CNCF = ("application/vnd.wasm.config.v0+json", "application/wasm")
WASM_TO_OCI = ("application/vnd.wasm.config.v1+json", "application/vnd.wasm.content.layer.v1+wasm")


def module_of(client: httpx.Client, repo: str, tag: str) -> dict[str, Any]:
    detail = client.get(f"/api/v1/repositories/{repo}").json()
    [found] = [t for t in detail["tags"] if t["name"] == tag]
    assert found["module"] is not None, found
    module: dict[str, Any] = found["module"]
    return module


def assert_real_filter_facts(module: dict[str, Any], wasm: bytes) -> None:
    assert module["sha256"] == hashlib.sha256(wasm).hexdigest()
    assert module["size"] == len(wasm)
    assert "v0.2.0" in module["abi_versions"]
    exports = {e["name"] for e in module["exports"]}
    assert {"proxy_abi_version_0_2_0", "proxy_on_context_create", "memory"} <= exports
    imports = {(i["module"], i["name"]) for i in module["imports"]}
    assert ("wasi_unstable", "proc_exit") in imports
    assert any(m == "env" and n.startswith("proxy_") for m, n in imports)


@pytest.fixture
def client(live_server: HubServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


@pytest.fixture
def registry(
    live_server: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> oras.provider.Registry:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # oras-py reads ~/.docker/config.json
    return oras.provider.Registry(hostname=live_server.host, insecure=True)


def test_wasme_variant(live_server: HubServer, client: httpx.Client, real_filter: bytes) -> None:
    repo = f"wasme/v{secrets.token_hex(3)}"
    with WasmeClient(live_server.url) as wasme:
        wasme.push(repo, "v1", real_filter, wasme_config())
        pulled = wasme.pull(repo, "v1")
    assert pulled.wasm == real_filter
    module = module_of(client, repo, "v1")
    assert module["variant"] == "wasme-oci"
    assert module["root_ids"] == ["add_header"] and module["runtime_type"] == "envoy_proxy"
    assert ABI_ISTIO_17 in module["abi_versions"]
    assert_real_filter_facts(module, real_filter)


@pytest.mark.parametrize(("variant", "types"), [("cncf", CNCF), ("wasm-to-oci", WASM_TO_OCI)])
def test_oras_variants(
    registry: oras.provider.Registry,
    live_server: HubServer,
    client: httpx.Client,
    tmp_path: Path,
    real_filter: bytes,
    variant: str,
    types: tuple[str, str],
) -> None:
    config_type, layer_type = types
    repo = f"oras/{variant}-{secrets.token_hex(3)}"
    target = f"{live_server.host}/{repo}:v1"
    push_dir = tmp_path / "push"
    response = push_module(registry, target, real_filter, layer_type, b"{}", config_type, push_dir)
    assert response.status_code == 201, response.text
    files = registry.pull(target=f"{live_server.host}/{repo}:v1", outdir=str(tmp_path / "out"))
    assert Path(files[0]).read_bytes() == real_filter
    facts = module_of(client, repo, "v1")
    assert facts["variant"] == variant
    assert facts["root_ids"] == []  # these variants carry no runtime config
    assert_real_filter_facts(facts, real_filter)


def push_image(
    client: httpx.Client, repo: str, tag: str, manifest: bytes, blobs: dict[str, bytes]
) -> httpx.Response:
    for digest, data in blobs.items():
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
        assert r.status_code == 201
    return client.put(
        f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )


def test_compat_variant_and_plain_http_download(client: httpx.Client, real_filter: bytes) -> None:
    repo = f"compat/f{secrets.token_hex(3)}"
    image = compat_image(real_filter)
    r = push_image(client, repo, "v1", image.manifest, image.blobs)
    assert r.status_code == 201, r.text
    assert client.get(f"/v2/{repo}/manifests/v1").content == image.manifest
    for digest, data in image.blobs.items():
        assert client.get(f"/v2/{repo}/blobs/{digest}").content == data
    facts = module_of(client, repo, "v1")
    assert facts["variant"] == "compat" and facts["istio_pullable"] is True
    assert_real_filter_facts(facts, real_filter)
    # Envoy's http(s) code source: the module bytes by their sha256, though they were pushed
    # inside a tar.gz
    module_sha = hashlib.sha256(real_filter).hexdigest()
    download = client.get(f"/api/v1/modules/{module_sha}")
    assert download.status_code == 200 and download.content == real_filter
    assert download.headers["content-type"] == "application/wasm"
    assert client.get(f"/api/v1/modules/{'0' * 64}").status_code == 404


def test_compat_runtime_config_gives_root_ids(client: httpx.Client) -> None:
    wasm = minimal_wasm(secrets.token_bytes(16))
    layer = compat_layer(
        wasm,
        json.dumps(
            {"type": "envoy_proxy", "abiVersions": ["v0.2.1"], "config": {"rootIds": ["auth"]}}
        ).encode(),
    )
    image = compat_image(wasm)
    manifest = json.loads(image.manifest)
    old = manifest["layers"][0]["digest"]
    blobs = {k: v for k, v in image.blobs.items() if k != old} | {sha256(layer): layer}
    manifest["layers"][0].update(digest=sha256(layer), size=len(layer))
    repo = f"compat/rc{secrets.token_hex(3)}"
    r = push_image(client, repo, "v1", json.dumps(manifest).encode(), blobs)
    assert r.status_code == 201, r.text
    facts = module_of(client, repo, "v1")
    assert facts["root_ids"] == ["auth"] and facts["abi_versions"] == ["v0.2.1"]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x7fELF\x02\x01\x01" + b"\0" * 40, "bad magic"),
        (b"\0asm\x02\0\0\0", "version"),
        (b"\0asm\x01\0\0\0\x01\x10\x01", "truncated"),
    ],
)
def test_invalid_module_is_refused_and_nothing_tagged(
    client: httpx.Client, payload: bytes, message: str
) -> None:
    repo = f"bad/m{secrets.token_hex(3)}"
    config = wasme_config()
    blobs = {sha256(config): config, sha256(payload): payload}
    manifest = {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.module.wasm.config.v1+json",
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.module.wasm.content.layer.v1+wasm",
                "digest": sha256(payload),
                "size": len(payload),
            }
        ],
    }
    r = push_image(client, repo, "v1", json.dumps(manifest).encode(), blobs)
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["code"] == "MANIFEST_INVALID"
    assert sha256(payload) in error["message"] and message in error["message"]
    assert client.get(f"/v2/{repo}/manifests/v1").status_code == 404
    assert client.get(f"/v2/{repo}/tags/list").json()["tags"] == []


def test_plain_container_image_is_generic(client: httpx.Client) -> None:
    """A tar+gzip last layer without plugin.wasm and without the compat annotation is just an
    image: stored, no module facts, no refusal."""
    image = compat_image(minimal_wasm(), variant_annotation=False)
    manifest = json.loads(image.manifest)
    layer = compat_layer(b"not a module at all")  # plugin.wasm holds junk, but undeclared
    old = manifest["layers"][0]["digest"]
    blobs = {k: v for k, v in image.blobs.items() if k != old} | {sha256(layer): layer}
    manifest["layers"][0].update(digest=sha256(layer), size=len(layer))
    repo = f"plain/i{secrets.token_hex(3)}"
    r = push_image(client, repo, "v1", json.dumps(manifest).encode(), blobs)
    assert r.status_code == 201, r.text
    [tag] = client.get(f"/api/v1/repositories/{repo}").json()["tags"]
    assert tag["module"] is None


def test_declared_compat_without_a_valid_plugin_is_refused(client: httpx.Client) -> None:
    image = compat_image(b"\0asm junk")
    r = push_image(client, f"bad/c{secrets.token_hex(3)}", "v1", image.manifest, image.blobs)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "MANIFEST_INVALID"
