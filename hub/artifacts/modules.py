"""Understanding a pushed manifest: which Wasm variant it is, what its module is, and what it
says about its repository. Runs before anything is written, so an invalid module refuses the
push (MANIFEST_INVALID) and nothing is tagged. Reads blobs through storage; pure otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.artifacts.metadata import README_LIMIT, from_annotations, readme_layer
from hub.db.models import WasmModule
from hub.oci.digest import Digest
from hub.oci.errors import ManifestInvalid
from hub.oci.manifest import Manifest
from hub.storage import BlobNotFound, Storage
from hub.storage.paths import blob_key
from hub.wasm import compat, formats
from hub.wasm.errors import WasmArtifactError
from hub.wasm.inspect import inspect

MAX_MODULE_BYTES = 64 * 1024 * 1024
MAX_CONFIG_BYTES = 1024 * 1024
# (module bytes, root ids, the module's own ABI versions) -> {"ok", "reason", "abi"}: would a
# proxy-wasm 0.2.x host load it (hub.playground.service.PlaygroundService.load_check)?
LoadCheck = Callable[[bytes, Sequence[str], Sequence[str]], dict[str, Any]]


@dataclass
class Analysis:
    metadata: dict[str, str] = field(default_factory=dict)
    module: WasmModule | None = None
    # Bytes of a module that lives inside another blob (compat tar.gz): stored on its own,
    # under its sha256, so it can be served by that digest to Envoy's http(s) sources.
    extracted: bytes | None = None


def _label(version: str) -> str:
    # proxy-wasm ABI "0.2.1" from a module's exports is wasme's and Gloo's "v0.2.1".
    return version if version.startswith("v") or not version[0].isdigit() else f"v{version}"


class ModuleAnalyzer:
    def __init__(self, storage: Storage, max_module_bytes: int = MAX_MODULE_BYTES) -> None:
        self.storage = storage
        self.max_module_bytes = max_module_bytes
        self.load_check: LoadCheck | None = None  # set by hub.services when enabled

    def _read(self, digest: Digest, limit: int) -> bytes:
        data = bytearray()
        for chunk in self.storage.read(blob_key(digest)):
            data.extend(chunk)
            if len(data) > limit:
                raise ManifestInvalid(
                    {"digest": str(digest)}, f"blob {digest} is over {limit} bytes"
                )
        return bytes(data)

    def analyze(self, manifest: Manifest, manifest_digest: Digest) -> Analysis:
        analysis = Analysis(metadata=from_annotations(manifest))
        readme = readme_layer(manifest)
        if readme is not None:
            try:
                text = self._read(Digest.parse(readme[0]), README_LIMIT)
                analysis.metadata["readme"] = text.decode("utf-8", errors="replace")
            except BlobNotFound:
                pass
        classified = formats.classify(manifest)
        if classified.layer is None:
            return analysis
        layer = classified.layer
        where = f"layer {layer.digest}"
        try:
            runtime_config: bytes | None = None
            if classified.variant == formats.COMPAT:
                data, runtime_config = compat.extract_plugin(
                    self.storage.read(blob_key(layer.digest)),
                    max_wasm_bytes=self.max_module_bytes,
                )
                analysis.extracted = data
            else:
                if layer.size > self.max_module_bytes:
                    raise ManifestInvalid(
                        {"digest": str(layer.digest)},
                        f"{where} is {layer.size} bytes; modules up to "
                        f"{self.max_module_bytes} bytes are accepted",
                    )
                data = self._read(layer.digest, self.max_module_bytes)
            facts = inspect(data)
            config = None
            if classified.runtime_config is not None:
                config = self._read(classified.runtime_config.digest, MAX_CONFIG_BYTES)
            info = formats.runtime_info(classified.variant, config, runtime_config)
        except WasmArtifactError as exc:
            if not classified.declared:
                # Any container image has a tar+gzip last layer; without the compat annotation
                # an unusable plugin.wasm (or none) just means "not a filter": store it as is.
                return analysis
            raise ManifestInvalid(
                {"digest": str(layer.digest), "variant": classified.variant},
                f"{where} is not a usable WebAssembly module: {exc}",
            ) from None
        if layer.digest.algorithm != "sha256":
            # Downloads name a module by the sha256 of its bytes: keep a copy under that name.
            analysis.extracted = data
        abis = list(dict.fromkeys([*info.abi_versions, *(_label(v) for v in facts.proxy_abi)]))
        extra: dict[str, Any] = {}
        if self.load_check is not None:
            extra["load_check"] = self.load_check(data, info.root_ids, facts.proxy_abi)
        analysis.module = WasmModule(
            manifest_digest=str(manifest_digest),
            variant=classified.variant,
            layer_digest=str(layer.digest),
            module_sha256=facts.sha256,
            module_size=facts.size,
            abi_versions=",".join(abis),
            root_ids=",".join(info.root_ids),
            runtime_type=info.type,
            toolchain=facts.toolchain or "",
            facts=json.dumps(
                {
                    **facts.to_json(),
                    "istio_pullable": classified.istio_pullable,
                    "classified_by": classified.reason,
                    **extra,
                }
            ),
        )
        return analysis
