"""The filters the deploy tests render: the real AssemblyScript filter pushed once per live
server in each of the four variants (FORMATS.md section 1) with the clients that make them —
wasme (wasme-oci), oras-py (cncf, wasm-to-oci), plain /v2 (compat) — plus a pre-spec module and
a non-Wasm image."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import oras.provider
import pytest

from tests.support.artifacts import (
    OCI_MANIFEST,
    compat_image,
    descriptor,
    minimal_wasm,
    sha256,
    wasme_config,
)
from tests.support.oras_push import push_module
from tests.support.server import HubServer
from tests.support.wasme import WasmeClient

VARIANTS = ("wasme-oci", "compat", "cncf", "wasm-to-oci")
ORAS_TYPES = {
    "cncf": ("application/vnd.wasm.config.v0+json", "application/wasm"),
    "wasm-to-oci": (
        "application/vnd.wasm.config.v1+json",
        "application/vnd.wasm.content.layer.v1+wasm",
    ),
}


@dataclass(frozen=True)
class Pushed:
    repository: str
    tag: str
    digest: str  # manifest digest
    module_sha256: str


def push_image(
    client: httpx.Client, repo: str, tag: str, manifest: bytes, blobs: dict[str, bytes]
) -> str:
    for digest, data in blobs.items():
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
        assert r.status_code == 201, r.text
    r = client.put(
        f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return str(r.headers["docker-content-digest"])


def unversioned_filter() -> bytes:
    """A valid module exporting a proxy_on_* callback and no proxy_abi_version_* marker: the
    pre-spec envoy-wasm ABI (hub.wasm.abi UNVERSIONED)."""
    name = b"proxy_on_context_create"
    types = b"\x01\x60\x00\x00"  # one type: () -> ()
    functions = b"\x01\x00"
    exports = b"\x01" + bytes([len(name)]) + name + b"\x00\x00"
    code = b"\x01\x02\x00\x0b"  # one body: no locals, end
    sections = b"".join(
        bytes([sid]) + bytes([len(body)]) + body
        for sid, body in ((1, types), (3, functions), (7, exports), (10, code))
    )
    return b"\x00asm\x01\x00\x00\x00" + sections


@pytest.fixture(scope="module")
def client(live_server: HubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def pushed(
    live_server: HubServer,
    client: httpx.Client,
    real_filter: bytes,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Pushed]:
    """variant -> the pushed filter, once per live server."""
    suffix = secrets.token_hex(3)
    module_sha = hashlib.sha256(real_filter).hexdigest()
    found: dict[str, Pushed] = {}

    repo = f"deploy/wasme-{suffix}"
    with WasmeClient(live_server.url) as wasme:
        digest = wasme.push(repo, "v1", real_filter, wasme_config())
    found["wasme-oci"] = Pushed(repo, "v1", digest, module_sha)

    repo = f"deploy/compat-{suffix}"
    image = compat_image(real_filter)
    digest = push_image(client, repo, "v1", image.manifest, image.blobs)
    found["compat"] = Pushed(repo, "v1", digest, module_sha)

    work = tmp_path_factory.mktemp("oras")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(work / "home"))  # oras-py reads ~/.docker/config.json
        registry = oras.provider.Registry(hostname=live_server.host, insecure=True)
        for variant, (config_type, layer_type) in ORAS_TYPES.items():
            repo = f"deploy/{variant}-{suffix}"
            target = f"{live_server.host}/{repo}:v1"
            response = push_module(
                registry, target, real_filter, layer_type, b"{}", config_type, work
            )
            assert response.status_code == 201, response.text
            digest = client.head(f"/v2/{repo}/manifests/v1").headers["docker-content-digest"]
            found[variant] = Pushed(repo, "v1", digest, module_sha)

    for variant, item in found.items():
        [tag] = client.get(f"/api/v1/repositories/{item.repository}").json()["tags"]
        assert tag["module"]["variant"] == variant, tag
    return found


@pytest.fixture(scope="module")
def unversioned(client: httpx.Client) -> Pushed:
    wasm = unversioned_filter()
    image = compat_image(wasm)
    repo = f"deploy/old-{secrets.token_hex(3)}"
    digest = push_image(client, repo, "v1", image.manifest, image.blobs)
    [tag] = client.get(f"/api/v1/repositories/{repo}").json()["tags"]
    assert tag["module"]["proxy_abi"] == ["unversioned"], tag["module"]
    return Pushed(repo, "v1", digest, hashlib.sha256(wasm).hexdigest())


@pytest.fixture(scope="module")
def generic(client: httpx.Client) -> Pushed:
    """An artifact with no Wasm layer at all."""
    config, layer = b'{"type":"other"}', minimal_wasm(secrets.token_bytes(8))
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.example.config+json", config),
            "layers": [descriptor("application/vnd.example.layer", layer)],
        }
    ).encode()
    repo = f"deploy/generic-{secrets.token_hex(3)}"
    digest = push_image(
        client, repo, "v1", manifest, {sha256(config): config, sha256(layer): layer}
    )
    return Pushed(repo, "v1", digest, "")
