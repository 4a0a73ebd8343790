"""The OpenAPI document at /api/openapi.json: a valid OpenAPI 3 document, complete (every /api
and /auth route the app serves is in it, and nothing else), and true enough that schemathesis,
fuzzing every operation against a live server anonymously and with a valid API token, gets no
5xx answer."""

from __future__ import annotations

import base64
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from starlette.routing import BaseRoute, Mount, Route

from hub.app import create_app
from hub.config import Settings
from tests.support.server import HubServer

DOCUMENTED_PREFIXES = ("/api", "/auth")
OPERATIONS_ROUTES = {"/healthz", "/readyz", "/metrics"}
# Examples per operation and generation mode, and the wall-clock budget of one fuzzing run:
# enough to hit every parameter with odd values, small enough for CI on two cores.
FIRST_ROUND = 2
ROUND = 3
BUDGET_SECONDS = 30.0  # per pass; two passes (anonymous, token)
_CONVERTER = re.compile(r"\{([^}:]+):[^}]+\}")


def app_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every endpoint, mounts included. HEAD is left out: Starlette
    answers it for every GET route by itself."""
    for route in routes:
        if isinstance(route, Mount):
            yield from app_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield method, prefix + route.path


def documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    """(method, app route) pairs the document covers: an operation's path, or the app route
    named by its path item's x-route (names with slashes share one catch-all route)."""
    found = set()
    for path, item in doc["paths"].items():
        for method in item:
            if method in ("get", "put", "post", "patch", "delete"):
                found.add((method.upper(), item.get("x-route", path)))
    return found


def _plain(path: str) -> str:
    return _CONVERTER.sub(r"{\1}", path)


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    from hub.api.openapi import document

    return document()


