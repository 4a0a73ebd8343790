"""hub.wasm.formats: each push format's manifest classified (FORMATS.md section 1, Istio's
pkg/wasm/imagefetcher.go), and runtime configs read in both spellings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.oci import manifest as oci
from hub.wasm import formats
from hub.wasm.errors import InvalidRuntimeConfig, WasmArtifactError
from hub.wasm.formats import classify, parse_runtime_config, runtime_info
from tests.support.artifacts import ABI_ISTIO_17, wasme_config

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
TITLE = "org.opencontainers.image.title"


def desc(media_type: str, n: int, **annotations: str) -> dict[str, Any]:
    d: dict[str, Any] = {"mediaType": media_type, "digest": "sha256:" + f"{n:x}" * 64, "size": n}
    if annotations:
        d["annotations"] = annotations
    return d


def parse(body: dict[str, Any], content_type: str = oci.OCI_MANIFEST) -> oci.Manifest:
    return oci.parse(json.dumps(body).encode(), content_type)


def image(config: str, layers: list[dict[str, Any]], **annotations: str) -> oci.Manifest:
    body: dict[str, Any] = {"schemaVersion": 2, "config": desc(config, 1), "layers": layers}
    if annotations:
        body["annotations"] = annotations
    return parse(body)


def wasme_manifest() -> oci.Manifest:
    """As wasme pushes it: no mediaType in the body, the config twice, titles, annotations."""
    config = desc(formats.WASME_CONFIG, 1, **{TITLE: "runtime-config.json"})
    return parse(
        {
            "schemaVersion": 2,
            "config": config,
            "layers": [config, desc(formats.WASME_LAYER, 2, **{TITLE: "filter.wasm"})],
            "annotations": {
                formats.ABI_ANNOTATION: ABI_ISTIO_17,
                formats.TYPE_ANNOTATION: "envoy_proxy",
            },
        }
    )


def test_wasme_oci() -> None:
    m = wasme_manifest()
    c = classify(m)
    assert c.variant == "wasme-oci"
    assert c.layer is m.layers[1] and c.layer.media_type == formats.WASME_LAYER
    assert c.runtime_config is m.config
    assert c.declared and c.istio_pullable and c.is_wasm


def test_wasme_layer_with_a_stock_config() -> None:
    """e.g. `oras push` with the wasme layer type: the module is there, the config is not a
    wasme runtime config, so runtime_info() must not be given it."""
    m = image(OCI_CONFIG, [desc(formats.WASME_LAYER, 2)])
    c = classify(m)
    assert c.variant == "wasme-oci" and c.layer is m.layers[0]
    assert c.runtime_config is None
    assert not c.istio_pullable  # Istio wants exactly two layers for this variant


def test_compat_oci_with_annotation() -> None:
    m = image(
        OCI_CONFIG,
        [desc(formats.OCI_LAYER_GZIP, 2)],
        **{formats.VARIANT_ANNOTATION: "compat"},
    )
    c = classify(m)
    assert c.variant == "compat" and c.layer is m.layers[0]
    assert c.declared and c.istio_pullable and c.runtime_config is None
    assert "annotation" in c.reason


def test_compat_by_shape_is_not_declared() -> None:
    c = classify(image(OCI_CONFIG, [desc(formats.OCI_LAYER_GZIP, 2)]))
    assert c.variant == "compat" and not c.declared and c.istio_pullable


def test_compat_takes_the_last_layer() -> None:
    m = image(
        OCI_CONFIG,
        [desc(formats.OCI_LAYER_GZIP, 2), desc(formats.OCI_LAYER_GZIP, 3)],
        **{formats.VARIANT_ANNOTATION: "compat"},
    )
    assert classify(m).layer is m.layers[-1]


def test_compat_docker() -> None:
    body = {
        "schemaVersion": 2,
        "mediaType": oci.DOCKER_MANIFEST,
        "config": desc(DOCKER_CONFIG, 1),
        "layers": [desc(formats.DOCKER_LAYER_GZIP, 2)],
    }
    m = parse(body, oci.DOCKER_MANIFEST)
    c = classify(m)
    assert c.variant == "compat" and c.layer is m.layers[0] and c.istio_pullable


def test_mixed_media_types_are_compat_but_not_for_istio() -> None:
    """Istio: a Docker manifest needs a Docker layer, an OCI one an OCI layer (no fallback)."""
    docker = parse(
        {
            "schemaVersion": 2,
            "mediaType": oci.DOCKER_MANIFEST,
            "config": desc(DOCKER_CONFIG, 1),
            "layers": [desc(formats.OCI_LAYER_GZIP, 2)],
        },
        oci.DOCKER_MANIFEST,
    )
    ocimixed = image(OCI_CONFIG, [desc(formats.DOCKER_LAYER_GZIP, 2)])
    for m in (docker, ocimixed):
        c = classify(m)
        assert c.variant == "compat" and not c.istio_pullable


def test_cncf() -> None:
    m = image(formats.CNCF_CONFIG, [desc(formats.CNCF_LAYER, 2)])
    c = classify(m)
    assert c.variant == "cncf" and c.layer is m.layers[0] and c.declared
    assert not c.istio_pullable  # Istio does not load application/wasm


def test_wasm_to_oci() -> None:
    m = image(formats.WASM_TO_OCI_CONFIG, [desc(formats.WASM_TO_OCI_LAYER, 2)])
    c = classify(m)
    assert c.variant == "wasm-to-oci" and c.layer is m.layers[0] and not c.istio_pullable


def test_config_decides_between_layer_types() -> None:
    layers = [desc(formats.WASME_LAYER, 2), desc(formats.CNCF_LAYER, 3)]
    assert classify(image(formats.CNCF_CONFIG, layers)).variant == "cncf"
    assert classify(image(OCI_CONFIG, layers)).variant == "wasme-oci"


@pytest.mark.parametrize(
    "m",
    [
        image(OCI_CONFIG, [desc("application/vnd.oci.image.layer.v1.tar+zstd", 2)]),
        image(OCI_CONFIG, []),
        image(
            "application/vnd.cncf.helm.config.v1+json",
            [desc("application/vnd.cncf.helm.chart.content.v1.tar+gzip", 2)],
        ),
        parse(
            {"schemaVersion": 2, "manifests": [desc(oci.OCI_MANIFEST, 1)]},
            oci.OCI_INDEX,
        ),
    ],
    ids=["zstd-image", "no-layers", "helm-chart", "index"],
)
def test_generic(m: oci.Manifest) -> None:
    c = classify(m)
    assert c.variant == "generic" and c.layer is None and not c.is_wasm and not c.declared


def test_compat_annotation_on_an_unusable_layer_says_so() -> None:
    c = classify(
        image(
            OCI_CONFIG,
            [desc("application/vnd.oci.image.layer.v1.tar", 2)],
            **{formats.VARIANT_ANNOTATION: "compat"},
        )
    )
    assert c.variant == "generic" and "not tar+gzip" in c.reason


def test_every_variant_is_a_model_value() -> None:
    assert set(formats.VARIANTS) == {"wasme-oci", "compat", "cncf", "wasm-to-oci", "generic"}


# --- runtime configs ------------------------------------------------------------------------


def test_wasme_camel_case() -> None:
    info = runtime_info("wasme-oci", wasme_config(), None)
    assert info.abi_versions == [ABI_ISTIO_17]
    assert info.root_ids == ["add_header"]
    assert info.type == "envoy_proxy"
    assert json.loads(json.dumps(info.to_json()))["root_ids"] == ["add_header"]


def test_spec_spelling() -> None:
    """spec/spec.md's example: a lone `abi_version` string and `config.root_ids`."""
    raw = json.dumps(
        {
            "type": "envoy_proxy",
            "abi_version": "v0-541b2c1155fffb15ccde92b8324f3e38f7339ba6",
            "config": {"root_ids": ["add_header_root_id"]},
        },
        indent=2,
    ).encode()
    info = runtime_info("wasme-oci", raw, None)
    assert info.abi_versions == ["v0-541b2c1155fffb15ccde92b8324f3e38f7339ba6"]
    assert info.root_ids == ["add_header_root_id"]


