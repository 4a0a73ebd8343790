"""Istio 1.9-1.11: networking.istio.io/v1alpha3 EnvoyFilter with the ECDS pair (FORMATS.md
section 4; istio.io "Wasm module distribution", 1.9): an EXTENSION_CONFIG patch carrying the
Wasm filter config with `code.remote.http_uri` and the module's sha256, and an HTTP_FILTER
patch inserting a `config_discovery` reference to it before the router. istio-agent fetches
the http_uri itself and hands Envoy a local file, so only http(s) URLs work here (OCI images
arrived with WasmPlugin in 1.12). The typed config is a udpa.type.v1.TypedStruct wrapping
envoy.extensions.filters.http.wasm.v3.Wasm, as Istio's docs of that era wrote it."""

from __future__ import annotations

from urllib.parse import urlsplit

from hub.deploy import options as opt
from hub.deploy.base import DeployArtifact, Document, Rendered, Target, metadata
from hub.deploy.compat import FetchedOverHttp
from hub.deploy.envoy_common import HCM, HTTP_WASM_TYPE, ROUTER, plugin_config
from hub.deploy.options import Options, Version

TYPED_STRUCT = "type.googleapis.com/udpa.type.v1.TypedStruct"


def _istio_cluster(artifact: DeployArtifact) -> str:
    """Istio's name for the outbound cluster of the hub's host (a ServiceEntry makes it):
    used only if istio-agent did not rewrite the remote source to a local file."""
    parts = urlsplit(artifact.base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"outbound|{port}||{parts.hostname}"


class IstioLegacy(FetchedOverHttp):
    name = "istio_legacy"
    summary = "Istio 1.9-1.11 EnvoyFilter pair (ECDS, remote HTTP fetch)"
    # Istio 1.9 shipped Envoy 1.17, before proxy-wasm 0.2.1.
    first_021 = Version(1, 10)
    options = (
        opt.NAME,
        opt.namespace("istio-system"),
        opt.SELECTOR,
        opt.ROOT_ID,
        opt.CONFIG,
        opt.FAIL_OPEN,
        opt.version("Istio", "1.9", "1.11"),
    )

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        name = options.k8s_name
        extension = {
            "name": name,
            "typed_config": {
                "@type": TYPED_STRUCT,
                "type_url": HTTP_WASM_TYPE,
                "value": {"config": plugin_config(artifact, options, _istio_cluster(artifact))},
            },
        }
        insert = {
            "name": name,
            "config_discovery": {
                # An initial_fetch_timeout of 0s makes the listener wait for the module
                # instead of serving without the filter.
                "config_source": {"ads": {}, "initial_fetch_timeout": "0s"},
                "type_urls": [HTTP_WASM_TYPE],
            },
        }
        spec: dict[str, object] = {}
        if options.selector:
            spec["workloadSelector"] = {"labels": dict(options.selector)}
        spec["configPatches"] = [
            {"applyTo": "EXTENSION_CONFIG", "patch": {"operation": "ADD", "value": extension}},
            {
                "applyTo": "HTTP_FILTER",
                "match": {
                    "context": "SIDECAR_INBOUND",
                    "listener": {
                        "filterChain": {"filter": {"name": HCM, "subFilter": {"name": ROUTER}}}
                    },
                },
                "patch": {"operation": "INSERT_BEFORE", "value": insert},
            },
        ]
        body = {
            "apiVersion": "networking.istio.io/v1alpha3",
            "kind": "EnvoyFilter",
            "metadata": metadata(name, options.namespace),
            "spec": spec,
        }
        comments = (
            f"Istio {options.version or '1.9-1.11'}: EnvoyFilter with the ECDS pair "
            "(EXTENSION_CONFIG + HTTP_FILTER)",
            "istio-agent downloads http_uri, checks sha256 and gives Envoy a local file",
        )
        return Rendered([Document(body, comments)])


TARGET: Target = IstioLegacy()
