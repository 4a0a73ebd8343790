"""Will this module run on that mesh? Two questions: can the mesh fetch the stored variant
(FORMATS.md section 1, "What the meshes can pull"), and does its Envoy run the module's
proxy-wasm ABI.

The module's own exports decide the ABI (hub.wasm.abi): `proxy_abi_version_0_1_0`, `_0_2_0`,
`_0_2_1`. The ABI strings wasme wrote into runtime configs only tell which mesh the author had
in mind; they are reported, not enforced. Current Envoy (proxy-wasm-cpp-host) runs all three
spec versions; pre-spec modules (no marker, envoy-wasm 2019-2020) ran only on Istio 1.5-1.8
and Gloo 1.3-1.5 through wasme, which no target here emits for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.deploy.base import DeployArtifact, ModuleSource
from hub.deploy.options import Options, Version
from hub.wasm.abi import UNVERSIONED, describe_module_abi, mesh_label

SPEC_ABIS = ("0.1.0", "0.2.0", "0.2.1")
# proxy-wasm 0.2.1 reached Envoy through proxy-wasm-cpp-host in the 1.18 cycle.
WITHOUT_021 = ("0.1.0", "0.2.0")


@dataclass
class Compatibility:
    target: str
    version: str | None
    compatible: bool
    module_abi: list[str]
    declared_abi: list[dict[str, str | None]]
    supported_abi: list[str]
    source: str | None  # oci | image | http; None: the target cannot fetch this variant
    problems: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    works_with: list[str] = field(default_factory=list)  # targets that would take it as is

    def to_json(self) -> dict[str, Any]:
        return {
            "compatible": self.compatible,
            "target": self.target,
            "version": self.version,
            "module_abi": self.module_abi,
            "declared_abi": self.declared_abi,
            "supported_abi": self.supported_abi,
            "source": self.source,
            "problems": self.problems,
            "suggestions": self.suggestions,
            "notes": self.notes,
            "works_with": self.works_with,
        }


def check(
    target: str,
    version: object | None,
    supported: tuple[str, ...],
    artifact: DeployArtifact,
    source: ModuleSource | None,
    cannot_fetch: str = "",
) -> Compatibility:
    """The common verdict; `cannot_fetch` says why when `source` is None."""
    where = f"{target} {version}" if version is not None else target
    problems: list[str] = []
    suggestions: list[str] = []
    notes: list[str] = []
    own = list(artifact.module_abi)
    if not own:
        problems.append(
            "the module exports neither proxy_abi_version_* nor proxy_on_* functions: "
            "it is not a proxy-wasm filter"
        )
        suggestions.append("build the module with a proxy-wasm SDK")
    elif not set(own) & set(supported):
        names = ", ".join(describe_module_abi(v) for v in own)
        problems.append(
            f"{where} runs proxy-wasm ABI {', '.join(supported)}; the module has {names}"
        )
        if UNVERSIONED in own:
            suggestions.append(
                "rebuild the filter with a current proxy-wasm SDK (ABI 0.2.x); a pre-spec "
                "module ran only on Istio 1.5-1.8 and Gloo 1.3-1.5 through wasme"
            )
        else:
            suggestions.append(f"use a newer {target} release")
    if source is None:
        problems.append(cannot_fetch or f"{target} cannot fetch the {artifact.variant} variant")
    declared: list[dict[str, str | None]] = []
    for abi in artifact.declared_abi:
        if abi.startswith("v0-"):  # wasme's envoy-wasm commit strings name a mesh
            label = mesh_label(abi)
            declared.append({"abi": abi, "meshes": label})
            if own and not problems:
                notes.append(
                    f"the runtime config declares ABI {abi} ({label or 'unknown to wasme'}); "
                    f"the module's own exports ({', '.join(own)}) are what {target} checks"
                )
    return Compatibility(
        target=target,
        version=str(version) if version is not None else None,
        compatible=not problems,
        module_abi=own,
        declared_abi=declared,
        supported_abi=list(supported),
        source=source.kind if source else None,
        problems=problems,
        suggestions=suggestions,
        notes=notes,
    )


class FetchedOverHttp:
    """A target whose Envoy fetches the module from the hub's plain HTTP URL, pinned by its
    sha256 (envoy, istio_legacy, consul, kuma). `first_021` is the target's first release
    whose Envoy runs ABI 0.2.1 (None: every release the target supports does)."""

    name: str
    first_021: Version | None = None

    def source(self, artifact: DeployArtifact) -> ModuleSource:
        return ModuleSource.http(artifact)

    def compatibility(self, artifact: DeployArtifact, options: Options) -> Compatibility:
        version, first = options.version, self.first_021
        early = first is not None and version is not None and version < first
        abis = WITHOUT_021 if early else SPEC_ABIS
        return check(self.name, version, abis, artifact, self.source(artifact))


def istio_like_source(artifact: DeployArtifact) -> ModuleSource:
    """Istio's image fetcher (and its copies in Envoy Gateway and Higress): oci:// when it can
    read the stored variant, else the hub's plain HTTP URL, which every one of them takes."""
    if artifact.istio_pullable and artifact.manifest_hex:
        return ModuleSource.oci(artifact)
    return ModuleSource.http(artifact)


def http_fallback_note(mesh: str, artifact: DeployArtifact) -> list[str]:
    if artifact.istio_pullable:
        return []
    return [
        f"{mesh} cannot load the stored {artifact.variant} image (its fetcher takes Docker/OCI "
        "tar+gzip layers with plugin.wasm or the wasme layer, never application/wasm); the "
        "hub's plain HTTP module URL, pinned by the module's sha256, is used instead"
    ]
