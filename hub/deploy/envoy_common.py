"""Envoy v3 pieces several targets embed (envoy, istio_legacy, kuma): the Wasm filter with a
remote code source and the cluster that reaches the hub. Field names are the snake_case proto
names of envoyproxy/data-plane-api (envoy/extensions/wasm/v3/wasm.proto,
envoy/config/core/v3/base.proto RemoteDataSource, http_uri.proto HttpUri)."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from hub.deploy.base import NETWORK_FILTER, DeployArtifact
from hub.deploy.options import Options

HTTP_WASM = "envoy.filters.http.wasm"
NETWORK_WASM = "envoy.filters.network.wasm"
HTTP_WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"
NETWORK_WASM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"
STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue"
ROUTER = "envoy.filters.http.router"
ROUTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
HCM = "envoy.filters.network.http_connection_manager"
HCM_TYPE = (
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
    ".HttpConnectionManager"
)
TCP_PROXY = "envoy.filters.network.tcp_proxy"
TCP_PROXY_TYPE = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
TLS_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
V8 = "envoy.wasm.runtime.v8"
HUB_CLUSTER = "wasm_hub"
FETCH_TIMEOUT = "30s"  # HttpUri.timeout is required; a module is a few hundred KB at most


def string_value(text: str) -> dict[str, Any]:
    """google.protobuf.StringValue in an Any: what Envoy hands the plugin as its configuration."""
    return {"@type": STRING_VALUE, "value": text}


def plugin_config(
    artifact: DeployArtifact, options: Options, cluster: str, uri: str | None = None
) -> dict[str, Any]:
    """envoy.extensions.wasm.v3.PluginConfig fetching the module over HTTP, pinned by the
    sha256 of its bytes (Envoy checks it before loading)."""
    name = options.k8s_name
    config: dict[str, Any] = {"name": name}
    if options.root_id:
        config["root_id"] = options.root_id
    config["vm_config"] = {
        "vm_id": name,
        "runtime": V8,
        "code": {
            "remote": {
                "http_uri": {
                    "uri": uri or artifact.http_url(),
                    "cluster": cluster,
                    "timeout": FETCH_TIMEOUT,
                },
                "sha256": artifact.module_sha256,
                "retry_policy": {"num_retries": 3},
            }
        },
    }
    if options.config is not None:
        config["configuration"] = string_value(options.config.as_string())
    if options.fail_open is not None:
        config["fail_open"] = options.fail_open
    return config


def wasm_filter(artifact: DeployArtifact, options: Options, cluster: str) -> dict[str, Any]:
    """An http_filters[] (or network filters[]) entry of the Wasm filter."""
    network = options.type == NETWORK_FILTER
    return {
        "name": NETWORK_WASM if network else HTTP_WASM,
        "typed_config": {
            "@type": NETWORK_WASM_TYPE if network else HTTP_WASM_TYPE,
            "config": plugin_config(artifact, options, cluster),
        },
    }


def endpoint(host: str, port: int) -> dict[str, Any]:
    return {"address": {"socket_address": {"address": host, "port_value": port}}}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hub_cluster(artifact: DeployArtifact, name: str = HUB_CLUSTER) -> dict[str, Any]:
    """A cluster reaching the hub at HUB_BASE_URL (TLS with SNI for https)."""
    parts = urlsplit(artifact.base_url)
    host = parts.hostname or "localhost"
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC" if _is_ip(host) else "LOGICAL_DNS",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": endpoint(host, port)}]}],
        },
    }
    if tls:
        cluster["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": TLS_TYPE, "sni": host},
        }
    return cluster


def static_cluster(name: str, host: str, port: int) -> dict[str, Any]:
    return {
        "name": name,
        "type": "STATIC" if _is_ip(host) else "STRICT_DNS",
        "connect_timeout": "5s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": [{"endpoint": endpoint(host, port)}]}],
        },
    }
