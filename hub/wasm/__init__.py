"""Reading Wasm artifacts: which of the four push formats a manifest is (formats.py), the
module inside a compat tar.gz (compat.py), and what the module itself says: validity,
exports/imports, memory, producers and its proxy-wasm ABI (inspect.py, abi.py).

Pure: bytes and parsed manifests in, facts out; no database, storage or HTTP here. Every
refusal is a `WasmArtifactError` (hub.wasm.errors) whose message a person can act on.
"""
