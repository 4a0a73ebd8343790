"""GET /api/v1/deploy and `wasm-hub deploy` against a live hub: every target for every stored
variant renders schema-valid resources whose module URLs really serve the module, pinned by
digest; bad requests are 400s naming what is valid; the CLI prints what the endpoint answers."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.deploy import checks
from tests.deploy.conftest import VARIANTS, Pushed
from tests.support.server import HubServer

TARGETS = (
    "istio",
    "istio_legacy",
    "envoy",
    "gloo",
    "envoy_gateway",
    "consul",
    "kuma",
    "higress",
)
# Istio's image fetcher (and its copies) reads these variants from the registry; the others
# go over the hub's plain HTTP download.
ISTIO_PULLABLE = {"wasme-oci", "compat"}
MANIFEST_ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
# Options that every target is rendered with in the matrix, per target.
MATRIX_OPTIONS: dict[str, dict[str, Any]] = {
    "istio": {
        "selector": "app=reviews",
        "config": '{"header": "x-hub"}',
        "phase": "AUTHN",
        "priority": "10",
        "fail_open": "true",
        "ports": "8080",
    },
    "istio_legacy": {"selector": "app=reviews", "config": "world", "version": "1.10"},
    "envoy": {"config": "world", "fail_open": "false"},
    "gloo": {"config": "world", "phase": "AuthNStage"},
    "envoy_gateway": {
        "target_ref": "HTTPRoute/backend",
        "config": '{"header": "x-hub"}',
        "fail_open": "true",
    },
    "consul": {"name": "api", "config": '{"header": "x-hub"}'},
    "kuma": {"selector": "app=reviews", "config": "world"},
    "higress": {"config": "header: x-hub", "phase": "AUTHZ", "priority": "5"},
}


def deploy(
    client: httpx.Client, item: Pushed, target: str, json_: bool = False, **options: Any
) -> httpx.Response:
    params: list[tuple[str, str]] = [
        ("repository", item.repository),
        ("ref", item.tag),
        ("target", target),
    ]
    for key, value in options.items():
        for v in value if isinstance(value, list) else [value]:
            params.append((key, str(v)))
    headers = {"Accept": "application/json"} if json_ else {}
    return client.get("/api/v1/deploy", params=params, headers=headers)


def documents(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/yaml")
    return [d for d in yaml.safe_load_all(response.text) if d is not None]


def fetch_modules(client: httpx.Client, text: str, item: Pushed, base_url: str) -> set[str]:
    """Fetch every module reference in the output; each must be digest-pinned and serve the
    pushed module (http) or manifest (oci / plain image reference)."""
    host = base_url.split("://", 1)[1]
    kinds: set[str] = set()
    for hex_ in re.findall(rf"{re.escape(base_url)}/api/v1/modules/([0-9a-f]{{64}})", text):
        got = client.get(f"/api/v1/modules/{hex_}")
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == hex_ == item.module_sha256
        kinds.add("http")
    refs = re.findall(rf"(oci://)?{re.escape(host)}/([a-z0-9/._-]+)(@|:)([^\s'\"]+)", text)
    for scheme, repo, sep, rest in refs:
        if repo.startswith("api/v1/modules"):
            continue
        assert sep == "@" and rest.startswith("sha256:"), f"not digest-pinned: {repo}{sep}{rest}"
        got = client.get(f"/v2/{repo}/manifests/{rest}", headers={"Accept": MANIFEST_ACCEPT})
        assert got.status_code == 200, got.text
        assert "sha256:" + hashlib.sha256(got.content).hexdigest() == rest == item.digest
        kinds.add("oci" if scheme else "image")
    assert kinds, f"no module reference in:\n{text}"
    return kinds


def check_documents(target: str, variant: str, docs: list[dict[str, Any]], item: Pushed) -> None:
    if target == "envoy":
        [bootstrap] = docs
        uris = checks.check_bootstrap(bootstrap)
        assert uris and all(u.endswith(item.module_sha256) for u in uris)
        return
    if target == "consul":
        [entry] = docs
        assert entry["Kind"] == "service-defaults" and entry["Name"] == "api"
        [ext] = entry["EnvoyExtensions"]
        assert ext["Name"] == "builtin/wasm"
        plugin = ext["Arguments"]["PluginConfig"]
        assert isinstance(plugin["Configuration"], str)  # Consul wants a string
        assert json.loads(plugin["Configuration"]) == {"header": "x-hub"}
        assert plugin["RootID"] == "add_header"
        remote = plugin["VmConfig"]["Code"]["Remote"]
        assert remote["SHA256"] == item.module_sha256 and remote["HttpURI"]["Timeout"]
        assert remote["HttpURI"]["Service"]["Name"]
        return
    if target == "istio_legacy":
        [doc] = docs
        assert (doc["apiVersion"], doc["kind"]) == ("networking.istio.io/v1alpha3", "EnvoyFilter")
        ext, insert = doc["spec"]["configPatches"]
        assert ext["applyTo"] == "EXTENSION_CONFIG" and insert["applyTo"] == "HTTP_FILTER"
        typed = ext["patch"]["value"]["typed_config"]
        assert typed["@type"] == "type.googleapis.com/udpa.type.v1.TypedStruct"
        wasm = checks.parse_wasm(typed["value"])
        checks.check_remote(wasm.config)
        assert wasm.config.vm_config.code.remote.sha256 == item.module_sha256
        assert insert["patch"]["operation"] == "INSERT_BEFORE"
        assert insert["match"]["listener"]["filterChain"]["filter"]["subFilter"]["name"] == (
            "envoy.filters.http.router"
        )
        discovery = checks.parse_http_filter(insert["patch"]["value"])
        assert discovery.config_discovery.type_urls == [typed["type_url"]]
        assert doc["spec"]["workloadSelector"] == {"labels": {"app": "reviews"}}
        return
    for doc in docs:
        checks.validate_resource(doc)
    [doc] = docs
    spec = doc["spec"]
    if target == "kuma":
        cluster_mod, filter_mod = spec["default"]["appendModifications"]
        cluster = checks.parse_cluster(yaml.safe_load(cluster_mod["cluster"]["value"]))
        http_filter = checks.parse_http_filter(yaml.safe_load(filter_mod["httpFilter"]["value"]))
        checks.check_remote(checks.wasm_of_filter(http_filter), {cluster.name})
        assert filter_mod["httpFilter"]["operation"] == "AddBefore"
    if target == "gloo":
        [wasm] = spec["httpGateway"]["options"]["wasm"]["filters"]
        assert not wasm["image"].startswith("oci://")
        assert wasm["config"]["value"] == "world" and wasm["rootId"] == "add_header"
        assert wasm["filterStage"] == {"stage": "AuthNStage", "predicate": "During"}
    if target in ("istio", "higress"):
        assert spec["pluginName"] == "add_header"
        pullable = variant in ISTIO_PULLABLE
        assert spec["url"].startswith("oci://" if pullable else "http://")
        assert spec["sha256"] == (item.digest.split(":")[1] if pullable else item.module_sha256)
    if target == "envoy_gateway":
        [wasm] = spec["wasm"]
        code = wasm["code"]
        if variant in ISTIO_PULLABLE:
            assert code["type"] == "Image" and code["image"]["url"].startswith("oci://")
            assert code["image"]["sha256"] == item.digest.split(":")[1]
        else:
            assert code["type"] == "HTTP" and code["http"]["sha256"] == item.module_sha256
        assert wasm["rootID"] == "add_header" and wasm["config"] == {"header": "x-hub"}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("target", TARGETS)
def test_every_target_renders_valid_config(
    live_server: HubServer,
    client: httpx.Client,
    pushed: dict[str, Pushed],
    target: str,
    variant: str,
) -> None:
    item = pushed[variant]
    options = dict(MATRIX_OPTIONS[target])
    if variant != "wasme-oci":
        options["root_id"] = "add_header"  # only wasme's variant carries a runtime config
    response = deploy(client, item, target, **options)
    docs = documents(response)
    check_documents(target, variant, docs, item)
    kinds = fetch_modules(client, response.text, item, live_server.url)

    as_json = deploy(client, item, target, json_=True, **options)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    body = as_json.json()
    assert body["documents"] == docs
    compat = body["compatibility"]
    assert compat["module_abi"] == ["0.2.0"]
    if target == "gloo" and variant != "wasme-oci":
        # wasme's puller (Gloo) reads only the wasme variant: reported, with what would work.
        assert compat["compatible"] is False and compat["source"] is None
        assert any("wasme" in s for s in compat["suggestions"])
        assert "envoy" in compat["works_with"] and "gloo" not in compat["works_with"]
        assert "# INCOMPATIBLE: Gloo pulls images with wasme's puller" in response.text
    else:
        assert compat["compatible"] is True, compat
        assert {compat["source"]} == kinds, (compat, kinds)
    if variant == "wasme-oci":
        assert compat["declared_abi"][0]["meshes"] == "Istio 1.7–1.9"


def test_versions_pick_the_resource(client: httpx.Client, pushed: dict[str, Pushed]) -> None:
    item = pushed["compat"]
    [doc] = documents(deploy(client, item, "istio", version="1.30", target_ref="Gateway/edge"))
    checks.validate_resource(doc)
    assert doc["kind"] == "TrafficExtension"
    assert doc["spec"]["wasm"]["url"] == (
        f"oci://{client.base_url.host}:{client.base_url.port}/{item.repository}@{item.digest}"
    )
    assert doc["spec"]["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge"}
    ]
    [doc] = documents(deploy(client, item, "istio", version="1.24.3", type="NETWORK"))
    checks.validate_resource(doc)
    assert doc["kind"] == "WasmPlugin" and doc["spec"]["type"] == "NETWORK"
    r = deploy(client, item, "istio", version="1.20", target_ref="Gateway/edge")
    assert r.status_code == 400 and "1.22" in r.json()["errors"][0]["message"]


def test_envoy_forms_and_network_filter(client: httpx.Client, pushed: dict[str, Pushed]) -> None:
    item = pushed["wasme-oci"]
    http_filter, cluster = documents(deploy(client, item, "envoy", form="filter"))
    parsed_cluster = checks.parse_cluster(cluster)
    config = checks.wasm_of_filter(checks.parse_http_filter(http_filter))
    checks.check_remote(config, {parsed_cluster.name})
    assert config.root_id == "add_header"
    [bootstrap] = documents(deploy(client, item, "envoy", type="NETWORK", ports="15000"))
    checks.check_bootstrap(bootstrap)
    assert (
        bootstrap["static_resources"]["listeners"][0]["address"]["socket_address"]["port_value"]
        == 15000
    )
    [patch] = documents(deploy(client, item, "kuma", type="NETWORK", target_ref="Dataplane/dp-1"))
    checks.validate_resource(patch)
    modification = patch["spec"]["default"]["appendModifications"][1]["networkFilter"]
    network = checks.parse_network_filter(yaml.safe_load(modification["value"]))
    checks.check_remote(checks.wasm_of_filter(network))
    assert patch["spec"]["targetRef"] == {"kind": "Dataplane", "name": "dp-1"}


def test_consul_kubernetes_form_and_higress_match_rules(
    client: httpx.Client, pushed: dict[str, Pushed]
) -> None:
    item = pushed["wasme-oci"]
    [resource] = documents(
        deploy(client, item, "consul", form="kubernetes", name="api", config="world")
    )
    assert (resource["apiVersion"], resource["kind"]) == (
        "consul.hashicorp.com/v1alpha1",
        "ServiceDefaults",
    )
    [ext] = resource["spec"]["envoyExtensions"]
    assert ext["arguments"]["PluginConfig"]["Configuration"] == "world"
    [doc] = documents(
        deploy(
            client, item, "higress", target_ref=["Ingress/shop", "Domain/a.io"], config='{"k": 1}'
        )
    )
    checks.validate_resource(doc)
    assert doc["spec"]["defaultConfigDisable"] is True
    assert doc["spec"]["matchRules"] == [
        {"ingress": ["shop"], "config": {"k": 1}},
        {"domain": ["a.io"], "config": {"k": 1}},
    ]


def test_pull_secret_is_named_with_how_to_create_it(
    client: httpx.Client, pushed: dict[str, Pushed]
) -> None:
    item = pushed["compat"]
    response = deploy(client, item, "istio", pull_secret="hub-pull", namespace="shop")
    [doc] = documents(response)
    assert doc["spec"]["imagePullSecret"] == "hub-pull"
    assert "# pull secret: create 'hub-pull'" in response.text
    assert "kubectl create secret docker-registry hub-pull -n shop" in response.text
    [policy] = documents(deploy(client, item, "envoy_gateway", pull_secret="hub-pull"))
    assert policy["spec"]["wasm"][0]["code"]["image"]["pullSecretRef"] == {
        "kind": "Secret",
        "name": "hub-pull",
    }


def test_by_digest_and_default_name(client: httpx.Client, pushed: dict[str, Pushed]) -> None:
    item = pushed["wasme-oci"]
    by_digest = Pushed(item.repository, item.digest, item.digest, item.module_sha256)
    [doc] = documents(deploy(client, by_digest, "istio"))
    assert doc["metadata"] == {"name": item.repository.split("/")[1], "namespace": "istio-system"}
    assert doc["spec"]["url"].endswith(f"@{item.digest}")


def test_incompatible_abi_is_reported(client: httpx.Client, unversioned: Pushed) -> None:
    response = deploy(client, unversioned, "istio", root_id="main")
    documents(response)
    assert "# INCOMPATIBLE: istio runs proxy-wasm ABI 0.1.0, 0.2.0, 0.2.1" in response.text
    assert "# would work: rebuild the filter with a current proxy-wasm SDK" in response.text
    compat = deploy(client, unversioned, "envoy", json_=True, root_id="main").json()[
        "compatibility"
    ]
    assert compat["compatible"] is False and compat["module_abi"] == ["unversioned"]
    assert compat["works_with"] == []


@pytest.mark.parametrize(
    ("params", "needle", "valid"),
    [
        ({"target": "nginx"}, "unknown target 'nginx'", ["istio", "envoy", "higress", "kuma"]),
        ({"target": "envoy", "selector": "app=x"}, "does not take selector", ["root_id", "form"]),
        ({"target": "istio", "phase": "LATE"}, "phase: must be one of", ["AUTHN", "STATS"]),
        ({"target": "istio", "priority": "high"}, "priority: must be an integer", []),
        ({"target": "istio", "fail_open": "maybe"}, "fail_open: must be true or false", []),
        ({"target": "istio", "version": "1.9"}, "Istio 1.9 is outside 1.12 or later", []),
        ({"target": "istio_legacy", "version": "1.12"}, "outside 1.9–1.11", []),
        ({"target": "istio", "selector": "app"}, "selector: must be label pairs", []),
        ({"target": "istio", "config": "{"}, "config: is neither JSON nor YAML", []),
        ({"target": "istio", "config": "plain"}, "config for istio must be a mapping", []),
        ({"target": "istio", "target_ref": "Pod/x"}, "Kind one of", ["Gateway", "Service"]),
        ({"target": "istio", "type": "UDP"}, "type: must be one of", ["HTTP", "NETWORK"]),
        ({"target": "envoy", "form": "helm"}, "form: must be one of", ["bootstrap", "filter"]),
        ({"target": "envoy", "ports": "99999"}, "ports: must be port numbers", []),
        ({"target": "istio", "name": "Bad_Name"}, "name: must be a lower-case DNS-1123", []),
        ({"target": "istio", "selector": "a=b", "target_ref": "Gateway/g"}, "not both", []),
        ({"target": "istio", "ref": "sha256:abc"}, "lower-case hex", []),
        ({}, "target is required", ["istio", "consul"]),
    ],
)
def test_bad_requests_name_what_is_valid(
    client: httpx.Client,
    pushed: dict[str, Pushed],
    params: dict[str, str],
    needle: str,
    valid: list[str],
) -> None:
    query = {"repository": pushed["compat"].repository, "ref": "v1", **params}
    r = client.get("/api/v1/deploy", params=query)
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["code"] == "BAD_REQUEST"
    assert needle in error["message"], error
    for name in valid:
        assert name in error["message"], (name, error)


def test_consul_needs_a_root_id(client: httpx.Client, pushed: dict[str, Pushed]) -> None:
    r = deploy(client, pushed["cncf"], "consul")
    assert r.status_code == 400 and "root_id is required" in r.json()["errors"][0]["message"]
    # Elsewhere a missing root id is a warning, not an error.
    body = deploy(client, pushed["cncf"], "istio", json_=True).json()
    assert any("names no root id" in w for w in body["warnings"])


def test_unknown_repository_or_ref_is_404(client: httpx.Client, pushed: dict[str, Pushed]) -> None:
    r = client.get(
        "/api/v1/deploy", params={"repository": "nobody/nothing", "ref": "v1", "target": "istio"}
    )
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NOT_FOUND"
    item = pushed["compat"]
    for ref in ("v9", "sha256:" + "0" * 64):
        r = client.get(
            "/api/v1/deploy", params={"repository": item.repository, "ref": ref, "target": "istio"}
        )
        assert r.status_code == 404, r.text


def test_generic_artifact_is_not_a_filter(client: httpx.Client, generic: Pushed) -> None:
    r = deploy(client, generic, "envoy")
    assert r.status_code == 400
    assert "is not a Wasm filter" in r.json()["errors"][0]["message"]


CLI_CASES = [
    ("compat", "istio", {"selector": "app=reviews", "config": '{"a": 1}', "version": "1.30"}),
    ("wasme-oci", "envoy", {"root_id": "add_header", "config": "world"}),
    ("cncf", "consul", {"name": "api", "root_id": "add_header", "config": "world"}),
]


def test_cli_prints_what_the_endpoint_answers(
    live_server: HubServer, client: httpx.Client, pushed: dict[str, Pushed]
) -> None:
    for variant, target, options in CLI_CASES:
        item = pushed[variant]
        expected = deploy(client, item, target, **options)
        assert expected.status_code == 200, expected.text
        args = ["deploy", "--repository", item.repository, "--ref", item.tag, "--target", target]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", value]
        done = live_server.run(*args, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected.text
    bad = live_server.run(
        "deploy", "--repository", item.repository, "--target", "nginx", timeout=60
    )
    assert bad.returncode == 2 and "choose one of istio, istio_legacy, envoy" in bad.stderr


def test_the_schema_check_catches_misspelt_and_mistyped_fields() -> None:
    """The validator is not vacuous: what the API server would prune or refuse fails here."""
    good = {
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": {"name": "f", "namespace": "istio-system"},
        "spec": {"url": "oci://h/r@sha256:" + "a" * 64, "sha256": "a" * 64, "priority": 1},
    }
    checks.validate_resource(good)
    for spec in (
        {**good["spec"], "pluginname": "x"},  # misspelt
        {**good["spec"], "priority": "1"},  # mistyped
        {**good["spec"], "sha256": "sha256:" + "a" * 64},  # pattern: bare hex only
        {**good["spec"], "phase": "LATE"},  # enum
    ):
        with pytest.raises(jsonschema.ValidationError):
            checks.validate_resource({**good, "spec": spec})
    with pytest.raises(KeyError):  # unknown fields in Envoy messages are refused too
        checks.parse_cluster({"name": "c", "conect_timeout": "1s"})
