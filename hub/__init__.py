"""WebAssembly Hub: an OCI registry for proxy-wasm filters."""

__version__ = "0.1.0"
