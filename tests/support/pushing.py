"""A small OCI push/pull client over httpx for reliability tests: monolithic and chunked blob
uploads (spec "Pushing blobs"), manifests, byte-exact verification of what was acknowledged."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def path_of(location: str) -> str:
    """A Location as a path+query, so it can be sent to any replica."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class PushFailed(AssertionError):
    """The registry answered a push step with an unexpected status."""


@dataclass
class Artifact:
    repository: str
    tag: str
    layers: list[bytes]
    config: bytes = b"{}"
    manifest: bytes = b""
    # Every blob digest the registry acknowledged with 201 (or a HEAD 200 that skipped it).
    acknowledged: list[str] = field(default_factory=list)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)

    def build_manifest(self) -> bytes:
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST,
                "config": {
                    "mediaType": CONFIG,
                    "digest": sha256(self.config),
                    "size": len(self.config),
                },
                "layers": [
                    {"mediaType": LAYER, "digest": sha256(layer), "size": len(layer)}
                    for layer in self.layers
                ],
            },
            sort_keys=True,
        ).encode()
        return self.manifest


def random_artifact(repository: str, layers: int = 2, max_size: int = 64 * 1024) -> Artifact:
    sizes = [secrets.randbelow(max_size) + 1 for _ in range(layers)]
    return Artifact(repository, f"t{secrets.token_hex(4)}", [secrets.token_bytes(n) for n in sizes])


def _expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    if response.status_code not in statuses:
        raise PushFailed(
            f"{response.request.method} {response.request.url.path} -> {response.status_code} "
            f"{response.text[:300]}"
        )
    return response


def push_blob(
    client: httpx.Client, repository: str, data: bytes, chunked: bool, skip_existing: bool = True
) -> str:
    digest = sha256(data)
    if skip_existing:
        # Like oras and docker: HEAD first, and skip the upload of a blob the repository has.
        head = client.head(f"/v2/{repository}/blobs/{digest}")
        if head.status_code == 200:
            return digest
    if not chunked:
        url = f"/v2/{repository}/blobs/uploads/"
        _expect(client.post(url, params={"digest": digest}, content=data), 201)
        return digest
    started = _expect(client.post(f"/v2/{repository}/blobs/uploads/"), 202)
    location = started.headers["location"]
    step = max(1, len(data) // 3)
    offset = 0
    while offset < len(data):
        piece = data[offset : offset + step]
        patched = _expect(
            client.patch(
                location,
                content=piece,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                },
            ),
            202,
        )
        location = patched.headers["location"]
        offset += len(piece)
    _expect(client.put(location, params={"digest": digest}), 201)
    return digest


def push(client: httpx.Client, artifact: Artifact, chunked: bool) -> None:
    """Blobs, then the manifest by tag; raises PushFailed on any unexpected answer."""
    for data in [artifact.config, *artifact.layers]:
        artifact.acknowledged.append(push_blob(client, artifact.repository, data, chunked))
    artifact.build_manifest()
    _expect(
        client.put(
            f"/v2/{artifact.repository}/manifests/{artifact.tag}",
            content=artifact.manifest,
            headers={"Content-Type": MANIFEST},
        ),
        201,
    )


def verify(client: httpx.Client, artifact: Artifact) -> None:
    """Pull by tag and assert the manifest and every blob are byte-exact."""
    got = client.get(
        f"/v2/{artifact.repository}/manifests/{artifact.tag}", headers={"Accept": MANIFEST}
    )
    assert got.status_code == 200, f"{artifact.repository}:{artifact.tag}: {got.text[:300]}"
    assert got.content == artifact.manifest
    for data in [artifact.config, *artifact.layers]:
        blob = client.get(f"/v2/{artifact.repository}/blobs/{sha256(data)}")
        assert blob.status_code == 200, f"{artifact.repository} {sha256(data)}: {blob.text}"
        assert blob.content == data, f"{artifact.repository} {sha256(data)} differs"
