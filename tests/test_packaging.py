"""deploy/: the Kubernetes manifests against the Kubernetes API schemas (kubernetes-validate's
bundled copies, with the network shut), the compose file against the Compose Specification
schema (vendored, tests/data/packaging/SOURCES.txt), the systemd unit with systemd-analyze, and
the Containerfile by parsing. No image is built: base images would need the network."""

from __future__ import annotations

import configparser
import copy
import json
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from hub.config import ConfigError, Settings
from hub.db.migrate import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# The oldest Kubernetes still commonly run and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|_KEY\b|ACCESS_KEY", re.I)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def manifests() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue  # kustomize's own file, not a Kubernetes object
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                yield path.name, doc


def by_kind() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for _, doc in manifests():
        found[doc["kind"]] = doc
    return found


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_manifests_match_the_api_schemas(version: str, no_network: None) -> None:
    kinds = []
    for name, doc in manifests():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name} ({doc['kind']}) is not valid for Kubernetes {version}: {exc}")
        kinds.append(doc["kind"])
    assert sorted(kinds) == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "Job",
            "PodDisruptionBudget",
            "Secret",
            "Service",
        ]
    )
    # The validation is real: a misspelt field and a wrong type are caught.
    deployment = copy.deepcopy(by_kind()["Deployment"])
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, version, strict=True)
    deployment = copy.deepcopy(by_kind()["Deployment"])
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, version, strict=True)


def _pod_security(pod: dict[str, Any]) -> None:
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Containerfile)
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"]["drop"] == ["ALL"]


