"""Property-based fuzzing of manifest parsing (hub.oci.manifest) and variant classification
(hub.wasm.formats), then of whole manifest pushes through the app: any bytes are either a
manifest or a ManifestError/UnsupportedManifest; a push is stored byte-exact or refused with a
4xx in the registry's envelope, never a 5xx."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from hub.oci.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    MANIFEST_TYPES,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    ManifestError,
    UnsupportedManifest,
    parse,
)
from hub.wasm import compat, formats
from hub.wasm.errors import InvalidLayer, InvalidRuntimeConfig
from tests.support.inprocess import TestClient, app_client

CONFIG = b"{}"
LAYER = b"layer bytes for fuzzing"
KNOWN = {
    "sha256:" + hashlib.sha256(CONFIG).hexdigest(): len(CONFIG),
    "sha256:" + hashlib.sha256(LAYER).hexdigest(): len(LAYER),
}
MEDIA_TYPES = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_LIST,
    "application/json",
    "application/octet-stream",
    "",
    "text/plain",
    formats.WASME_CONFIG,
    formats.WASME_LAYER,
    formats.CNCF_LAYER,
    formats.OCI_LAYER_GZIP,
    "application/vnd.oci.empty.v1+json",
]

PLAIN = ["application/octet-stream", "application/vnd.oci.empty.v1+json", "text/markdown"]
json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_any = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
digests = (
    st.sampled_from(sorted(KNOWN))
    | st.sampled_from(
        [
            "sha256:" + "0" * 64,
            "sha256:" + "A" * 64,
            "sha256:abc",
            "sha512:" + "1" * 128,
            "md5:" + "1" * 32,
            "sha256:../../etc/passwd",
            "",
        ]
    )
    | st.text(max_size=80)
)
sizes = (
    st.sampled_from(sorted(set(KNOWN.values())))
    | st.sampled_from([2**63 - 1, 2**63, 2**64, -1])
    | st.integers(min_value=-5, max_value=2**70)
)
annotations = st.dictionaries(st.text(max_size=30), st.text(max_size=30) | json_any, max_size=3)


@st.composite
def descriptors(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_any)  # not even an object
    fields: dict[str, Any] = {}
    for key, values in (
        ("mediaType", st.sampled_from(MEDIA_TYPES) | json_leaf),
        ("digest", digests),
        ("size", sizes | json_leaf),
        ("annotations", annotations | json_leaf),
        ("artifactType", st.sampled_from(MEDIA_TYPES) | json_leaf),
    ):
        if draw(st.integers(0, 5)) != 0:  # mostly present
            fields[key] = draw(values)
    return fields


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, values in (
        ("schemaVersion", st.sampled_from([2, 2, 2, 1, "2", None])),
        ("mediaType", st.sampled_from(MEDIA_TYPES) | json_leaf),
        ("config", descriptors()),
        ("layers", st.lists(descriptors(), max_size=3) | json_leaf),
        ("manifests", st.lists(descriptors(), max_size=2) | json_leaf),
        ("subject", descriptors()),
        ("annotations", annotations | json_leaf),
        ("artifactType", st.sampled_from(MEDIA_TYPES) | json_leaf),
    ):
        if draw(st.integers(0, 3)) != 0:
            body[key] = draw(values)
    return body


@st.composite
def good_descriptors(draw: st.DrawFn) -> dict[str, Any]:
    digest = draw(st.sampled_from(sorted(KNOWN)))
    found: dict[str, Any] = {
        # Mostly plain types (pushes that get stored); sometimes Wasm ones (analysed, refused).
        "mediaType": draw(st.sampled_from(PLAIN * 4 + MEDIA_TYPES[8:])),
        "digest": digest,
        "size": KNOWN[digest],
    }
    if draw(st.booleans()):
        found["annotations"] = draw(
            st.dictionaries(st.text(max_size=20), st.text(max_size=20), max_size=2)
        )
    return found


@st.composite
def nearly_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid image manifest over the known blobs, then (usually) one field changed to
    anything: most of these get as far as the push service's checks."""
    body: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": draw(st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST])),
        "config": draw(good_descriptors()),
        "layers": draw(st.lists(good_descriptors(), min_size=1, max_size=3)),
    }
    if draw(st.booleans()):
        body["annotations"] = draw(annotations)
    if draw(st.booleans()):
        body["subject"] = draw(good_descriptors())
    if draw(st.integers(0, 3)) != 0:
        path = draw(st.sampled_from(["config", "layers", "subject", "annotations", "artifactType"]))
        target = body.get(path)
        if isinstance(target, list) and target:
            target[0][draw(st.sampled_from(["mediaType", "digest", "size", "annotations"]))] = draw(
                json_any | sizes | digests
            )
        elif isinstance(target, dict) and path != "annotations":
            target[draw(st.sampled_from(["mediaType", "digest", "size", "artifactType"]))] = draw(
                json_any | sizes | digests
            )
        else:
            body[path] = draw(json_any | descriptors())
    return body


