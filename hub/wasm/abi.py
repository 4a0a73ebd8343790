"""proxy-wasm ABI versions: the one a module declares by its exports, and the ABI strings wasme
wrote into image configs, with the meshes they were meant for.

Two vocabularies, both needed for display:
- a module's own ABI (proxy-wasm/spec abi-versions): it exports an empty function named
  `proxy_abi_version_0_1_0`, `proxy_abi_version_0_2_0` or `proxy_abi_version_0_2_1`; modules
  built against envoy-wasm before the spec (2019-2020) export `proxy_on_*` callbacks and no
  marker at all (reported as UNVERSIONED);
- wasme's `abiVersions` (solo-io/wasm tools/wasme/pkg/abi/abi.go, its DefaultRegistry): an
  envoy-wasm commit (`v0-<sha>`) or an Envoy release of the ABI (`v0.2.1`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# proxy-wasm/spec: export name -> ABI version.
ABI_EXPORTS = {
    "proxy_abi_version_0_1_0": "0.1.0",
    "proxy_abi_version_0_2_0": "0.2.0",
    "proxy_abi_version_0_2_1": "0.2.1",
}
UNVERSIONED = "unversioned"
CALLBACK_PREFIX = "proxy_on_"


def module_abi_versions(function_exports: Iterable[str]) -> tuple[str, ...]:
    """The proxy-wasm ABI versions a module declares, oldest first ('0.1.0', '0.2.0', '0.2.1'),
    or (UNVERSIONED,) for a module with proxy_on_* callbacks and no marker, or () when the module
    is not a proxy-wasm filter. Pass the names of function exports only."""
    names = set(function_exports)
    versions = sorted(
        (v for name, v in ABI_EXPORTS.items() if name in names),
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )
    if versions:
        return tuple(versions)
    if any(name.startswith(CALLBACK_PREFIX) for name in names):
        return (UNVERSIONED,)
    return ()


def describe_module_abi(version: str) -> str:
    """'0.2.1' -> 'proxy-wasm ABI 0.2.1'; UNVERSIONED -> a phrase saying what that means."""
    if version == UNVERSIONED:
        return "pre-spec proxy-wasm ABI (envoy-wasm 2019-2020, no proxy_abi_version export)"
    return f"proxy-wasm ABI {version}"


@dataclass(frozen=True)
class WasmeAbi:
    """One entry of wasme's ABI registry: the string in image configs and who ran it."""

    name: str
    meshes: str  # for display, e.g. "Istio 1.7–1.9"
    repository: str
    commit: str


_ENVOY_WASM = "https://github.com/envoyproxy/envoy-wasm"
# solo-io/wasm tools/wasme/pkg/abi/abi.go DefaultRegistry, latest version (FORMATS.md section 1),
# plus the two strings earlier wasme releases wrote (Istio 1.4; Istio 1.5 / Gloo 1.3).
WASME_ABIS = {
    abi.name: abi
    for abi in (
        WasmeAbi(
            "v0-6d525c67f39b36cdff9d688697f266c1b55e9cb7",
            "Istio 1.4",
            "https://github.com/istio/envoy",
            "6d525c67f39b36cdff9d688697f266c1b55e9cb7",
        ),
        WasmeAbi(
            "v0-541b2c1155fffb15ccde92b8324f3e38f7339ba6",
            "Gloo 1.3, early Istio 1.5",
            "https://github.com/yuval-k/envoy-wasm",
            "541b2c1155fffb15ccde92b8324f3e38f7339ba6",
        ),
        WasmeAbi(
            "v0-097b7f2e4cc1fb490cc1943d0d633655ac3c522f",
            "Istio 1.5–1.6",
            _ENVOY_WASM,
            "097b7f2e4cc1fb490cc1943d0d633655ac3c522f",
        ),
        WasmeAbi(
            "v0-edc016b1fa5adca3ebd3d7020eaed0ad7b8814ca",
            "Gloo 1.5",
            _ENVOY_WASM,
            "edc016b1fa5adca3ebd3d7020eaed0ad7b8814ca",
        ),
        # "Precursor to ABI v0_2_0" (abi.go)
        WasmeAbi(
            "v0-4689a30309abf31aee9ae36e73d34b1bb182685f",
            "Istio 1.7–1.9",
            _ENVOY_WASM,
            "4689a30309abf31aee9ae36e73d34b1bb182685f",
        ),
        WasmeAbi(
            "v0.2.1",
            "Gloo 1.6",
            "https://github.com/envoyproxy/envoy",
            "2758575b9a02f935245fe8a3b08af0a8c14994dc",
        ),
    )
}


def mesh_label(wasme_abi: str) -> str | None:
    """Which meshes a wasme ABI string was for ('v0-4689a…' -> 'Istio 1.7–1.9'); None when the
    string is not one wasme ever shipped."""
    known = WASME_ABIS.get(wasme_abi.strip())
    return known.meshes if known else None
