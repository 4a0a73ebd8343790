"""Builders for the test artifacts real clients push: tiny wasm modules, the wasme runtime
config, the Istio "compat" tar.gz layer, and OCI image layouts on disk (FORMATS.md section 1;
image-spec image-layout.md)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.wasm_asm import HEADER, custom

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
# wasme "oci" variant (solo-io/wasm tools/wasme/pkg/model/image.go)
WASME_CONFIG = "application/vnd.module.wasm.config.v1+json"
WASME_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
TITLE = "org.opencontainers.image.title"
REF_NAME = "org.opencontainers.image.ref.name"
# Istio 1.7-1.9 (FORMATS.md section 1, "Known ABI strings")
ABI_ISTIO_17 = "v0-4689a30309abf31aee9ae36e73d34b1bb182685f"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def minimal_wasm(payload: bytes = b"", name: str = "hub-test") -> bytes:
    """The smallest valid module (magic + version 1) plus one custom section, so every test
    can push distinct bytes."""
    return HEADER + custom(name, payload)


def wasme_config(
    abi_versions: tuple[str, ...] = (ABI_ISTIO_17,),
    root_ids: tuple[str, ...] = ("add_header",),
    runtime_type: str = "envoy_proxy",
) -> bytes:
    """wasme's runtime-config.json exactly as it marshals it: golang/protobuf jsonpb with
    OrigName=false (camelCase), fields in proto order, compact (tools/wasme/pkg/util/proto.go,
    pkg/config/runtime.proto)."""
    return json.dumps(
        {
            "type": runtime_type,
            "abiVersions": list(abi_versions),
            "config": {"rootIds": list(root_ids)},
        },
        separators=(",", ":"),
    ).encode()


def compat_layer(wasm: bytes, runtime_config: bytes | None = None) -> bytes:
    """The Istio "compat" module layer (solo-io/wasm spec/spec-compat.md): a tar.gz holding
    plugin.wasm (and optionally runtime-config.json). Deterministic: fixed mtimes, gzip mtime 0,
    so the same module always yields the same digest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        files = [("plugin.wasm", wasm)]
        if runtime_config is not None:
            files.append(("runtime-config.json", runtime_config))
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def diff_id(layer_tar_gz: bytes) -> str:
    """image-spec config.md: rootfs.diff_ids are digests of the *uncompressed* layers."""
    return sha256(gzip.decompress(layer_tar_gz))


def image_config(layers: list[bytes], architecture: str = "amd64") -> bytes:
    """A minimal but complete OCI image config for a FROM-scratch image holding the layers."""
    return json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [diff_id(layer) for layer in layers]},
        },
        separators=(",", ":"),
    ).encode()


def descriptor(
    media_type: str, data: bytes, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    desc: dict[str, Any] = {"mediaType": media_type, "digest": sha256(data), "size": len(data)}
    if annotations:
        desc["annotations"] = annotations
    return desc


@dataclass
class Image:
    """An image manifest with the blobs it references, all as bytes."""

    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    @property
    def parsed(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.manifest)
        return result


def compat_image(
    wasm: bytes, variant_annotation: bool = True, architecture: str = "amd64"
) -> Image:
    """An OCI image in the compat variant: one tar+gzip layer with plugin.wasm."""
    layer = compat_layer(wasm)
    config = image_config([layer], architecture)
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER_TAR_GZIP, layer)],
    }
    if variant_annotation:
        manifest["annotations"] = {"module.wasm.image/variant": "compat"}
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    return Image(raw, {sha256(config): config, sha256(layer): layer})


def image_index(images: dict[str, Image]) -> Image:
    """An OCI image index over ``{architecture: image}``; the child manifests travel as blobs
    of the index (that is how an image layout stores them)."""
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                **descriptor(image.media_type, image.manifest),
                "platform": {"architecture": arch, "os": "linux"},
            }
            for arch, image in images.items()
        ],
    }
    blobs: dict[str, bytes] = {}
    for image in images.values():
        blobs |= image.blobs
        blobs[image.digest] = image.manifest
    return Image(json.dumps(index, separators=(",", ":")).encode(), blobs, OCI_INDEX)


def write_oci_layout(directory: Path, image: Image, tag: str) -> None:
    """An OCI image layout (image-spec image-layout.md): oci-layout, index.json naming the
    manifest by org.opencontainers.image.ref.name, and every blob under blobs/sha256/."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for data in [image.manifest, *image.blobs.values()]:
        (blobs / hashlib.sha256(data).hexdigest()).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {**descriptor(image.media_type, image.manifest), "annotations": {REF_NAME: tag}}
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))


def read_layout_blob(directory: Path, digest: str) -> bytes:
    algorithm, hex_ = digest.split(":", 1)
    return (directory / "blobs" / algorithm / hex_).read_bytes()


def layout_manifest(directory: Path, tag: str) -> dict[str, Any]:
    """The index.json descriptor of the manifest tagged ``tag`` in an OCI layout."""
    index = json.loads((directory / "index.json").read_text())
    for desc in index["manifests"]:
        if (desc.get("annotations") or {}).get(REF_NAME) == tag:
            found: dict[str, Any] = desc
            return found
    raise KeyError(f"no manifest tagged {tag!r} in {directory}/index.json")