any_manifest = nearly_valid() | manifests()
content_types = st.sampled_from(MEDIA_TYPES) | st.text(max_size=40)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(manifest: Manifest) -> None:
    assert manifest.media_type in MANIFEST_TYPES
    for descriptor in (*manifest.blobs, *manifest.manifests):
        assert isinstance(descriptor.size, int) and 0 <= descriptor.size < 2**63
        assert str(descriptor.digest).startswith(descriptor.digest.algorithm + ":")
    classified = formats.classify(manifest)
    assert classified.variant in formats.VARIANTS
    assert isinstance(classified.istio_pullable, bool)
    if classified.layer is not None:
        assert classified.layer in manifest.layers


@FUZZ
@given(body=any_manifest, content_type=content_types)
def test_structured_manifests_parse_or_are_refused(body: dict[str, Any], content_type: str) -> None:
    raw = json.dumps(body).encode()
    try:
        manifest = parse(raw, content_type)
    except (ManifestError, UnsupportedManifest) as exc:
        assert str(exc)  # a message a person can act on
        event("refused")
        return
    event("parsed")
    assert manifest.raw == raw
    _check(manifest)


@FUZZ
@given(raw=st.binary(max_size=300) | json_any.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes_parse_or_are_refused(raw: bytes) -> None:
    try:
        _check(parse(raw, OCI_MANIFEST))
    except (ManifestError, UnsupportedManifest):
        pass


@FUZZ
@given(raw=st.binary(max_size=400))
def test_compat_layers_of_any_bytes_are_refused_cleanly(raw: bytes) -> None:
    try:
        compat.extract_plugin([raw])
    except InvalidLayer as exc:
        assert str(exc)


@FUZZ
@given(raw=st.binary(max_size=200) | json_any.map(lambda v: json.dumps(v).encode()))
def test_runtime_configs_parse_or_are_refused(raw: bytes) -> None:
    try:
        info = formats.parse_runtime_config(raw)
    except InvalidRuntimeConfig:
        return
    assert all(isinstance(v, str) for v in info.abi_versions + info.root_ids)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with app_client(tmp_path_factory.mktemp("fuzz-manifests")) as c:
        for blob in (CONFIG, LAYER):
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            r = c.post("/v2/fuzz/m/blobs/uploads/", params={"digest": digest}, content=blob)
            assert r.status_code == 201, r.text
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=any_manifest,
    content_type=st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST, "application/json", ""]),
    tag=st.sampled_from(["v1", "x"]),
)
def test_manifest_pushes_are_stored_exactly_or_refused(
    client: TestClient, body: dict[str, Any], content_type: str, tag: str
) -> None:
    raw = json.dumps(body).encode()
    r = client.put(
        f"/v2/fuzz/m/manifests/{tag}", content=raw, headers={"Content-Type": content_type}
    )
    assert r.status_code < 500, (r.status_code, r.text, raw)
    event(f"status {r.status_code}")
    if r.status_code == 201:
        got = client.get(f"/v2/fuzz/m/manifests/{r.headers['Docker-Content-Digest']}")
        assert got.content == raw
        assert r.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(raw).hexdigest()
    else:
        assert r.status_code in (400, 404, 413, 415), r.text
        assert r.json()["errors"][0]["code"]
