"""Kuma / Kong Mesh 2.0+: kuma.io/v1alpha1 MeshProxyPatch (kumahq/kuma deployments/charts/kuma/
crds/kuma.io_meshproxypatches.yaml). `spec.default.appendModifications[]` adds a cluster for
the hub and inserts the raw Envoy Wasm filter, given as a YAML string, before the router of
inbound listeners (`httpFilter` AddBefore envoy.filters.http.router) — or, for type=NETWORK,
before tcp_proxy (`networkFilter`). Envoy fetches the module over HTTP by its sha256."""

from __future__ import annotations

from typing import Any

import yaml

from hub.deploy import options as opt
from hub.deploy.base import (
    NETWORK_FILTER,
    BadOption,
    DeployArtifact,
    Document,
    Rendered,
    Target,
    metadata,
)
from hub.deploy.compat import FetchedOverHttp
from hub.deploy.envoy_common import HUB_CLUSTER, ROUTER, TCP_PROXY, hub_cluster, wasm_filter
from hub.deploy.options import Options, Version

# Dataplane targetRefs with labels replaced MeshSubset tags in Kuma 2.9.
DATAPLANE_LABELS_SINCE = Version(2, 9)


def _yaml(value: dict[str, Any]) -> str:
    text: str = yaml.safe_dump(value, sort_keys=False, default_flow_style=False, width=1000)
    return text


class Kuma(FetchedOverHttp):
    name = "kuma"
    summary = "Kuma / Kong Mesh 2.0+ MeshProxyPatch"
    options = (
        opt.NAME,
        opt.namespace("kuma-system"),
        opt.SELECTOR,
        opt.target_ref({"Dataplane": ""}),
        opt.ROOT_ID,
        opt.CONFIG,
        opt.FAIL_OPEN,
        opt.filter_type(),
        opt.MESH,
        opt.version("Kuma", "2.0"),
    )

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        target_ref: dict[str, Any]
        labels_ok = options.version is None or options.version >= DATAPLANE_LABELS_SINCE
        if options.target_refs:
            [ref, *rest] = options.target_refs
            if rest:
                raise BadOption(
                    "kuma takes one target_ref (MeshProxyPatch has a single targetRef)",
                    {"option": "target_ref"},
                )
            target_ref = {"kind": "Dataplane", "name": ref.name}
        elif options.selector and labels_ok:
            target_ref = {"kind": "Dataplane", "labels": dict(options.selector)}
        elif options.selector:
            target_ref = {"kind": "MeshSubset", "tags": dict(options.selector)}
        else:
            target_ref = {"kind": "Mesh"}
        network = options.type == NETWORK_FILTER
        insert = {
            "operation": "AddBefore",
            "match": {"name": TCP_PROXY if network else ROUTER, "origin": "inbound"},
            "value": _yaml(wasm_filter(artifact, options, HUB_CLUSTER)),
        }
        body = {
            "apiVersion": "kuma.io/v1alpha1",
            "kind": "MeshProxyPatch",
            "metadata": metadata(
                options.k8s_name, options.namespace, labels={"kuma.io/mesh": options.mesh}
            ),
            "spec": {
                "targetRef": target_ref,
                "default": {
                    "appendModifications": [
                        {"cluster": {"operation": "Add", "value": _yaml(hub_cluster(artifact))}},
                        {"networkFilter" if network else "httpFilter": insert},
                    ]
                },
            },
        }
        comment = (
            f"Kuma {options.version or '2.0+'}: MeshProxyPatch adding the {HUB_CLUSTER} cluster "
            f"and the Wasm filter before {TCP_PROXY if network else ROUTER} on inbound listeners"
        )
        return Rendered([Document(body, (comment,))])


TARGET: Target = Kuma()
