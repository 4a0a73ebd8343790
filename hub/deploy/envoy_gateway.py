"""Envoy Gateway 1.1+: gateway.envoyproxy.io/v1alpha1 EnvoyExtensionPolicy (envoyproxy/gateway
charts/.../gateway.envoyproxy.io_envoyextensionpolicies.yaml). `wasm[].code` is
`type: Image` + `image.url` (Envoy Gateway adds oci:// itself when missing; we write it) with
`sha256` = manifest digest hex, or `type: HTTP` + `http.url` with the sha256 of the .wasm.
Its image fetcher is Istio's (internal/wasm), so the CNCF variant goes over HTTP. `rootID`
(capital ID); `config` any JSON; `targetRefs` to Gateway API objects (required by a CEL rule)."""

from __future__ import annotations

from typing import Any

from hub.deploy import options as opt
from hub.deploy.base import DeployArtifact, Document, ModuleSource, Rendered, Target, metadata
from hub.deploy.compat import SPEC_ABIS, Compatibility, check, http_fallback_note, istio_like_source
from hub.deploy.options import Options, TargetRef

GATEWAY_API = "gateway.networking.k8s.io"
REF_KINDS = {
    kind: GATEWAY_API
    for kind in (
        "Gateway",
        "HTTPRoute",
        "GRPCRoute",
        "ListenerSet",
        "TCPRoute",
        "UDPRoute",
        "TLSRoute",
    )
}
DEFAULT_GATEWAY = "eg"  # the Gateway of Envoy Gateway's quickstart


class EnvoyGateway:
    name = "envoy_gateway"
    summary = "Envoy Gateway 1.1+ EnvoyExtensionPolicy"
    options = (
        opt.NAME,
        opt.namespace("default"),
        opt.target_ref(REF_KINDS),
        opt.ROOT_ID,
        opt.CONFIG,
        opt.FAIL_OPEN,
        opt.PULL_SECRET,
        opt.version("Envoy Gateway", "1.1"),
    )

    def source(self, artifact: DeployArtifact) -> ModuleSource:
        return istio_like_source(artifact)

    def compatibility(self, artifact: DeployArtifact, options: Options) -> Compatibility:
        result = check(self.name, options.version, SPEC_ABIS, artifact, self.source(artifact))
        result.notes += http_fallback_note("Envoy Gateway", artifact)
        return result

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        warnings: list[str] = []
        refs = options.target_refs
        if not refs:
            refs = (TargetRef("Gateway", DEFAULT_GATEWAY, GATEWAY_API),)
            warnings.append(
                f"no target_ref given: the policy attaches to Gateway/{DEFAULT_GATEWAY}; "
                "pass target_ref=Gateway/<name> or HTTPRoute/<name>"
            )
        source = self.source(artifact)
        code: dict[str, Any]
        if source.kind == "oci":
            image: dict[str, Any] = {"url": source.url}
            if source.sha256:
                image["sha256"] = source.sha256
            if options.pull_secret:
                image["pullSecretRef"] = {"kind": "Secret", "name": options.pull_secret}
            code = {"type": "Image", "image": image}
        else:
            code = {"type": "HTTP", "http": {"url": source.url, "sha256": source.sha256}}
            if options.pull_secret:
                warnings.append("pull_secret is unused: the module is fetched over HTTP")
        wasm: dict[str, Any] = {"name": options.k8s_name}
        if options.root_id:
            wasm["rootID"] = options.root_id
        wasm["code"] = code
        if options.config is not None:
            wasm["config"] = options.config.value
        if options.fail_open is not None:
            wasm["failOpen"] = options.fail_open
        body = {
            "apiVersion": "gateway.envoyproxy.io/v1alpha1",
            "kind": "EnvoyExtensionPolicy",
            "metadata": metadata(options.k8s_name, options.namespace),
            "spec": {
                "targetRefs": [{"group": r.group, "kind": r.kind, "name": r.name} for r in refs],
                "wasm": [wasm],
            },
        }
        comment = (
            f"Envoy Gateway {options.version or '1.1+'}: EnvoyExtensionPolicy, code {code['type']}"
        )
        return Rendered([Document(body, (comment,))], warnings)


TARGET: Target = EnvoyGateway()
