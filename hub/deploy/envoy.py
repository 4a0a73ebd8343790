"""Envoy (raw, v3 API): a complete static bootstrap — an HTTP listener whose connection manager
runs the Wasm filter before the router (or, for type=NETWORK, a TCP listener with the network
Wasm filter before tcp_proxy), a cluster for the upstream, and a cluster for the hub from which
Envoy fetches the module over plain HTTP, pinned by the sha256 of its bytes. Envoy cannot do
the registry token flow, so it always uses the hub's /api/v1/modules/<sha256> download
(FORMATS.md section 4). form=filter gives the bare filter and the hub cluster it needs."""

from __future__ import annotations

from typing import Any

from hub.deploy import options as opt
from hub.deploy.base import (
    NETWORK_FILTER,
    BadOption,
    DeployArtifact,
    Document,
    Rendered,
    Target,
)
from hub.deploy.compat import FetchedOverHttp
from hub.deploy.envoy_common import (
    HCM,
    HCM_TYPE,
    HUB_CLUSTER,
    ROUTER,
    ROUTER_TYPE,
    TCP_PROXY,
    TCP_PROXY_TYPE,
    endpoint,
    hub_cluster,
    static_cluster,
    wasm_filter,
)
from hub.deploy.options import Options, Version

LISTEN_PORT = 10000
UPSTREAM = "upstream"
UPSTREAM_ADDRESS = ("127.0.0.1", 8080)
ADMIN_PORT = 9901
FORMS = ("bootstrap", "filter")


class Envoy(FetchedOverHttp):
    name = "envoy"
    summary = "Envoy static bootstrap (or the bare filter) fetching the module over HTTP"
    first_021 = Version(1, 18)
    options = (
        opt.NAME,
        opt.ROOT_ID,
        opt.CONFIG,
        opt.FAIL_OPEN,
        opt.OptionSpec("ports", "the listener port (default 10000)", opt.PORTS.parse, ()),
        opt.filter_type(),
        opt.version("Envoy", "1.17"),
        opt.form(FORMS),
    )

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        if len(options.ports) > 1:
            raise BadOption(
                "ports: envoy listens on one port; give one number", {"option": "ports"}
            )
        wasm = wasm_filter(artifact, options, HUB_CLUSTER)
        cluster = hub_cluster(artifact)
        if options.form == "filter":
            kind = "network filters[]" if options.type == NETWORK_FILTER else "http_filters[]"
            before = TCP_PROXY if options.type == NETWORK_FILTER else ROUTER
            return Rendered(
                [
                    Document(wasm, (f"an entry of {kind}: put it before {before}",)),
                    Document(
                        cluster,
                        (
                            f"static_resources.clusters[] entry: the filter fetches its module "
                            f"through {HUB_CLUSTER}",
                        ),
                    ),
                ]
            )
        port = options.ports[0] if options.ports else LISTEN_PORT
        if options.type == NETWORK_FILTER:
            filters: list[dict[str, Any]] = [
                wasm,
                {
                    "name": TCP_PROXY,
                    "typed_config": {
                        "@type": TCP_PROXY_TYPE,
                        "stat_prefix": "tcp",
                        "cluster": UPSTREAM,
                    },
                },
            ]
        else:
            filters = [
                {
                    "name": HCM,
                    "typed_config": {
                        "@type": HCM_TYPE,
                        "stat_prefix": "ingress_http",
                        "route_config": {
                            "name": "local_route",
                            "virtual_hosts": [
                                {
                                    "name": UPSTREAM,
                                    "domains": ["*"],
                                    "routes": [
                                        {"match": {"prefix": "/"}, "route": {"cluster": UPSTREAM}}
                                    ],
                                }
                            ],
                        },
                        # The Wasm filter must come before the router, which ends the chain.
                        "http_filters": [
                            wasm,
                            {"name": ROUTER, "typed_config": {"@type": ROUTER_TYPE}},
                        ],
                    },
                }
            ]
        bootstrap = {
            "admin": endpoint("127.0.0.1", ADMIN_PORT),
            "static_resources": {
                "listeners": [
                    {
                        "name": "listener_0",
                        **endpoint("0.0.0.0", port),
                        "filter_chains": [{"filters": filters}],
                    }
                ],
                "clusters": [static_cluster(UPSTREAM, *UPSTREAM_ADDRESS), cluster],
            },
        }
        comments = (
            f"envoy -c this.yaml: listens on {port} and proxies to {UPSTREAM} "
            f"({UPSTREAM_ADDRESS[0]}:{UPSTREAM_ADDRESS[1]}; edit to your service)",
            f"the module is fetched from {artifact.http_url()} and checked against its sha256",
        )
        return Rendered([Document(bootstrap, comments)])


TARGET: Target = Envoy()
