"""Which Wasm artifact format a manifest is, where its module is, and what its runtime config
says (FORMATS.md section 1).

Variants, by what their pullers key on:
- "wasme-oci"  (solo-io/wasm spec/spec.md): a layer `application/vnd.module.wasm.content.layer.v1
  +wasm` holding the raw module; config `application/vnd.module.wasm.config.v1+json`, which wasme
  also pushes as layers[0].
- "wasm-to-oci" (engineerd/wasm-to-oci, Harbor): layer `application/vnd.wasm.content.layer.v1
  +wasm`; config `application/vnd.wasm.config.v1+json`.
- "cncf" (cncf/tag-runtime wasm-oci-artifact.md): layer `application/wasm`; config
  `application/vnd.wasm.config.v0+json`.
- "compat" (solo-io/wasm spec/spec-compat.md): the LAST layer is a tar+gzip (OCI or Docker media
  type) holding plugin.wasm, which is what Istio picks (pkg/wasm/imagefetcher.go).
- "generic": anything else (indexes, ordinary images, other artifacts): no module to read.

Pure: a parsed hub.oci.manifest.Manifest in, a Classified out; blob bytes in, RuntimeInfo out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.oci.manifest import DOCKER_MANIFEST, Descriptor, Manifest
from hub.wasm.errors import InvalidRuntimeConfig

WASME_OCI = "wasme-oci"
COMPAT = "compat"
CNCF = "cncf"
WASM_TO_OCI = "wasm-to-oci"
GENERIC = "generic"
VARIANTS = (WASME_OCI, COMPAT, CNCF, WASM_TO_OCI, GENERIC)

WASME_CONFIG = "application/vnd.module.wasm.config.v1+json"
WASME_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"
WASM_TO_OCI_CONFIG = "application/vnd.wasm.config.v1+json"
WASM_TO_OCI_LAYER = "application/vnd.wasm.content.layer.v1+wasm"
CNCF_CONFIG = "application/vnd.wasm.config.v0+json"
CNCF_LAYER = "application/wasm"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"  # go-containerregistry OCILayer
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"  # types.DockerLayer
COMPAT_LAYERS = frozenset({OCI_LAYER_GZIP, DOCKER_LAYER_GZIP})
# spec-compat.md "Annotation": required on OCI-layer compat images.
VARIANT_ANNOTATION = "module.wasm.image/variant"
# wasme push (FORMATS.md section 1): manifest annotations mirroring the config.
ABI_ANNOTATION = "module.wasm.runtime/abi_version"
TYPE_ANNOTATION = "module.wasm.runtime/type"

# Raw-module variants: (variant, config media type, module layer media type), in the order a
# manifest matching several layer types is decided when its config names none of them.
_RAW_VARIANTS = (
    (WASME_OCI, WASME_CONFIG, WASME_LAYER),
    (WASM_TO_OCI, WASM_TO_OCI_CONFIG, WASM_TO_OCI_LAYER),
    (CNCF, CNCF_CONFIG, CNCF_LAYER),
)


@dataclass(frozen=True)
class Classified:
    variant: str
    # The blob holding the module: the raw .wasm, or (compat) the tar.gz holding plugin.wasm.
    layer: Descriptor | None
    # True when the manifest says it is Wasm (a Wasm media type, or the compat annotation).
    # False for a compat guess from shape alone: any container image has a tar+gzip last layer,
    # so a caller that finds no plugin.wasm in it should store the manifest as generic instead
    # of refusing it.
    declared: bool
    # Istio's image fetcher (pkg/wasm/imagefetcher.go) would take the module from this manifest.
    istio_pullable: bool
    reason: str  # one line on how the decision was made, for logs and the UI
    # The blob to pass to runtime_info() as config_bytes: the wasme config, only when the
    # manifest's config has wasme's media type (an oras push with a stock config has none).
    runtime_config: Descriptor | None = None

    @property
    def is_wasm(self) -> bool:
        return self.layer is not None


def istio_pullable(manifest: Manifest) -> bool:
    """Istio's PrepareFetch order, exactly: a Docker schema 2 manifest must have a Docker tar.gzip
    last layer (no fallback); otherwise an OCI tar+gzip last layer (compat), else exactly two
    layers one of which is the wasme module layer. Istio never loads application/wasm."""
    if manifest.is_index or not manifest.layers:
        return False
    last = manifest.layers[-1].media_type
    if manifest.media_type == DOCKER_MANIFEST:
        return last == DOCKER_LAYER_GZIP
    if last == OCI_LAYER_GZIP:
        return True
    return len(manifest.layers) == 2 and any(d.media_type == WASME_LAYER for d in manifest.layers)


def _first_layer(manifest: Manifest, media_type: str) -> Descriptor | None:
    return next((d for d in manifest.layers if d.media_type == media_type), None)


def classify(manifest: Manifest) -> Classified:
    """Decide the variant. A config naming a Wasm format decides first; then the module layer
    media types (which is what every puller keys on, so an oras push with a stock config still
    counts); then the compat shape; else generic."""
    pullable = istio_pullable(manifest)
    if manifest.is_index:
        return Classified(GENERIC, None, False, False, "an index: its children are classified")
    config_type = manifest.config.media_type if manifest.config else ""
    for variant, config, layer_type in _RAW_VARIANTS:
        if config_type == config:
            layer = _first_layer(manifest, layer_type)
            if layer is not None:
                reason = f"config {config_type} with a {layer_type} layer"
                runtime = manifest.config if variant == WASME_OCI else None
                return Classified(variant, layer, True, pullable, reason, runtime)
    for variant, _config, layer_type in _RAW_VARIANTS:
        layer = _first_layer(manifest, layer_type)
        if layer is not None:
            reason = f"a {layer_type} layer (config {config_type or 'none'})"
            return Classified(variant, layer, True, pullable, reason)
    if manifest.layers and manifest.layers[-1].media_type in COMPAT_LAYERS:
        last = manifest.layers[-1]
        annotated = manifest.annotations.get(VARIANT_ANNOTATION) == COMPAT
        reason = f"last layer {last.media_type}" + (
            f" and annotation {VARIANT_ANNOTATION}={COMPAT}" if annotated else ", no annotation"
        )
        return Classified(COMPAT, last, annotated, pullable, reason)
    reason = "no Wasm layer" + (
        f" (annotation {VARIANT_ANNOTATION}={COMPAT}, but the last layer is not tar+gzip)"
        if manifest.annotations.get(VARIANT_ANNOTATION) == COMPAT
        else ""
    )
    return Classified(GENERIC, None, False, pullable, reason)


@dataclass(frozen=True)
class RuntimeInfo:
    abi_versions: list[str]
    root_ids: list[str]
    type: str

    def to_json(self) -> dict[str, Any]:
        return {"abi_versions": self.abi_versions, "root_ids": self.root_ids, "type": self.type}


def _strings(value: Any, where: str) -> list[str]:
    """A list of strings; a lone string counts as one (the spec's `abi_version` example)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidRuntimeConfig(f"{where} must be a list of strings, not {json.dumps(value)}")


def _pick(obj: dict[str, Any], *keys: str) -> tuple[str, Any]:
    for key in keys:
        if key in obj:
            return key, obj[key]
    return keys[0], None


def parse_runtime_config(raw: bytes, what: str = "runtime config") -> RuntimeInfo:
    """wasme's runtime config (pkg/config/runtime.proto `Runtime`) in either spelling: jsonpb's
    camelCase as wasme writes it (`abiVersions`, `config.rootIds`) or the proto names as the
    spec's example has them (`abi_version(s)`, `config.root_ids`). Unknown fields are ignored.
    Raises InvalidRuntimeConfig when the bytes are not a JSON object or a known field has the
    wrong type."""
    try:
        body = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InvalidRuntimeConfig(f"{what} is not UTF-8 text: {exc}") from None
    except ValueError as exc:
        raise InvalidRuntimeConfig(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRuntimeConfig(f"{what} must be a JSON object, not {type(body).__name__}")
    key, value = _pick(body, "abiVersions", "abi_versions", "abi_version", "abiVersion")
    abi_versions = _strings(value, f"{what} {key}")
    config = body.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise InvalidRuntimeConfig(f"{what} config must be an object")
    key, value = _pick(config, "rootIds", "root_ids")
    root_ids = _strings(value, f"{what} config.{key}")
    runtime_type = body.get("type", "")
    if not isinstance(runtime_type, str):
        raise InvalidRuntimeConfig(f"{what} type must be a string")
    return RuntimeInfo(abi_versions, root_ids, runtime_type)


def runtime_info(
    variant: str, config_bytes: bytes | None, runtime_config: bytes | None
) -> RuntimeInfo:
    """What a variant's metadata says about the module.

    - wasme-oci: `config_bytes` is wasme's runtime config (the manifest's config blob);
    - compat: `runtime_config` is runtime-config.json from the layer (compat.extract_plugin);
      the image config says nothing about Wasm and is not read;
    - cncf, wasm-to-oci, generic: no runtime config exists; empty info.
    A missing blob gives empty info. Raises InvalidRuntimeConfig for malformed JSON.
    """
    if variant == WASME_OCI and config_bytes is not None:
        return parse_runtime_config(config_bytes, "wasme config")
    if variant == COMPAT and runtime_config is not None:
        return parse_runtime_config(runtime_config, "runtime-config.json")
    return RuntimeInfo([], [], "")
