"""Pure OCI data: digests, names, manifest parsing."""

from __future__ import annotations

import json

import pytest

from hub.oci import manifest
from hub.oci.digest import Digest, InvalidDigest
from hub.oci.reference import valid_name, valid_tag


def test_digest_round_trip_and_algorithms() -> None:
    d = Digest.of(b"abc")
    assert Digest.parse(str(d)) == d
    assert str(Digest.of(b"abc", "sha512")).startswith("sha512:")
    assert len(Digest.of(b"abc", "sha512").hex) == 128


@pytest.mark.parametrize(
    "raw",
    ["sha256:abc", "md5:" + "0" * 32, "sha256:" + "G" * 64, "sha256:" + "A" * 64, "nocolon", ""],
)
def test_bad_digests(raw: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(raw)


@pytest.mark.parametrize("name", ["a", "a/b", "a-b/c.d/e__f", "wasm/add-header", "a0/1"])
def test_valid_names(name: str) -> None:
    assert valid_name(name)


@pytest.mark.parametrize(
    "name", ["A", "a/../b", "../a", "a//b", "-a", "a-", "a/", "a__-b", "a" * 256]
)
def test_invalid_names(name: str) -> None:
    assert not valid_name(name)


def test_tags() -> None:
    assert valid_tag("v1.0_rc-1") and valid_tag("_x") and valid_tag("a" * 128)
    assert not valid_tag(".x") and not valid_tag("-x") and not valid_tag("a" * 129)
    assert not valid_tag("a:b")


def _image(**extra: object) -> bytes:
    body = {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.module.wasm.config.v1+json",
            "digest": str(Digest.of(b"{}")),
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.module.wasm.content.layer.v1+wasm",
                "digest": str(Digest.of(b"\0asm")),
                "size": 4,
            }
        ],
        **extra,
    }
    return json.dumps(body).encode()


def test_wasme_manifest_without_media_type_is_an_oci_image() -> None:
    # wasme sends Content-Type OCI manifest and no mediaType in the body (FORMATS.md section 1)
    parsed = manifest.parse(_image(), manifest.OCI_MANIFEST)
    assert parsed.media_type == manifest.OCI_MANIFEST
    assert parsed.artifact_type == "application/vnd.module.wasm.config.v1+json"
    assert [str(b.digest) for b in parsed.blobs] == [
        str(Digest.of(b"{}")),
        str(Digest.of(b"\0asm")),
    ]
    # with a generic content type the body's shape decides
    assert manifest.parse(_image(), "application/json").media_type == manifest.OCI_MANIFEST


def test_media_type_must_match_content_type() -> None:
    raw = _image(mediaType=manifest.OCI_MANIFEST)
    with pytest.raises(manifest.ManifestError, match="does not match"):
        manifest.parse(raw, manifest.DOCKER_MANIFEST)


def test_index_and_subject() -> None:
    child = str(Digest.of(b"child"))
    raw = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest.OCI_INDEX,
            "artifactType": "x/y",
            "manifests": [{"mediaType": manifest.OCI_MANIFEST, "digest": child, "size": 5}],
            "subject": {"mediaType": manifest.OCI_MANIFEST, "digest": child, "size": 5},
        }
    ).encode()
    parsed = manifest.parse(raw, manifest.OCI_INDEX)
    assert parsed.is_index and parsed.blobs == ()
    assert str(parsed.manifests[0].digest) == child and parsed.artifact_type == "x/y"
    assert parsed.subject is not None and str(parsed.subject.digest) == child


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[]", manifest.ManifestError),
        (b"\xff", manifest.ManifestError),
        (
            b'{"schemaVersion": 2, "config": {"mediaType": "a", "digest": "sha256:x", "size": 1}}',
            manifest.ManifestError,
        ),
        (
            b'{"schemaVersion": 2, "config": {"mediaType": "a", "digest": "%s", "size": -1}}'
            % str(Digest.of(b"")).encode(),
            manifest.ManifestError,
        ),
        (b'{"schemaVersion": 2}', manifest.ManifestError),
    ],
)
def test_malformed(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        manifest.parse(raw, manifest.OCI_MANIFEST)


def test_unsupported_type() -> None:
    with pytest.raises(manifest.UnsupportedManifest):
        manifest.parse(
            b'{"schemaVersion": 2}', "application/vnd.docker.distribution.manifest.v1+prettyjws"
        )
