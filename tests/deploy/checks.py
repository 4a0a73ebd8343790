"""Validators for rendered deploy output.

- Kubernetes resources: the CRD's openAPIV3Schema (tests/data/schemas, SOURCES.txt there) with
  the x-kubernetes-* keys dropped and unknown fields refused (the API server would prune them
  silently: a misspelt field is lost config), checked with jsonschema; plus the CEL rules that
  matter here, by hand.
- Envoy messages: parsed with envoy-data-plane (betterproto dataclasses generated from
  envoyproxy/data-plane-api), which rejects unknown fields and bad enum names; then the remote
  code source must have a sha256, a cluster and a timeout.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path
from typing import Any

import jsonschema
import yaml

# envoy-data-plane: importing a package registers its messages for google.protobuf.Any. Its
# generated code trips a pydantic deprecation warning at import (pytest turns warnings into
# errors); that is the package's business, not ours.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from envoy_data_plane.envoy.config.bootstrap import v3 as bootstrap_v3
    from envoy_data_plane.envoy.config.cluster import v3 as cluster_v3
    from envoy_data_plane.envoy.config.listener import v3 as listener_v3
    from envoy_data_plane.envoy.extensions.filters.http.router import v3 as _router  # noqa: F401
    from envoy_data_plane.envoy.extensions.filters.http.wasm import v3 as http_wasm_v3
    from envoy_data_plane.envoy.extensions.filters.network.http_connection_manager import (
        v3 as hcm_v3,
    )
    from envoy_data_plane.envoy.extensions.filters.network.tcp_proxy import v3 as _tcp  # noqa: F401
    from envoy_data_plane.envoy.extensions.filters.network.wasm import v3 as net_wasm_v3
    from envoy_data_plane.envoy.extensions.transport_sockets.tls import v3 as _tls  # noqa: F401
    from envoy_data_plane.envoy.extensions.wasm import v3 as wasm_v3
    from envoy_data_plane.google import protobuf

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "schemas"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CRDS = {
    ("extensions.istio.io/v1alpha1", "WasmPlugin"): "istio-wasmplugin-crd.yaml",
    ("extensions.istio.io/v1alpha1", "TrafficExtension"): "istio-trafficextension-crd.yaml",
    ("gateway.envoyproxy.io/v1alpha1", "EnvoyExtensionPolicy"): (
        "envoy-gateway-envoyextensionpolicies-crd.yaml"
    ),
    ("gateway.solo.io/v1", "Gateway"): "gloo-gateway.solo.io_v1_Gateway-crd.yaml",
    ("extensions.higress.io/v1alpha1", "WasmPlugin"): "higress-wasmplugin-crd.yaml",
    ("kuma.io/v1alpha1", "MeshProxyPatch"): "kuma-meshproxypatches-crd.yaml",
}
ROOT = {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
}


def _structural(node: Any) -> Any:
    """Drop x-kubernetes-* keys; refuse unknown fields where the CRD does not preserve them."""
    if isinstance(node, list):
        return [_structural(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _structural(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    group, version = api_version.split("/")
    for doc in yaml.load_all((SCHEMAS / CRDS[(api_version, kind)]).read_text(), Loader=Loader):
        if not doc or doc["spec"]["group"] != group or doc["spec"]["names"]["kind"] != kind:
            continue
        [found] = [v for v in doc["spec"]["versions"] if v["name"] == version]
        schema: dict[str, Any] = _structural(found["schema"]["openAPIV3Schema"])
        schema["properties"] = {**schema["properties"], **ROOT}
        schema["required"] = sorted({*schema.get("required", ()), "apiVersion", "kind", "spec"})
        return schema
    raise KeyError(f"no CRD for {api_version} {kind}")


def validate_resource(doc: dict[str, Any]) -> None:
    schema = crd_schema(doc["apiVersion"], doc["kind"])
    jsonschema.Draft7Validator(schema).validate(doc)
    spec = doc["spec"]
    if doc["kind"] in ("WasmPlugin", "TrafficExtension") and doc["apiVersion"].startswith(
        "extensions.istio.io"
    ):
        # CEL: only one of targetRefs or selector can be set; url is http(s) or oci.
        assert ("selector" in spec) + ("targetRefs" in spec) + ("targetRef" in spec) <= 1
        module = spec.get("wasm", spec)
        assert module["url"].split("://")[0] in ("http", "https", "oci"), module["url"]
    if doc["kind"] == "EnvoyExtensionPolicy":
        # CEL: targetRefs required here, all in the Gateway API group; code type matches.
        assert spec["targetRefs"]
        assert all(r["group"] == "gateway.networking.k8s.io" for r in spec["targetRefs"])
        for wasm in spec["wasm"]:
            code = wasm["code"]
            assert {"HTTP": "http", "Image": "image"}[code["type"]] in code
            assert ("http" in code) + ("image" in code) == 1


# ---- Envoy ---------------------------------------------------------------------------------


def check_remote(config: wasm_v3.PluginConfig, clusters: set[str] | None = None) -> str:
    """The remote code source is complete; returns its URI."""
    remote = config.vm_config.code.remote
    assert remote.sha256 and len(remote.sha256) == 64, remote
    assert remote.http_uri.cluster, remote
    assert remote.http_uri.timeout and remote.http_uri.timeout.total_seconds() > 0, remote
    assert remote.http_uri.uri.startswith("http"), remote
    if clusters is not None:
        assert remote.http_uri.cluster in clusters, (remote.http_uri.cluster, clusters)
    if config.configuration is not None and config.configuration.type_url:
        value = config.configuration.unpack()
        assert isinstance(value, protobuf.StringValue), value
    return str(remote.http_uri.uri)


def wasm_of_filter(parsed: Any) -> wasm_v3.PluginConfig:
    message = parsed.typed_config.unpack()
    assert isinstance(message, http_wasm_v3.Wasm | net_wasm_v3.Wasm), message
    config: wasm_v3.PluginConfig = message.config
    return config


def parse_http_filter(doc: dict[str, Any]) -> hcm_v3.HttpFilter:
    return hcm_v3.HttpFilter.from_dict(doc)


def parse_network_filter(doc: dict[str, Any]) -> listener_v3.Filter:
    return listener_v3.Filter.from_dict(doc)


def parse_cluster(doc: dict[str, Any]) -> cluster_v3.Cluster:
    return cluster_v3.Cluster.from_dict(doc)


def parse_wasm(doc: dict[str, Any]) -> http_wasm_v3.Wasm:
    return http_wasm_v3.Wasm.from_dict(doc)


def check_bootstrap(doc: dict[str, Any]) -> list[str]:
    """A complete bootstrap: listener -> (HCM with the Wasm filter before the router) or (the
    network Wasm filter before tcp_proxy); every cluster a filter names exists. Returns the
    module URIs."""
    bootstrap = bootstrap_v3.Bootstrap.from_dict(doc)
    clusters = {c.name for c in bootstrap.static_resources.clusters}
    uris = []
    [listener] = bootstrap.static_resources.listeners
    filters = listener.filter_chains[0].filters
    names = [f.name for f in filters]
    if names[0] == "envoy.filters.network.http_connection_manager":
        hcm = filters[0].typed_config.unpack()
        assert isinstance(hcm, hcm_v3.HttpConnectionManager)
        http_names = [f.name for f in hcm.http_filters]
        assert http_names == ["envoy.filters.http.wasm", "envoy.filters.http.router"], http_names
        uris.append(check_remote(wasm_of_filter(hcm.http_filters[0]), clusters))
        for vh in hcm.route_config.virtual_hosts:
            for route in vh.routes:
                assert route.route.cluster in clusters
    else:
        assert names == ["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"], names
        uris.append(check_remote(wasm_of_filter(filters[0]), clusters))
    return uris