def test_proto_names_plural_and_unknown_fields() -> None:
    raw = json.dumps(
        {
            "type": "envoy_proxy",
            "abi_versions": ["v0.2.1", "v0-4689a30309abf31aee9ae36e73d34b1bb182685f"],
            "config": {"root_ids": ["a", "b"], "future": {"x": 1}},
            "something_new": [1, 2],
        }
    ).encode()
    info = parse_runtime_config(raw)
    assert info.abi_versions == ["v0.2.1", "v0-4689a30309abf31aee9ae36e73d34b1bb182685f"]
    assert info.root_ids == ["a", "b"]


def test_compat_reads_runtime_config_json_not_the_image_config() -> None:
    image_config = json.dumps({"architecture": "amd64", "config": {"Env": []}}).encode()
    info = runtime_info("compat", image_config, wasme_config(root_ids=("r1",)))
    assert info.root_ids == ["r1"] and info.abi_versions == [ABI_ISTIO_17]
    assert runtime_info("compat", image_config, None).root_ids == []


@pytest.mark.parametrize("variant", ["cncf", "wasm-to-oci", "generic", "wasme-oci"])
def test_no_runtime_config(variant: str) -> None:
    info = runtime_info(variant, b"{}" if variant != "wasme-oci" else None, None)
    assert (info.abi_versions, info.root_ids, info.type) == ([], [], "")


def test_minimal_and_bom() -> None:
    assert parse_runtime_config(b"{}").type == ""
    assert parse_runtime_config(b'{"config": null}').root_ids == []
    bom = b"\xef\xbb\xbf" + wasme_config()
    assert parse_runtime_config(bom).root_ids == ["add_header"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "wasme config is not valid JSON"),
        (b'{"type": "envoy_proxy",', "wasme config is not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[]", "must be a JSON object, not list"),
        (b'{"abiVersions": 5}', "wasme config abiVersions must be a list of strings, not 5"),
        (b'{"abiVersions": ["a", 1]}', "must be a list of strings"),
        (b'{"config": {"rootIds": {"a": 1}}}', "wasme config config.rootIds must be a list"),
        (b'{"config": []}', "config must be an object"),
        (b'{"type": 3}', "type must be a string"),
    ],
)
def test_malformed_runtime_config(raw: bytes, message: str) -> None:
    with pytest.raises(InvalidRuntimeConfig) as caught:
        runtime_info("wasme-oci", raw, None)
    assert message in str(caught.value)
    assert isinstance(caught.value, WasmArtifactError)