def test_the_document_is_valid_openapi_3(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.")
    validate(doc)  # raises with the offending location when it is not


def test_every_api_route_is_documented(doc: dict[str, Any], tmp_path: Path) -> None:
    settings_ = Settings(database_url=f"sqlite:///{tmp_path}/hub.db", storage_url="memory://")
    app = create_app(settings_)  # routes only; the lifespan (database, storage) never runs
    served = {
        (method, path)
        for method, path in app_routes(list(app.routes))
        if path.startswith(DOCUMENTED_PREFIXES) or path in OPERATIONS_ROUTES
    }
    covered = documented(doc)
    missing = sorted(served - covered)
    assert not missing, "routes served but missing from hub/api/openapi.yaml:\n" + "\n".join(
        f"  {method} {path}  (add paths.{_plain(path)}.{method.lower()}, or an "
        f"x-route: {path} on the path item that documents it)"
        for method, path in missing
    )
    stale = sorted(covered - served)
    assert not stale, "documented in hub/api/openapi.yaml but not served:\n" + "\n".join(
        f"  {method} {path}" for method, path in stale
    )


def test_the_document_is_served(live_server: HubServer, doc: dict[str, Any]) -> None:
    r = httpx.get(f"{live_server.url}/api/openapi.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == doc


@dataclass
class Fuzzing:
    cases: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    server_errors: list[str] = field(default_factory=list)
    rounds: int = 0
    unsatisfiable: list[str] = field(default_factory=list)


def fuzz(base_url: str, headers: dict[str, str], fixed_paths: dict[str, dict[str, str]]) -> Fuzzing:
    """Rounds over every operation, positive and negative: the first round (FIRST_ROUND
    cases each) always runs in full; further rounds (ROUND cases each, new seeds) run while
    the BUDGET_SECONDS last, so every operation is covered and the time stays bounded."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")
    result = Fuzzing()
    session = requests.Session()
    deadline = time.monotonic() + BUDGET_SECONDS
    operations = [found.ok() for found in schema.get_all_operations()]
    assert len(operations) > 25, "the document lists too few operations to be the real one"
    strategies = []
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            paths = fixed_paths.get(operation.path) if mode == GenerationMode.POSITIVE else None
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=paths)
            strategies.append((f"{label} ({mode.value})", strategy))
    for round_number in itertools.count():
        if round_number and time.monotonic() > deadline:
            break
        for label, strategy in strategies:
            if round_number and time.monotonic() > deadline:
                break
            if label in result.unsatisfiable:
                continue
            examples = FIRST_ROUND if round_number == 0 else ROUND
            _run(strategy, label, examples, round_number, session, base_url, headers, result)
        result.rounds = round_number + 1
    return result


def _run(
    strategy: Any,
    label: str,
    examples: int,
    seed_value: int,
    session: requests.Session,
    base_url: str,
    headers: dict[str, str],
    into: Fuzzing,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(seed_value)  # the same cases every run: a failure reproduces
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        into.cases += 1
        into.by_operation[label] = into.by_operation.get(label, 0) + 1
        if response.status_code >= 500:
            into.server_errors.append(
                f"{response.status_code} from {case.as_curl_command()}\n  {response.text[:300]}"
            )

    try:
        run()
    except Unsatisfiable:
        # Nothing to vary in this mode (no parameters or body to make invalid).
        into.unsatisfiable.append(label)


@pytest.fixture(scope="module")
def authed_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubServer, str]]:
    """A hub with auth on, a user with an admin API token, an organisation and a repository."""
    workdir = tmp_path_factory.mktemp("hub-openapi")
    # Webhooks the fuzzer creates must never be delivered (tests call nothing outside the
    # machine): the delivery queue is read once at start and then not for an hour.
    env = {"HUB_AUTH": "required", "HUB_WEBHOOK_POLL_SECONDS": "3600"}
    with HubServer(workdir, env) as server:
        server.cli("user", "create", "fuzz", "--password-stdin", stdin="fuzz-password\n")
        server.cli("org", "create", "fuzzorg", "--owner", "fuzz")
        token = server.cli("token", "create", "--user", "fuzz", "--scope", "admin").splitlines()[-1]
        with httpx.Client(base_url=server.url, auth=("fuzz", token), timeout=30) as client:
            config = b"{}"
            digest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
            r = client.post(
                "/v2/fuzz/app/blobs/uploads/", params={"digest": digest}, content=config
            )
            assert r.status_code == 201, r.text
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.empty.v1+json",
                    "digest": digest,
                    "size": 2,
                },
                "layers": [],
            }
            r = client.put(
                "/v2/fuzz/app/manifests/v1",
                content=json.dumps(manifest),
                headers={"Content-Type": manifest["mediaType"]},
            )
            assert r.status_code == 201, r.text
        yield server, token


# Real names for the positive cases, so they reach past "not found" into the handlers.
FIXED_PATHS = {
    "/api/v1/repositories/{name}": {"name": "fuzz/app"},
    "/api/v1/repositories/{name}/tags": {"name": "fuzz/app"},
    "/api/repositories/{name}/tags": {"name": "fuzz/app"},
    "/api/v1/repositories/{name}/star": {"name": "fuzz/app"},
    "/api/v1/repositories/{name}/trusted-publishers": {"name": "fuzz/app"},
    "/api/v1/orgs/{org}/members": {"org": "fuzzorg"},
    "/api/v1/orgs/{org}/robots": {"org": "fuzzorg"},
    "/api/v1/orgs/{org}/audit": {"org": "fuzzorg"},
}


def _report(kind: str, result: Fuzzing) -> None:
    print(
        f"\nschemathesis ({kind}): {result.cases} generated cases over "
        f"{len(result.by_operation)} operation/mode pairs, {len(result.server_errors)} server "
        f"errors; no negative cases possible for {result.unsatisfiable}"
        + f"; {result.rounds} round(s)"
    )


def test_schemathesis_finds_no_server_error_anonymous(authed_hub: tuple[HubServer, str]) -> None:
    server, _token = authed_hub
    result = fuzz(server.url, {}, FIXED_PATHS)
    _report("anonymous", result)
    assert not result.server_errors, "\n".join(result.server_errors)
    assert len(result.by_operation) + len(result.unsatisfiable) >= 2 * 29


def test_schemathesis_finds_no_server_error_with_a_token(
    authed_hub: tuple[HubServer, str],
) -> None:
    server, token = authed_hub
    headers = {"Authorization": "Basic " + base64.b64encode(f"fuzz:{token}".encode()).decode()}
    result = fuzz(server.url, headers, FIXED_PATHS)
    _report("API token", result)
    assert not result.server_errors, "\n".join(result.server_errors)
    assert len(result.by_operation) + len(result.unsatisfiable) >= 2 * 29
