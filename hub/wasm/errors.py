"""Errors of hub.wasm. One base class, so the push service can turn any of them into a
MANIFEST_INVALID (or BLOB_UPLOAD_INVALID) with the message as it is: every message says what is
wrong and, where it can, what to do."""

from __future__ import annotations


class WasmArtifactError(ValueError):
    """A Wasm artifact (module, runtime config or compat layer) cannot be used."""


class InvalidModule(WasmArtifactError):
    """The bytes are not a valid WebAssembly core module."""


class InvalidRuntimeConfig(WasmArtifactError):
    """A wasme config blob or a compat runtime-config.json is not usable JSON."""


class InvalidLayer(WasmArtifactError):
    """A compat layer (tar.gz) is unusable: not gzip or tar, no plugin.wasm, over a limit."""
