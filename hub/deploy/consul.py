"""Consul 1.16+: a service-defaults config entry whose EnvoyExtensions run `builtin/wasm`
(Consul docs, "WebAssembly extension configuration reference"): Arguments.Protocol,
ListenerType, PluginConfig{Name, RootID (required), VmConfig{Runtime, Code{Remote{HttpURI
{Service{Name}, URI, Timeout}, SHA256}}}, Configuration}. Configuration must be a STRING.
Envoy fetches the module through a Consul upstream service (`hub_service`), so the hub must be
registered in Consul (e.g. as an external service behind a terminating gateway).

form=config-entry writes the entry as JSON (which is YAML too) for `consul config write`;
form=kubernetes writes the consul.hashicorp.com/v1alpha1 ServiceDefaults resource."""

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
    metadata,
)
from hub.deploy.compat import FetchedOverHttp
from hub.deploy.envoy_common import FETCH_TIMEOUT
from hub.deploy.options import Options

FORMS = ("config-entry", "kubernetes")


class Consul(FetchedOverHttp):
    name = "consul"
    summary = "Consul 1.16+ service-defaults with the builtin/wasm Envoy extension"
    options = (
        opt.OptionSpec("name", "the Consul service whose sidecar runs the filter", opt.NAME.parse),
        opt.namespace(None),
        opt.ROOT_ID,
        opt.CONFIG,
        opt.filter_type(),
        opt.HUB_SERVICE,
        opt.version("Consul", "1.16"),
        opt.form(FORMS),
    )

    def arguments(self, artifact: DeployArtifact, options: Options) -> dict[str, Any]:
        if not options.root_id:
            raise BadOption(
                "root_id is required for consul (PluginConfig.RootID) and the module's runtime "
                "config names none; pass root_id=<the id the filter registers>",
                {"option": "root_id"},
            )
        plugin: dict[str, Any] = {
            "Name": options.k8s_name,
            "RootID": options.root_id,
            "VmConfig": {
                "Runtime": "v8",
                "Code": {
                    "Remote": {
                        "HttpURI": {
                            "Service": {"Name": options.hub_service},
                            "URI": artifact.http_url(),
                            "Timeout": FETCH_TIMEOUT,
                        },
                        "SHA256": artifact.module_sha256,
                    }
                },
            },
        }
        if options.config is not None:
            plugin["Configuration"] = options.config.as_string()  # a string, never an object
        return {
            "Protocol": "tcp" if options.type == NETWORK_FILTER else "http",
            "ListenerType": "inbound",
            "PluginConfig": plugin,
        }

    def render(self, artifact: DeployArtifact, options: Options) -> Rendered:
        arguments = self.arguments(artifact, options)
        protocol = arguments["Protocol"]
        warnings = [
            f"Envoy fetches the module through the Consul service {options.hub_service!r}: "
            f"register the hub ({artifact.base_url}) under that name and make it an upstream"
        ]
        if options.form == "kubernetes":
            body: dict[str, Any] = {
                "apiVersion": "consul.hashicorp.com/v1alpha1",
                "kind": "ServiceDefaults",
                "metadata": metadata(options.k8s_name, options.namespace),
                "spec": {
                    "protocol": protocol,
                    "envoyExtensions": [
                        {"name": "builtin/wasm", "required": True, "arguments": arguments}
                    ],
                },
            }
            comment = f"Consul {options.version or '1.16+'}: kubectl apply -f this.yaml"
            return Rendered([Document(body, (comment,))], warnings)
        entry: dict[str, Any] = {"Kind": "service-defaults", "Name": options.k8s_name}
        if options.namespace:
            entry["Namespace"] = options.namespace  # Consul Enterprise
        entry["Protocol"] = protocol
        entry["EnvoyExtensions"] = [
            {"Name": "builtin/wasm", "Required": True, "Arguments": arguments}
        ]
        comments = (
            f"Consul {options.version or '1.16+'}: the config entry in JSON (also valid YAML);",
            "save the document as service-defaults.json, then: consul config write "
            "service-defaults.json",
        )
        return Rendered([Document(entry, comments, flow=True)], warnings)


TARGET: Target = Consul()
