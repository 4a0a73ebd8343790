"""Operations against a live `wasm-hub serve`: Prometheus metrics summed over two workers,
JSON log lines that carry the request id, no secret in any log line, and /readyz turning 503
when storage or the database goes away."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.postgres import ADMIN, fresh_database
from tests.support.server import HubServer, migrate

OCI = "application/vnd.oci.image.manifest.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(server: HubServer) -> Samples:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def log_lines(server: HubServer) -> list[dict[str, Any]]:
    lines = []
    for raw in server.log.read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))  # every structured line is one JSON object
    return lines


def push_image(client: httpx.Client, repo: str, layer: bytes, tag: str = "v1") -> str:
    config = b"{}"
    for blob in (config, layer):
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": sha(blob)}, content=blob)
        assert r.status_code == 201, r.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": sha(config),
                "size": 2,
            },
            "layers": [
                {"mediaType": "application/octet-stream", "digest": sha(layer), "size": len(layer)}
            ],
        }
    ).encode()
    r = client.put(f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI})
    assert r.status_code == 201, r.text
    return sha(manifest)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    workdir = tmp_path_factory.mktemp("hub-observability")
    env = {"HUB_LOG_FORMAT": "json", "HUB_ACCESS_LOG": "true"}
    # Each worker imports the whole app when it starts: allow for a busy machine.
    with HubServer(workdir, env, workers=2, log_level="info", start_timeout=90) as server:
        yield server


def test_metrics_add_up_across_two_workers(two_workers: HubServer) -> None:
    before = samples(two_workers)
    layer = secrets.token_bytes(20_000)
    pulls = 12
    # A new connection per request, so both workers answer some of them.
    fresh = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=two_workers.url, timeout=30, limits=fresh) as client:
        push_image(client, "metrics/app", layer)
        for _ in range(pulls):
            assert client.get(f"/v2/metrics/app/blobs/{sha(layer)}").content == layer
            assert (
                client.get("/v2/metrics/app/manifests/v1", headers={"Accept": OCI}).status_code
                == 200
            )
        assert client.get("/v2/metrics/nope/manifests/v1").status_code == 404
    blob_route = "/v2/{name}/blobs/{digest}"
    manifest_route = "/v2/{name}/manifests/{reference}"
    # Several scrapes, each answered by whichever worker: every one sees the sum of both.
    for _ in range(4):
        after = samples(two_workers)

        def delta(name: str, after: Samples = after, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        requests = "hub_http_requests_total"
        assert delta(requests, method="GET", route=blob_route, status="200") == pulls
        assert delta(requests, method="GET", route=manifest_route, status="200") == pulls
        assert delta(requests, method="GET", route=manifest_route, status="404") == 1
        assert delta(requests, method="PUT", route=manifest_route, status="201") == 1
        assert delta(requests, method="POST", route="/v2/{name}/blobs/uploads/", status="201") == 2
        # Bytes out of the blob route are exactly the pulled bytes; bytes in of uploads are
        # the pushed blobs.
        assert delta("hub_http_response_bytes_total", route=blob_route) == pulls * len(layer)
        assert (
            delta("hub_http_request_bytes_total", route="/v2/{name}/blobs/uploads/")
            == len(layer) + 2
        )
        latency = "hub_http_request_duration_seconds_count"
        assert delta(latency, method="GET", route=blob_route) == pulls
        assert value(after, "hub_uploads_in_flight") == 0
        assert value(after, "hub_http_requests_in_flight") == 1  # the scrape itself
        bucket = value(
            after,
            "hub_http_request_duration_seconds_bucket",
            method="GET",
            route=blob_route,
            le="+Inf",
        )
        assert bucket >= pulls


def test_json_logs_follow_the_request_id(two_workers: HubServer) -> None:
    rid = "trace-" + secrets.token_hex(6)
    r = httpx.get(f"{two_workers.url}/v2/logs/app/tags/list", headers={"X-Request-Id": rid})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == rid
    # A value that could forge log lines is replaced by a fresh id, which is echoed.
    r = httpx.get(f"{two_workers.url}/v2/", headers={"X-Request-Id": 'x" "level": "error'})
    made = r.headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()
    r = httpx.get(f"{two_workers.url}/v2/")
    assert len(r.headers["x-request-id"]) == 32
    deadline = time.monotonic() + 5
    while True:
        lines = log_lines(two_workers)
        mine = [line for line in lines if line.get("request_id") == rid]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mine, "no log line carries the request id"
    access = [line for line in mine if line["logger"] == "hub.access"]
    assert len(access) == 1
    assert access[0]["status"] == 404
    assert access[0]["route"] == "/v2/{name}/tags/list"
    assert access[0]["path"] == "/v2/logs/app/tags/list"
    assert access[0]["duration_ms"] >= 0
    assert any(line.get("request_id") == made for line in lines)
    # Every line is structured: time, level, logger, message, request_id (null outside requests).
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line)


def test_readyz_names_the_storage_that_failed(tmp_path: Path) -> None:
    with HubServer(tmp_path, {"HUB_LOG_FORMAT": "json"}, log_level="info") as server:
        r = httpx.get(f"{server.url}/readyz")
        assert r.status_code == 200 and r.json()["status"] == "ok", r.text
        blobs = tmp_path / "blobs"
        moved = tmp_path / "blobs-away"
        # Root ignores permissions, so the directory is made unusable another way: a plain
        # file where it was.
        blobs.rename(moved)
        blobs.write_text("not a directory")
        try:
            r = httpx.get(f"{server.url}/readyz")
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["failed"] == ["storage"]
            assert body["checks"]["database"]["ok"] is True
            assert "blobs" in body["checks"]["storage"]["error"]
            # A push now fails with the registry's 503; the storage error is counted, and
            # the log line about it carries the request's id.
            rid = "storage-" + secrets.token_hex(4)
            data = b"payload"
            r = httpx.post(
                f"{server.url}/v2/ready/app/blobs/uploads/",
                params={"digest": sha(data)},
                content=data,
                headers={"X-Request-Id": rid},
            )
            assert r.status_code == 503, r.text
            assert r.json()["errors"][0]["code"] == "UNAVAILABLE"
            assert value(samples(server), "hub_storage_errors_total", operation="write") >= 1
            failure = [
                line
                for line in log_lines(server)
                if line.get("request_id") == rid and line["logger"] == "hub.registry"
            ]
            assert failure and "storage failure" in failure[0]["message"]
            assert "Traceback" in failure[0]["exception"]
        finally:
            blobs.unlink()
            moved.rename(blobs)
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def _allow_connections(database: str, allow: bool) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            )


def test_readyz_names_the_database_that_failed(tmp_path: Path) -> None:
    with fresh_database("hub_ready") as url:
        env = {"HUB_DATABASE_URL": url}
        migrate(env, tmp_path)
        database = url.rsplit("/", 1)[1]
        with HubServer(tmp_path, env) as server:
            assert httpx.get(f"{server.url}/readyz").status_code == 200
            _allow_connections(database, False)
            try:
                r = httpx.get(f"{server.url}/readyz", timeout=30)
                assert r.status_code == 503, r.text
                assert r.json()["failed"] == ["database"]
                assert r.json()["checks"]["storage"]["ok"] is True
                assert "OperationalError" in r.json()["checks"]["database"]["error"]
                assert httpx.get(f"{server.url}/healthz").status_code == 200  # alive, not ready
                found = samples(server)
                assert (
                    sum(v for (name, _), v in found.items() if name == "hub_database_errors_total")
                    >= 1
                )
            finally:
                _allow_connections(database, True)
            assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200


def test_no_secret_reaches_the_logs(tmp_path: Path) -> None:
    env = {"HUB_AUTH": "required", "HUB_LOG_FORMAT": "text", "HUB_ACCESS_LOG": "true"}
    server = HubServer(tmp_path, env, log_level="debug")
    password = "pw-" + secrets.token_urlsafe(16)
    wrong = "wrong-" + secrets.token_urlsafe(16)
    # The database must exist before the user is created: the server migrates it at start.
    with server:
        server.cli("user", "create", "alice", "--password-stdin", stdin=password + "\n")
        token = server.cli("token", "create", "--user", "alice", "--scope", "admin").splitlines()[
            -1
        ]
        url = server.url
        with httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/api/v1/user", auth=("alice", password)).status_code == 200
            assert client.get("/api/v1/user", auth=("alice", token)).status_code == 200
            assert client.get("/api/v1/user", auth=("alice", wrong)).status_code == 401
            r = client.get(
                "/auth/token",
                params={
                    "service": "hub",
                    "scope": "repository:alice/app:pull,push",
                    "offline_token": "true",
                },
                auth=("alice", token),
            )
            bearer = r.json()["token"]
            refresh = r.json()["refresh_token"]
            assert (
                client.get("/v2/", headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
            )
            r = client.post(
                "/auth/token",
                data={
                    "grant_type": "password",
                    "username": "alice",
                    "password": password,
                    "service": "hub",
                    "access_type": "offline",
                },
            )
            assert r.status_code == 200
            r = client.post(
                "/auth/token",
                data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "hub"},
            )
            assert r.status_code == 200
            r = client.post(
                "/api/v1/tokens", json={"name": "ci", "scopes": ["pull"]}, auth=("alice", password)
            )
            assert r.status_code == 201
            minted = r.json()["token"]
            # A credential in a query string (a misconfigured client) is masked in the access line.
            client.get("/v2/", params={"token": minted, "password": password})
    text = server.log.read_text()
    assert "GET /api/v1/user" in text  # the requests were logged...
    for secret in (password, wrong, token, bearer, refresh, minted):
        assert secret not in text  # ...but none of their credentials
    assert "[REDACTED]" in text
