"""One module pushed with oras-py as `oras push <ref> module:<layer type> --config
config:<config type>` does: the CNCF and wasm-to-oci variants, and wasme-shaped pushes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import oras.provider
import requests


def push_module(
    registry: oras.provider.Registry,
    target: str,
    wasm: bytes,
    layer_type: str,
    config: bytes,
    config_type: str,
    workdir: Path,
    **options: Any,
) -> requests.Response:
    """Write ``wasm`` (as filter.wasm, the layer's title) and ``config`` into ``workdir`` and
    push them to ``target``; returns oras-py's answer to the manifest PUT (it raises on a
    refused blob). ``options`` go to ``Registry.push`` (manifest_annotations, ...)."""
    workdir.mkdir(parents=True, exist_ok=True)
    module = workdir / "filter.wasm"
    module.write_bytes(wasm)
    config_file = workdir / "config.json"
    config_file.write_bytes(config)
    response: requests.Response = registry.push(
        target=target,
        files=[f"{module}:{layer_type}"],
        manifest_config=f"{config_file}:{config_type}",
        # the files live outside the working directory, which oras-py refuses by default
        disable_path_validation=True,
        quiet=True,
        **options,
    )
    return response
