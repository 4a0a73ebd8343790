"""The deploy service: resolve a repository and ref to a stored filter, check the options
against the target, render, and judge compatibility. The JSON API and `wasm-hub deploy` both
call render(), so they print the same thing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hub.artifacts.details import DetailsService
from hub.db.models import Repository, WasmModule
from hub.deploy.base import (
    DeployArtifact,
    DeployError,
    Document,
    NotAFilter,
    Target,
    all_targets,
    default_name,
    target,
)
from hub.deploy.compat import Compatibility
from hub.deploy.options import Options, parse_options
from hub.deploy.output import to_yaml
from hub.oci.digest import Digest, InvalidDigest
from hub.oci.reference import valid_name, valid_tag


def _label(version: str) -> str:
    # hub.artifacts.modules stores the module's own ABI "0.2.0" as "v0.2.0" next to the
    # declared ones; tell them apart again.
    return version if version.startswith("v") or not version[:1].isdigit() else f"v{version}"


def make_artifact(
    repository: Repository, ref: str, digest: str, module: WasmModule | None, base_url: str
) -> DeployArtifact:
    if module is None:
        raise NotAFilter(
            f"{repository.name}@{digest} is not a Wasm filter: no WebAssembly module layer "
            "(an image index, an ordinary image or another artifact); deploy a manifest that "
            "carries a module",
            {"repository": repository.name, "digest": digest},
        )
    facts: dict[str, Any] = json.loads(module.facts or "{}")
    own = tuple(str(v) for v in facts.get("proxy_abi", ()))
    labels = {_label(v) for v in own}
    declared = tuple(v for v in module.abi_versions.split(",") if v and v not in labels)
    return DeployArtifact(
        repository=repository.name,
        ref=ref,
        manifest_digest=digest,
        variant=module.variant,
        module_sha256=module.module_sha256,
        module_size=module.module_size,
        root_ids=tuple(r for r in module.root_ids.split(",") if r),
        declared_abi=declared,
        module_abi=own,
        istio_pullable=bool(facts.get("istio_pullable")),
        base_url=base_url.rstrip("/"),
        private=repository.private,
    )


@dataclass
class DeployResult:
    target: str
    artifact: DeployArtifact
    documents: list[Document]
    warnings: list[str]
    compatibility: Compatibility
    header: list[str]  # comment lines above the first document

    def to_json(self) -> dict[str, Any]:
        a = self.artifact
        return {
            "target": self.target,
            "artifact": {
                "repository": a.repository,
                "ref": a.ref,
                "digest": a.manifest_digest,
                "variant": a.variant,
                "module_sha256": a.module_sha256,
                "module_size": a.module_size,
                "root_ids": list(a.root_ids),
            },
            "documents": [d.body for d in self.documents],
            "warnings": self.warnings,
            "compatibility": self.compatibility.to_json(),
        }

    def to_yaml(self) -> str:
        return to_yaml(self.header, self.documents)


def _header(
    t: Target,
    artifact: DeployArtifact,
    options: Options,
    warnings: list[str],
    compat: Compatibility,
) -> list[str]:
    source = t.source(artifact)
    lines = [
        f"WebAssembly Hub: {artifact.repository} ({artifact.ref}) for {t.summary}",
        f"manifest {artifact.manifest_digest} ({artifact.variant}); module sha256:"
        f"{artifact.module_sha256}, {artifact.module_size} bytes",
    ]
    if source is not None:
        lines.append(f"module source: {source.url}")
    if compat.compatible:
        lines.append(
            f"compatible: proxy-wasm ABI {', '.join(compat.module_abi)} runs on {compat.target}"
            + (f" {compat.version}" if compat.version else "")
        )
    else:
        lines += [f"INCOMPATIBLE: {p}" for p in compat.problems]
        lines += [f"would work: {s}" for s in compat.suggestions]
        if compat.works_with:
            lines.append(f"targets that take this module as is: {', '.join(compat.works_with)}")
    lines += [f"note: {n}" for n in compat.notes]
    lines += [f"WARNING: {w}" for w in warnings]
    if options.pull_secret and source is not None and source.kind in ("oci", "image"):
        ns = f" -n {options.namespace}" if options.namespace else ""
        lines += [
            f"pull secret: create {options.pull_secret!r} before applying (a hub user and an "
            "API token with the pull scope):",
            f"  kubectl create secret docker-registry {options.pull_secret}{ns} "
            f"--docker-server={artifact.registry_host} --docker-username=<hub user> "
            "--docker-password=<hub API token>",
        ]
    return lines


def check_reference(repository: str, ref: str) -> None:
    if not valid_name(repository):
        raise DeployError(f"{repository!r} is not a repository name", {"repository": repository})
    if ":" in ref:
        try:
            Digest.parse(ref)
        except InvalidDigest as exc:
            raise DeployError(f"ref {ref!r}: {exc}", {"ref": ref}) from None
    elif not valid_tag(ref):
        raise DeployError(f"{ref!r} is neither a tag nor a digest", {"ref": ref})


class DeployService:
    def __init__(self, details: DetailsService, base_url: str) -> None:
        self.details = details
        self.base_url = base_url

    def artifact(
        self, repository: str, ref: str, visible: set[int] | None = None
    ) -> DeployArtifact:
        """NameUnknown / ManifestUnknown when missing, NotAFilter for a non-Wasm artifact."""
        digest, module, repo = self.details.resolve(repository, ref, visible)
        return make_artifact(repo, ref, digest, module, self.base_url)

    def render(
        self,
        repository: str,
        ref: str,
        target_name: str,
        raw_options: Mapping[str, Sequence[str]],
        visible: set[int] | None = None,
    ) -> DeployResult:
        # The request's own mistakes first: they need no database.
        check_reference(repository, ref)
        t = target(target_name)
        options = parse_options(t, raw_options)
        artifact = self.artifact(repository, ref, visible)
        warnings: list[str] = []
        if options.name is None:
            options = replace(options, name=default_name(artifact.repository))
        if options.root_id is None and artifact.root_ids:
            options = replace(options, root_id=artifact.root_ids[0])
            if len(artifact.root_ids) > 1:
                warnings.append(
                    f"the module registers root ids {', '.join(artifact.root_ids)}; using "
                    f"{artifact.root_ids[0]} (pass root_id= for another)"
                )
        elif options.root_id is None:
            warnings.append(
                f"the {artifact.variant} artifact names no root id; none is set — pass "
                "root_id=<id> if the filter registers one (AssemblyScript filters do)"
            )
        rendered = t.render(artifact, options)
        warnings += rendered.warnings
        source = t.source(artifact)
        if artifact.private and source is not None:
            if source.kind == "http":
                warnings.append(
                    "the repository is private: the hub's plain HTTP module download answers "
                    "404 to anonymous callers, and the proxy cannot authenticate"
                )
            elif not options.pull_secret:
                warnings.append(
                    "the repository is private: pass pull_secret=<secret name> and create it "
                    "(the output then says how)"
                )
        if source is not None and source.kind != "http" and artifact.base_url.startswith("http:"):
            warnings.append(
                f"the hub is served over plain HTTP ({artifact.base_url}) and image pullers "
                f"expect HTTPS: mark {artifact.registry_host} as an insecure registry (Istio: "
                "WASM_INSECURE_REGISTRIES on istio-agent), or serve the hub over HTTPS"
            )
        compat = t.compatibility(artifact, options)
        compat.works_with = [
            other.name
            for other in all_targets()
            if other.compatibility(artifact, Options()).compatible
        ]
        header = _header(t, artifact, options, warnings, compat)
        return DeployResult(t.name, artifact, rendered.documents, warnings, compat, header)
