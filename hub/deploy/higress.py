"""Higress 1.0+: extensions.higress.io/v1alpha1 WasmPlugin (alibaba/higress helm/core/crds/
customresourcedefinitions.gen.yaml). Like Istio's WasmPlugin — the same image fetcher, `url`
and `sha256` rules — but without `selector`: the plugin applies gateway-wide through
`defaultConfig`, or to chosen ingresses, domains or services through `matchRules[]` (each with
its own `config`; `defaultConfigDisable` turns the gateway-wide one off)."""

from __future__ import annotations

from typing import Any

from hub.deploy import options as opt
from hub.deploy.base import DeployArtifact, Document, ModuleSource, Rendered, Target, metadata
from hub.deploy.compat import SPEC_ABIS, Compatibility, check, http_fallback_note, istio_like_source
from hub.deploy.options import Options

PHASES = ("AUTHN", "AUTHZ", "STATS", "UNSPECIFIED_PHASE")
# target_ref kinds -> the matchRules field they fill
MATCH_FIELDS = {"Ingress": "ingress", "Domain": "domain", "Service": "service"}


class Higress:
    name = "higress"
    summary = "Higress 1.0+ WasmPlugin (defaultConfig, matchRules)"
    options = (
        opt.NAME,
        opt.namespace("higress-system"),
        opt.target_ref({kind: "" for kind in MATCH_FIELDS}),
        opt.ROOT_ID,
        opt.CONFIG,
        opt.phase(PHASES),
        opt.PRIORITY,
        opt.FAIL_OPEN,
        opt.PULL_SECRET,
        opt.version("Higress", "1.0"),
    )

    def source(self, artifact: DeployArtifact) -> ModuleSource:
        return istio_like_source(artifact)

    def compatibility(self, artifact: DeployArtifact, options: Options) -> Compatibility:
        result = check(self.name, options.version, SPEC_ABIS, artifact, self.source(artifact))
        result.notes += http_fallback_note("Higress", artifact)
        return result

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        source = self.source(artifact)
        config = options.config.as_object(self.name) if options.config is not None else {}
        spec: dict[str, Any] = {"url": source.url}
        if source.sha256:
            spec["sha256"] = source.sha256
        if options.root_id:
            spec["pluginName"] = options.root_id
        if options.phase:
            spec["phase"] = options.phase
        if options.priority is not None:
            spec["priority"] = options.priority
        if options.fail_open is not None:
            spec["failStrategy"] = "FAIL_OPEN" if options.fail_open else "FAIL_CLOSE"
        if options.pull_secret:
            spec["imagePullSecret"] = options.pull_secret
        if options.target_refs:
            rules: dict[str, list[str]] = {}
            for ref in options.target_refs:
                rules.setdefault(MATCH_FIELDS[ref.kind], []).append(ref.name)
            spec["defaultConfigDisable"] = True
            spec["matchRules"] = [
                {field: names, "config": config} for field, names in rules.items()
            ]
        else:
            spec["defaultConfig"] = config
        body = {
            "apiVersion": "extensions.higress.io/v1alpha1",
            "kind": "WasmPlugin",
            "metadata": metadata(options.k8s_name, options.namespace),
            "spec": spec,
        }
        scope = "the matched routes only" if options.target_refs else "every route of the gateway"
        comment = f"Higress {options.version or '1.0+'}: WasmPlugin applying to {scope}"
        return Rendered([Document(body, (comment,))])


TARGET: Target = Higress()
