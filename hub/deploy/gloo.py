"""Gloo Edge / Gloo Gateway 1.6+: gateway.solo.io/v1 Gateway with
spec.httpGateway.options.wasm.filters[] (solo-io/gloo install/helm/gloo/crds/
gateway.solo.io_v1_Gateway.yaml). `image` is a plain reference without oci://; Gloo pulls it
with wasme's puller, which reads only the wasme "oci" variant (FORMATS.md section 1). `config`
is an Any: a google.protobuf.StringValue here. vmType V8; filterStage {stage, predicate}."""

from __future__ import annotations

from typing import Any

from hub.deploy import options as opt
from hub.deploy.base import (
    DeployArtifact,
    Document,
    ModuleSource,
    Rendered,
    Target,
    default_name,
    metadata,
)
from hub.deploy.compat import SPEC_ABIS, Compatibility, check
from hub.deploy.envoy_common import string_value
from hub.deploy.options import Options
from hub.wasm.formats import WASME_OCI

STAGES = (
    "FaultStage",
    "CorsStage",
    "WafStage",
    "AuthNStage",
    "AuthZStage",
    "RateLimitStage",
    "AcceptedStage",
    "OutAuthStage",
    "RouteStage",
)
GATEWAY = "gateway-proxy"  # the Gateway a default Gloo install creates
HTTP_PORT = 8080


class Gloo:
    name = "gloo"
    summary = "Gloo Edge 1.6+ Gateway with httpGateway.options.wasm.filters[]"
    options = (
        opt.OptionSpec("name", f"the Gateway's name (default {GATEWAY})", opt.NAME.parse, GATEWAY),
        opt.namespace("gloo-system"),
        opt.ROOT_ID,
        opt.CONFIG,
        opt.phase(STAGES),
        opt.FAIL_OPEN,
        opt.OptionSpec(
            "ports", f"the Gateway's bindPort (default {HTTP_PORT})", opt.PORTS.parse, ()
        ),
        opt.version("Gloo", "1.6"),
    )

    def source(self, artifact: DeployArtifact) -> ModuleSource | None:
        if artifact.variant == WASME_OCI:
            return ModuleSource.image(artifact)
        return None

    def compatibility(self, artifact: DeployArtifact, options: Options) -> Compatibility:
        result = check(
            self.name,
            options.version,
            SPEC_ABIS,
            artifact,
            self.source(artifact),
            cannot_fetch=(
                f"Gloo pulls images with wasme's puller, which reads only the wasme-oci variant "
                f"(this is {artifact.variant})"
            ),
        )
        if result.source is None:
            result.suggestions.append(
                "push the module with `wasme push` (or as the wasme-oci variant) for Gloo"
            )
        return result

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        source = self.source(artifact) or ModuleSource.image(artifact)
        wasm_filter: dict[str, Any] = {
            "name": default_name(artifact.repository),
            "image": source.url,
            "vmType": "V8",
        }
        if options.root_id:
            wasm_filter["rootId"] = options.root_id
        if options.config is not None:
            wasm_filter["config"] = string_value(options.config.as_string())
        if options.fail_open is not None:
            wasm_filter["failOpen"] = options.fail_open
        if options.phase:
            wasm_filter["filterStage"] = {"stage": options.phase, "predicate": "During"}
        ports = options.ports or (HTTP_PORT,)
        body = {
            "apiVersion": "gateway.solo.io/v1",
            "kind": "Gateway",
            "metadata": metadata(options.k8s_name, options.namespace),
            "spec": {
                "bindAddress": "::",
                "bindPort": ports[0],
                "proxyNames": [GATEWAY],
                "useProxyProto": False,
                "httpGateway": {"options": {"wasm": {"filters": [wasm_filter]}}},
            },
        }
        comments = (
            f"Gloo {options.version or '1.6+'}: applying this replaces the Gateway "
            f"{options.namespace}/{options.k8s_name}; merge the wasm filter into yours if it "
            "has other options",
        )
        return Rendered([Document(body, comments)])


TARGET: Target = Gloo()
