"""skopeo (containers/image) copying OCI layouts to and from a live hub, byte for byte."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.artifacts import (
    DOCKER_CONFIG,
    DOCKER_LAYER_TAR_GZIP,
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    Image,
    compat_image,
    image_index,
    layout_manifest,
    minimal_wasm,
    read_layout_blob,
    sha256,
    wasme_config,
    write_oci_layout,
)
from tests.support.server import HubServer
from tests.support.wasme import WasmeClient

Skopeo = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def skopeo(tmp_path: Path) -> Skopeo:
    """Run skopeo with every file it reads or writes inside tmp_path: policy, auth file,
    registries.conf, HOME/XDG dirs and the blob-info cache (as root c/image would otherwise
    create /var/lib/containers/cache; _CONTAINERS_ROOTLESS_UID makes it use XDG_DATA_HOME)."""
    binary = shutil.which("skopeo")
    if binary is None:
        raise RuntimeError("skopeo is required for these tests (apt-get install skopeo)")
    root = tmp_path / "skopeo"
    for sub in ("home", "data", "config", "run", "tmp"):
        (root / sub).mkdir(parents=True)
    policy = root / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
    authfile = root / "auth.json"
    authfile.write_text('{"auths":{}}')
    registries = root / "registries.conf"
    registries.write_text('unqualified-search-registries = []\n')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_RUNTIME_DIR": str(root / "run"),
        "TMPDIR": str(root / "tmp"),
        "CONTAINERS_REGISTRIES_CONF": str(registries),
        "REGISTRY_AUTH_FILE": str(authfile),
        "_CONTAINERS_ROOTLESS_UID": "1000",
    }

    def run(
        command: str, *args: str, check: bool = True, debug: bool = False
    ) -> subprocess.CompletedProcess[str]:
        argv = [binary, "--policy", str(policy), *(["--debug"] if debug else [])]
        argv += [command, "--authfile", str(authfile), *args]
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed:\n{result.stderr}")
        return result

    return run


def docker_ref(server: HubServer, repo: str, tag: str) -> str:
    return f"docker://{server.host}/{repo}:{tag}"


def raw_manifest(skopeo: Skopeo, ref: str) -> bytes:
    return skopeo("inspect", "--tls-verify=false", "--raw", ref).stdout.encode()


def plugin_wasm(layer: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz") as tar:
        member = tar.extractfile("plugin.wasm")
        assert member is not None
        return member.read()


def push_layout(skopeo: Skopeo, tmp_path: Path, image: Image, ref: str, *flags: str) -> None:
    src = tmp_path / f"src-{secrets.token_hex(3)}"
    write_oci_layout(src, image, "v1")
    skopeo("copy", "--dest-tls-verify=false", *flags, f"oci:{src}:v1", ref)


@pytest.fixture
def repo() -> str:
    return f"skopeo/i{secrets.token_hex(4)}"


def test_oci_layout_round_trip_is_byte_identical(
    skopeo: Skopeo, live_server: HubServer, tmp_path: Path, repo: str
) -> None:
    wasm = minimal_wasm(secrets.token_bytes(100))
    image = compat_image(wasm)
    ref = docker_ref(live_server, repo, "v1")
    push_layout(skopeo, tmp_path, image, ref)

    # the registry keeps the manifest exactly as sent, under the same digest
    raw = raw_manifest(skopeo, ref)
    assert raw == image.manifest
    assert sha256(raw) == image.digest
    head = httpx.head(
        f"{live_server.url}/v2/{repo}/manifests/v1", headers={"Accept": OCI_MANIFEST}
    )
    assert head.headers["docker-content-digest"] == image.digest
    assert head.headers["content-type"] == OCI_MANIFEST

    dst = tmp_path / "dst"
    skopeo("copy", "--src-tls-verify=false", ref, f"oci:{dst}:v1")
    desc = layout_manifest(dst, "v1")
    assert desc["digest"] == image.digest
    assert desc["mediaType"] == OCI_MANIFEST
    assert read_layout_blob(dst, image.digest) == image.manifest
    for digest, data in image.blobs.items():
        assert read_layout_blob(dst, digest) == data
    layer = image.parsed["layers"][0]["digest"]
    assert plugin_wasm(read_layout_blob(dst, layer)) == wasm


def test_docker_schema2_copy(
    skopeo: Skopeo, live_server: HubServer, tmp_path: Path, repo: str
) -> None:
    wasm = minimal_wasm(secrets.token_bytes(100))
    image = compat_image(wasm, variant_annotation=False)
    ref = docker_ref(live_server, repo, "docker")
    push_layout(skopeo, tmp_path, image, ref, "--format", "v2s2")

    raw = raw_manifest(skopeo, ref)
    manifest = json.loads(raw)
    assert manifest["mediaType"] == DOCKER_MANIFEST
    assert manifest["config"]["mediaType"] == DOCKER_CONFIG
    assert [layer["mediaType"] for layer in manifest["layers"]] == [DOCKER_LAYER_TAR_GZIP]
    # conversion changes only the manifest: the blobs keep their digests
    assert manifest["config"]["digest"] == image.parsed["config"]["digest"]
    assert manifest["layers"][0]["digest"] == image.parsed["layers"][0]["digest"]
    got = httpx.get(f"{live_server.url}/v2/{repo}/manifests/docker")
    assert got.headers["content-type"] == DOCKER_MANIFEST
    assert got.headers["docker-content-digest"] == sha256(raw)
    assert got.content == raw

    # dir: keeps the manifest as fetched, so the bytes can be compared as they are
    dst = tmp_path / "dir"
    skopeo("copy", "--src-tls-verify=false", ref, f"dir:{dst}")
    assert (dst / "manifest.json").read_bytes() == raw
    for digest, data in image.blobs.items():
        assert (dst / digest.removeprefix("sha256:")).read_bytes() == data


def test_list_tags_and_delete(
    skopeo: Skopeo, live_server: HubServer, tmp_path: Path, repo: str
) -> None:
    image = compat_image(minimal_wasm(secrets.token_bytes(32)))
    push_layout(skopeo, tmp_path, image, docker_ref(live_server, repo, "v1"))
    push_layout(skopeo, tmp_path, image, docker_ref(live_server, repo, "v2"), "--format", "v2s2")
    repository = f"docker://{live_server.host}/{repo}"

    def tags() -> list[str]:
        out = skopeo("list-tags", "--tls-verify=false", repository).stdout
        listed: list[str] = json.loads(out)["Tags"]
        return sorted(listed)

    assert tags() == ["v1", "v2"]
    # skopeo delete resolves the tag, then DELETEs the manifest by digest (wants 202)
    skopeo("delete", "--tls-verify=false", docker_ref(live_server, repo, "v2"))
    assert tags() == ["v1"]
    gone = skopeo(
        "inspect", "--tls-verify=false", "--raw", docker_ref(live_server, repo, "v2"), check=False
    )
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr
    # the OCI manifest under v1 is a different digest and stays
    assert raw_manifest(skopeo, docker_ref(live_server, repo, "v1")) == image.manifest


def test_registry_to_registry_copy_mounts_blobs(
    skopeo: Skopeo, live_server: HubServer, tmp_path: Path, repo: str
) -> None:
    image = compat_image(minimal_wasm(secrets.token_bytes(64)))
    source = docker_ref(live_server, repo, "v1")
    push_layout(skopeo, tmp_path, image, source)
    target = docker_ref(live_server, f"{repo}-copy", "v1")
    # skopeo's blob-info cache (in tmp) remembers where the layer lives, so it asks the hub
    # for a cross-repository mount (POST ...?mount=&from=) instead of uploading again
    copied = skopeo(
        "copy", "--src-tls-verify=false", "--dest-tls-verify=false", source, target, debug=True
    )
    assert "mount OK" in copied.stderr
    assert raw_manifest(skopeo, target) == image.manifest
    layer = image.parsed["layers"][0]["digest"]
    blob = httpx.get(f"{live_server.url}/v2/{repo}-copy/blobs/{layer}")
    assert hashlib.sha256(blob.content).hexdigest() == layer.removeprefix("sha256:")


def test_image_index_with_all(
    skopeo: Skopeo, live_server: HubServer, tmp_path: Path, repo: str
) -> None:
    # skopeo copy --all: each child manifest PUT by digest, then the index by tag
    children = {
        arch: compat_image(minimal_wasm(secrets.token_bytes(40)), architecture=arch)
        for arch in ("amd64", "arm64")
    }
    index = image_index(children)
    ref = docker_ref(live_server, repo, "multi")
    push_layout(skopeo, tmp_path, index, ref, "--all")
    assert raw_manifest(skopeo, ref) == index.manifest
    for image in children.values():
        by_digest = f"docker://{live_server.host}/{repo}@{image.digest}"
        assert raw_manifest(skopeo, by_digest) == image.manifest

    dst = tmp_path / "dst"
    skopeo("copy", "--all", "--src-tls-verify=false", ref, f"oci:{dst}:multi")
    assert layout_manifest(dst, "multi")["digest"] == index.digest
    for digest, data in index.blobs.items():
        assert read_layout_blob(dst, digest) == data


def test_mirror_a_wasme_image(
    skopeo: Skopeo, live_server: HubServer, tmp_path: Path, repo: str
) -> None:
    # users mirror webassemblyhub.io images with skopeo: the wasme-shaped manifest (no
    # mediaType, custom config type) must survive registry -> layout -> registry unchanged
    wasm = minimal_wasm(secrets.token_bytes(50))
    with WasmeClient(live_server.url) as wasme:
        digest = wasme.push(repo, "v1", wasm, wasme_config())
    layout = tmp_path / "mirror"
    source = docker_ref(live_server, repo, "v1")
    skopeo("copy", "--src-tls-verify=false", source, f"oci:{layout}:v1")
    assert layout_manifest(layout, "v1")["digest"] == digest
    mirror = f"{repo}-mirror"
    target = docker_ref(live_server, mirror, "v1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", target)
    with WasmeClient(live_server.url) as wasme:
        pulled = wasme.pull(mirror, "v1")
    assert pulled.manifest_digest == digest
    assert pulled.wasm == wasm
