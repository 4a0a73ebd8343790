"""Manifest parsing and structural checks (image-spec manifest.md, image-index.md;
Docker image manifest v2 schema 2 and manifest list). Pure: bytes in, facts out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hub.oci.digest import Digest, InvalidDigest

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = IMAGE_TYPES | INDEX_TYPES
# Content types some clients send when they do not name the manifest type; the body's own
# mediaType (or its shape) decides then.
GENERIC_TYPES = frozenset({"", "application/json", "application/octet-stream"})


class ManifestError(ValueError):
    """The manifest is malformed; the message says what to fix."""


class UnsupportedManifest(ValueError):
    """The manifest's media type is not one this registry stores."""


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Manifest:
    media_type: str
    raw: bytes
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str]

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Descriptors that must exist as blobs in the repository."""
        return ((self.config,) if self.config else ()) + self.layers

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestError(f"{where}.mediaType must be a non-empty string")
    raw_digest = value.get("digest")
    if not isinstance(raw_digest, str):
        raise ManifestError(f"{where}.digest must be a string")
    try:
        digest = Digest.parse(raw_digest)
    except InvalidDigest as exc:
        raise ManifestError(f"{where}.digest: {exc}") from None
    size = value.get("size")
    # image-spec descriptor.md: size is an int64; larger numbers would overflow the database.
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**63:
        raise ManifestError(f"{where}.size must be an integer from 0 to 2^63-1")
    annotations = value.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestError(f"{where}.annotations must be an object of strings")
    artifact_type = value.get("artifactType")
    return Descriptor(media_type, digest, size, artifact_type, annotations)


def _descriptors(value: Any, where: str) -> tuple[Descriptor, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ManifestError(f"{where} must be an array of descriptors")
    return tuple(_descriptor(item, f"{where}[{i}]") for i, item in enumerate(value))


def _resolve_media_type(content_type: str, body: dict[str, Any]) -> str:
    declared = body.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ManifestError("mediaType must be a string")
    content_type = content_type.split(";")[0].strip().lower()
    if content_type in GENERIC_TYPES:
        if declared:
            content_type = declared
        else:
            # image-spec: mediaType is optional in OCI manifests (wasme omits it); tell an index
            # from an image by its shape.
            content_type = OCI_INDEX if "manifests" in body else OCI_MANIFEST
    if content_type not in MANIFEST_TYPES:
        raise UnsupportedManifest(
            f"manifest media type {content_type!r} is not supported; "
            f"use one of {', '.join(sorted(MANIFEST_TYPES))}"
        )
    # image-spec manifest.md: when mediaType is present it MUST match the Content-Type.
    if declared and declared != content_type:
        raise ManifestError(
            f"the body's mediaType {declared!r} does not match Content-Type {content_type!r}"
        )
    return content_type


def parse(raw: bytes, content_type: str) -> Manifest:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ManifestError("manifest must be a JSON object")
    media_type = _resolve_media_type(content_type, body)
    if body.get("schemaVersion") != 2:
        raise ManifestError("schemaVersion must be 2")
    annotations = body.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestError("annotations must be an object of strings")
    subject = _descriptor(body["subject"], "subject") if body.get("subject") else None
    artifact_type = body.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestError("artifactType must be a string")
    if media_type in INDEX_TYPES:
        if "manifests" not in body:
            raise ManifestError("an index must list its manifests")
        return Manifest(
            media_type,
            raw,
            None,
            (),
            _descriptors(body["manifests"], "manifests"),
            subject,
            artifact_type,
            annotations,
        )
    if "config" not in body:
        raise ManifestError("an image manifest must have a config descriptor")
    config = _descriptor(body["config"], "config")
    layers = _descriptors(body.get("layers"), "layers")
    if media_type == DOCKER_MANIFEST and not layers:
        raise ManifestError("a Docker image manifest must have at least one layer")
    # distribution-spec "Listing Referrers": an image manifest without artifactType is typed
    # by its config's media type.
    return Manifest(
        media_type,
        raw,
        config,
        layers,
        (),
        subject,
        artifact_type or config.media_type,
        annotations,
    )
