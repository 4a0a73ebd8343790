"""Istio 1.12+: extensions.istio.io/v1alpha1 WasmPlugin; from Istio 1.30 on, TrafficExtension
(spec.wasm holds the module fields). Shapes from istio/api kubernetes/customresourcedefinitions
.gen.yaml (shared/schemas/istio-*-crd.yaml):

- `url` oci://host/repo@sha256:... with `sha256` = manifest digest hex, or http(s):// with the
  sha256 of the .wasm (FORMATS.md section 4);
- `selector.matchLabels` or `targetRefs` (1.22+), one of the two (CEL rule in the CRD);
- `type` HTTP/NETWORK from 1.20; `phase`; `priority` int32; `failStrategy`;
  `imagePullSecret`; `match[].ports[].number`.
"""

from __future__ import annotations

from typing import Any

from hub.deploy import options as opt
from hub.deploy.base import (
    NETWORK_FILTER,
    BadOption,
    DeployArtifact,
    Document,
    ModuleSource,
    Rendered,
    Target,
    metadata,
)
from hub.deploy.compat import SPEC_ABIS, Compatibility, check, http_fallback_note, istio_like_source
from hub.deploy.options import Options, Version

API_VERSION = "extensions.istio.io/v1alpha1"
TRAFFIC_EXTENSION_SINCE = Version(1, 30)
TARGET_REFS_SINCE = Version(1, 22)
TYPE_SINCE = Version(1, 20)
PHASES = ("AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE")
REF_KINDS = {"Gateway": "gateway.networking.k8s.io", "Service": ""}


class Istio:
    name = "istio"
    summary = "Istio 1.12+ WasmPlugin (TrafficExtension from 1.30)"
    options = (
        opt.NAME,
        opt.namespace("istio-system"),
        opt.SELECTOR,
        opt.target_ref(REF_KINDS),
        opt.ROOT_ID,
        opt.CONFIG,
        opt.phase(PHASES),
        opt.PRIORITY,
        opt.FAIL_OPEN,
        opt.PULL_SECRET,
        opt.PORTS,
        opt.filter_type(),
        opt.version("Istio", "1.12"),
    )

    def source(self, artifact: DeployArtifact) -> ModuleSource:
        return istio_like_source(artifact)

    def compatibility(self, artifact: DeployArtifact, options: Options) -> Compatibility:
        result = check(self.name, options.version, SPEC_ABIS, artifact, self.source(artifact))
        result.notes += http_fallback_note("Istio", artifact)
        return result

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        version = options.version
        if version is not None and options.target_refs and version < TARGET_REFS_SINCE:
            raise BadOption(
                f"target_ref needs Istio {TARGET_REFS_SINCE} or later; use selector on {version}",
                {"option": "target_ref"},
            )
        if version is not None and options.type == NETWORK_FILTER and version < TYPE_SINCE:
            raise BadOption(f"type=NETWORK needs Istio {TYPE_SINCE} or later", {"option": "type"})
        source = self.source(artifact)
        module: dict[str, Any] = {"url": source.url}
        if source.sha256:
            module["sha256"] = source.sha256
        if options.root_id:
            module["pluginName"] = options.root_id
        if options.config is not None:
            module["pluginConfig"] = options.config.as_object(self.name)
        if options.fail_open is not None:
            module["failStrategy"] = "FAIL_OPEN" if options.fail_open else "FAIL_CLOSE"
        if options.pull_secret:
            module["imagePullSecret"] = options.pull_secret
        if options.type == NETWORK_FILTER or (version is not None and version >= TYPE_SINCE):
            module["type"] = options.type

        placement: dict[str, Any] = {}
        if options.selector:
            placement["selector"] = {"matchLabels": dict(options.selector)}
        if options.target_refs:
            placement["targetRefs"] = [
                {"group": r.group, "kind": r.kind, "name": r.name} for r in options.target_refs
            ]
        ordering: dict[str, Any] = {}
        traffic_extension = version is not None and version >= TRAFFIC_EXTENSION_SINCE
        if options.phase:
            phase = options.phase
            if traffic_extension and phase == "UNSPECIFIED_PHASE":
                phase = "UNSPECIFIED"  # TrafficExtension renamed the zero value
            ordering["phase"] = phase
        if options.priority is not None:
            ordering["priority"] = options.priority
        if options.ports:
            ordering["match"] = [{"ports": [{"number": p} for p in options.ports]}]

        if traffic_extension:
            kind, spec = "TrafficExtension", {**placement, **ordering, "wasm": module}
        else:
            kind, spec = "WasmPlugin", {**placement, **ordering, **module}
        comments = [f"Istio {version or '1.12+'}: {kind} {artifact.repository}"]
        if not placement:
            comments.append(
                f"no selector or target_ref: applies to every workload in {options.namespace}"
                + (
                    " (the root namespace: the whole mesh)"
                    if options.namespace == "istio-system"
                    else ""
                )
            )
        body = {
            "apiVersion": API_VERSION,
            "kind": kind,
            "metadata": metadata(options.k8s_name, options.namespace),
            "spec": spec,
        }
        return Rendered([Document(body, tuple(comments))])


TARGET: Target = Istio()