def test_kubernetes_manifests_fit_together() -> None:
    k = by_kind()
    deployment, job = k["Deployment"], k["Job"]
    pod = deployment["spec"]["template"]["spec"]
    [server] = pod["containers"]
    assert server["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert server["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert server["args"] == ["serve"]
    _pod_security(pod)
    _pod_security(job["spec"]["template"]["spec"])
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    assert migrate["args"] == ["migrate"] and migrate["image"] == server["image"]
    # A read-only root needs a writable /tmp (upload spooling, metrics files).
    assert "/tmp" in {m["mountPath"] for m in server["volumeMounts"]}
    # Selectors and references line up.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert k["Service"]["spec"]["selector"].items() <= labels.items()
    assert k["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert k["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == "wasm-hub"
    [rule] = k["Ingress"]["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == k["Service"]["metadata"]["name"]
    port_names = {p["name"] for p in server["ports"]}
    assert backend["port"]["name"] in {p["name"] for p in k["Service"]["spec"]["ports"]}
    assert k["Service"]["spec"]["ports"][0]["targetPort"] in port_names
    for container in (server, migrate):
        refs = {next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert refs == {k["ConfigMap"]["metadata"]["name"], k["Secret"]["metadata"]["name"]}
    # kustomize applies everything but the example Secret.
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files


def _settings_from(env: dict[str, str]) -> Settings:
    unknown = [key for key in env if key.startswith("HUB_") and not _mentioned_in_hub(key)]
    assert not unknown, f"settings the hub does not read: {unknown}"
    try:
        return Settings.from_env(env)
    except ConfigError as exc:
        pytest.fail(f"the deployment's settings would stop the hub: {exc}")


def _mentioned_in_hub(key: str) -> bool:
    return any(key in p.read_text() for p in (ROOT / "hub").rglob("*.py"))


def test_kubernetes_settings_are_ones_the_hub_reads() -> None:
    k = by_kind()
    env = {**k["ConfigMap"]["data"], **k["Secret"]["stringData"]}
    settings = _settings_from(env)
    assert settings.auth == "required" and settings.storage_url.startswith("s3://")
    # The example Secret holds placeholders, never a usable secret.
    assert all("REPLACE_ME" in v for v in k["Secret"]["stringData"].values())
    assert not any(SECRETISH.search(key) for key in k["ConfigMap"]["data"])


def _compose() -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return found


def test_compose_file_matches_the_compose_spec() -> None:
    schema = json.loads((ROOT / "tests/data/packaging/compose-spec.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, errors
    # The schema has teeth: an unknown service key and a wrong type are errors.
    broken = _compose()
    broken["services"]["hub"]["helthcheck"] = {}
    broken["services"]["postgres"]["restart"] = 3
    paths = {tuple(e.path) for e in validator.iter_errors(broken)}
    assert ("services", "hub") in paths and ("services", "postgres", "restart") in paths


def test_compose_services_run_in_order_with_secrets_from_the_environment() -> None:
    services = _compose()["services"]
    assert set(services) == {"postgres", "seaweedfs", "bucket", "migrate", "hub"}
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    hub = services["hub"]
    assert hub["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert hub["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
    assert hub["command"][0] == "serve"
    assert hub["build"]["dockerfile"] == "deploy/Containerfile"
    assert (DEPLOY / hub["build"]["context"] / hub["build"]["dockerfile"]).is_file()
    # No secret is written in the file: each is an interpolation that must be set.
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if SECRETISH.search(key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value)), (name, key, value)
    assert ":?" in hub["environment"]["HUB_DATABASE_URL"]
    # The hub's environment, with the interpolations filled in, is valid.
    env = {
        k: re.sub(r"\$\{([A-Z0-9_]+)(:[?-][^}]*)?\}", "x", str(v))
        for k, v in hub["environment"].items()
    }
    settings = _settings_from(env)
    assert settings.database_url.startswith("postgresql+psycopg://")
    example = (DEPLOY / "compose.env.example").read_text()
    for var in set(re.findall(r"\$\{([A-Z0-9_]+):\?", (DEPLOY / "compose.yaml").read_text())):
        assert re.search(rf"^{var}=$", example, re.M), f"{var} missing or filled in the example"
    assert ".env" in (DEPLOY / ".gitignore").read_text().split()


UNIT = DEPLOY / "systemd" / "wasm-hub.service"


def test_systemd_unit(tmp_path: Path) -> None:
    text = UNIT.read_text()
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    service = parser["Service"]
    assert service["ExecStart"].endswith("wasm-hub serve")
    assert service["ExecStartPre"].endswith("wasm-hub migrate")
    for key, value in {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == value, key
    # wasmtime compiles to machine code at run time: W^X would break every module.
    assert "MemoryDenyWriteExecute" not in service
    assert parser["Install"]["WantedBy"] == "multi-user.target"

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return  # parsed above; systemd-analyze is not on every machine (containers)
    # verify checks that ExecStart's program exists; it is installed later, so point the copy
    # at one that exists. Every other line is verified as written.
    copy_ = tmp_path / "wasm-hub.service"
    copy_.write_text(text.replace("/opt/wasm-hub/venv/bin/wasm-hub", "/bin/true"))
    result = subprocess.run(
        [analyze, "verify", str(copy_)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr and "ignoring" not in result.stderr, result.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(copy_)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout)
    assert level, security.stdout + security.stderr
    assert float(level.group(1)) <= 2.0, security.stdout  # systemd rates <= 2.0 "OK"


def containerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuations joined and comments dropped."""
    lines: list[tuple[str, str]] = []
    pending = ""
    for raw in (DEPLOY / "Containerfile").read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        instruction, _, args = whole.partition(" ")
        lines.append((instruction.upper(), args.strip()))
    assert not pending, "the Containerfile ends inside a continued line"
    return lines


def test_containerfile() -> None:
    instructions = containerfile()
    known = {
        "FROM", "RUN", "COPY", "ENV", "ARG", "WORKDIR", "USER", "EXPOSE", "VOLUME", "LABEL",
        "HEALTHCHECK", "ENTRYPOINT", "CMD",
    }  # fmt: skip
    assert {i for i, _ in instructions} <= known
    stages = [args for i, args in instructions if i == "FROM"]
    assert len(stages) == 2 and all(re.search(r" AS \w+$", s, re.I) for s in stages)
    final_start = max(n for n, (i, _) in enumerate(instructions) if i == "FROM")
    final = instructions[final_start:]
    users = [args for i, args in final if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    # Nothing runs as root after the switch, and the process is the hub.
    after_user = final[max(n for n, (i, _) in enumerate(final) if i == "USER") :]
    assert not [i for i, _ in after_user if i == "RUN"]
    exec_form = {i: json.loads(a) for i, a in final if i in ("ENTRYPOINT", "CMD")}
    assert exec_form == {"ENTRYPOINT": ["wasm-hub"], "CMD": ["serve"]}
    [health] = [a for i, a in final if i == "HEALTHCHECK"]
    assert "/healthz" in health
    assert ("EXPOSE", "5000") in final
    assert [a for i, a in final if i == "COPY"] == ["--from=build /opt/wasm-hub /opt/wasm-hub"]
    # No secrets baked in: no secret-looking ENV/ARG, no downloads by ADD, no credentials.
    for instruction, args in instructions:
        if instruction in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_.]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRETISH.search(n)], (instruction, args)
        assert not re.search(r"://[^/\s]+:[^@\s]+@", args), args  # user:password@ URLs
    # What the build copies out of the context exists, and the rest (data/ with the
    # token-signing key, .venv, tests) is kept out of the context.
    for needed in ("pyproject.toml", "README.md", "hub", "migrations"):
        assert (ROOT / needed).exists()
    ignore = (DEPLOY / "Containerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("**") :][0] == "**" and "!data/**" not in ignore
    # hub.db.migrate finds migrations/ next to the package: the image keeps that layout.
    assert MIGRATIONS == ROOT / "migrations"
    env_line = " ".join(a for i, a in final if i == "ENV")
    settings = _settings_from(dict(re.findall(r"(HUB_[A-Z_]+)=(\S+)", env_line)))
    assert settings.database_url == "sqlite:////var/lib/wasm-hub/hub.db"


def test_readme_documents_operations() -> None:
    text = (ROOT / "README.md").read_text()
    headings = re.findall(r"^(#{2,3}) (.+)$", text, re.M)
    titles = [t for _, t in headings]
    for wanted in ("Deploying", "Backups", "Upgrades", "Sizing"):
        assert wanted in titles, f"README has no section {wanted!r}"
    deploying = text.split("## Deploying", 1)[1].split("\n## ", 1)[0]
    for word in ("compose", "Kubernetes", "systemd"):
        assert word in deploying
