"""The filter playground against a live hub: real AssemblyScript filters pushed the way wasme
pushes them, run through POST /api/v1/playground and `wasm-hub run`; hand-built modules that
trap, spin or eat memory are stopped with their verdicts while the hub keeps serving; the
load check at push lands in the module's facts."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub.auth.accounts import AccountService
from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from tests.playground import modules
from tests.support.artifacts import OCI_CONFIG, OCI_MANIFEST, wasme_config
from tests.support.server import HubServer
from tests.support.wasme import WasmeClient

USERS = ("alice", "bob")
RATE = 60  # runs a minute per caller: bursts of 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    """One hub with auth on: alice pushes and plays; bob is the outsider."""
    workdir = tmp_path_factory.mktemp("hub-playground")
    database = f"sqlite:///{workdir}/hub.db"
    engine = make_engine(database)
    upgrade(engine)
    for user in USERS:  # in-process: a CLI start per user costs seconds on a busy machine
        AccountService(engine).create_user(user, password=f"{user}-pw")
    engine.dispose()
    env = {
        "HUB_AUTH": "required",
        "HUB_DATABASE_URL": database,
        "HUB_PLAYGROUND_WORKERS": "2",
        "HUB_PLAYGROUND_RATE": str(RATE),
    }
    with HubServer(workdir, env) as hub:
        yield hub


@pytest.fixture(scope="module")
def client(server: HubServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, auth=("alice", "alice-pw"), timeout=30) as c:
        yield c


def push(server: HubServer, wasm: bytes, root_id: str, tag: str = "v1") -> str:
    repo = f"alice/{root_id.replace('_', '-')}-{secrets.token_hex(3)}"
    with WasmeClient(server.url, "alice", "alice-pw") as wasme:
        wasme.push(repo, tag, wasm, wasme_config(root_ids=(root_id,)))
    return repo


def play(client: httpx.Client, repo: str, **body: Any) -> dict[str, Any]:
    r = client.post("/api/v1/playground", json={"repository": repo, "ref": "v1", **body})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def module_facts(client: httpx.Client, repo: str) -> dict[str, Any]:
    [tag] = client.get(f"/api/v1/repositories/{repo}").json()["tags"]
    facts: dict[str, Any] = tag["module"]
    return facts


@pytest.fixture(scope="module")
def add_header(server: HubServer, real_filter: bytes) -> str:
    return push(server, real_filter, "add_header")


@pytest.fixture(scope="module")
def require_header(server: HubServer, require_header_filter: bytes) -> str:
    return push(server, require_header_filter, "require_header")


def test_configuration_reaches_the_filter_and_its_header_is_added(
    client: httpx.Client, add_header: str
) -> None:
    result = play(
        client,
        add_header,
        config="from the playground",
        request={"method": "GET", "path": "/items?page=2", "headers": {"accept": "*/*"}},
        response={"status": 200, "headers": [["content-type", "text/plain"]], "body": "hi"},
    )
    assert result["ok"] and result["outcome"] == "forwarded", result["verdict"]
    assert result["root_id"] == "add_header" and result["abi"] == "0.2.0"
    response = result["client"]["response"]
    assert response["status"] == 200 and response["body"] == "hi"
    assert ["hello", "from the playground"] in response["headers"]
    assert result["diff"]["response_headers"]["added"] == [["hello", "from the playground"]]
    assert result["diff"]["request_headers"] == {"added": [], "removed": [], "changed": []}
    upstream = result["upstream"]["request"]
    assert upstream["path"] == "/items?page=2" and ["accept", "*/*"] in upstream["headers"]
    by_name = {c["callback"]: c for c in result["callbacks"]}
    assert by_name["proxy_on_response_headers"]["action"] == "Continue"
    assert any(
        "Updating this.configuration=from the playground" in e["message"] for e in result["logs"]
    )
    assert result["module"]["repository"] == add_header
    assert result["timing"]["total_ms"] > 0


def test_a_local_response_short_circuits(client: httpx.Client, require_header: str) -> None:
    denied = play(client, require_header, config="x-api-key", request={"path": "/secret"})
    assert denied["ok"] and denied["outcome"] == "local_response", denied["verdict"]
    assert denied["upstream"] == {"reached": False, "request": None}
    response = denied["client"]["response"]
    assert response["status"] == 403 and response["body"] == "missing header x-api-key\n"
    # The response callbacks ran on the local response, as in Envoy.
    assert ["x-required-header", "x-api-key"] in response["headers"]
    assert ["x-denied-by", "require-header"] in response["headers"]
    assert denied["local_response"]["sent_in"] == "proxy_on_request_headers"
    actions = {c["callback"]: c.get("action") for c in denied["callbacks"]}
    assert actions["proxy_on_request_headers"] == "StopIteration"
    assert denied["metrics"] == [{"name": "require_header_denied", "type": "counter", "value": 1}]
    assert any(e["level"] == "warn" and "answering 403" in e["message"] for e in denied["logs"])

    allowed = play(
        client,
        require_header,
        config="x-api-key",
        request={"path": "/secret", "headers": {"x-api-key": "s3cret"}},
        response={"status": 201},
    )
    assert allowed["outcome"] == "forwarded" and allowed["client"]["response"]["status"] == 201
    assert allowed["diff"]["request_headers"]["added"] == [["x-auth-checked", "true"]]


class Prober:
    """GETs /healthz and a manifest in a loop on another thread; the slowest answer."""

    def __init__(self, server: HubServer, repo: str) -> None:
        self.urls = [f"{server.url}/healthz", f"{server.url}/v2/{repo}/manifests/v1"]
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        with httpx.Client(timeout=10, auth=("alice", "alice-pw")) as http:
            while not self._stop.is_set():
                for url in self.urls:
                    started = time.monotonic()
                    r = http.get(
                        url, headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}
                    )
                    self.latencies.append(time.monotonic() - started)
                    if r.status_code != 200:
                        self.failures.append(f"{url}: {r.status_code}")
                time.sleep(0.01)

    def settle(self, more: int) -> None:
        """Wait until `more` further GETs have been answered."""
        target = len(self.latencies) + more
        deadline = time.monotonic() + 10
        while len(self.latencies) < target and time.monotonic() < deadline:
            time.sleep(0.005)

    def __enter__(self) -> Prober:
        self._thread.start()
        self.settle(2)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.mark.parametrize(
    ("name", "body", "verdict"),
    [
        ("trap", modules.TRAP, "trap: unreachable in proxy_on_request_headers"),
        ("loop", modules.LOOP, "exceeded 100 ms CPU budget in proxy_on_request_headers"),
        ("bomb", modules.BOMB, "memory limit 64 MiB exceeded in proxy_on_request_headers"),
    ],
)
def test_bad_modules_are_stopped_while_the_hub_keeps_serving(
    server: HubServer, client: httpx.Client, add_header: str, name: str, body: str, verdict: str
) -> None:
    repo = push(server, modules.skeleton(request_headers=body), f"bad_{name}")
    with Prober(server, add_header) as probe:
        before = len(probe.latencies)
        started = time.monotonic()
        result = play(client, repo)
        elapsed = time.monotonic() - started
        during = len(probe.latencies) - before
        probe.settle(2)
    assert not result["ok"] and result["outcome"] == "error"
    assert result["verdict"].startswith(verdict), result["verdict"]
    assert result["error"]["callback"] == "proxy_on_request_headers"
    assert elapsed < 2, f"the {name} run took {elapsed:.2f} s"
    assert probe.latencies and not probe.failures, probe.failures
    slowest = max(probe.latencies)
    print(
        f"{name}: run {elapsed * 1000:.0f} ms; {during} GETs answered during it, "
        f"slowest {slowest * 1000:.1f} ms"
    )
    assert slowest < 1.0, f"a concurrent GET took {slowest:.2f} s during the {name} run"


def test_load_check_is_a_module_fact(
    server: HubServer, client: httpx.Client, add_header: str
) -> None:
    good = module_facts(client, push(server, modules.skeleton(), "good"))
    assert good["load_check"]["ok"] is True and good["load_check"]["abi"] == "0.2.x"
    bad = module_facts(client, push(server, modules.unlinkable(), "unlinkable"))
    assert bad["load_check"]["ok"] is False
    assert (
        "env.proxy_open_socket: unknown to a proxy-wasm 0.2.x host" in bad["load_check"]["reason"]
    )
    trap = module_facts(client, push(server, modules.skeleton(configure=modules.TRAP), "traps"))
    assert trap["load_check"] == {
        "ok": False,
        "reason": "trap: unreachable in proxy_on_configure (configured with an empty "
        "configuration)",
        "abi": "0.2.x",
    }
    # The AssemblyScript SDK 0.1.8 trips over an empty configuration in proxy_on_configure
    # (it reads a stale buffer); the fact says so rather than failing the push.
    real = module_facts(client, add_header)["load_check"]
    assert real["ok"] is False, real
    assert real["reason"].startswith("trap: ") and real["reason"].endswith(
        "in proxy_on_configure (configured with an empty configuration)"
    ), real


def test_bad_requests_are_refused_with_the_field(client: httpx.Client, add_header: str) -> None:
    cases: list[tuple[Any, int, str]] = [
        ({"ref": "v1"}, 400, "repository is required"),
        (
            {"repository": add_header, "request": {"headers": {"bad name": "x"}}},
            400,
            "not a valid header name",
        ),
        ({"repository": add_header, "response": {"status": 42}}, 400, "response.status"),
        ({"repository": add_header, "colour": "red"}, 400, "unknown fields: colour"),
        ({"repository": "alice/nothing-here"}, 404, "does not exist"),
        ({"repository": add_header, "ref": "v9"}, 404, "no tag or manifest 'v9'"),
    ]
    for body, status, message in cases:
        r = client.post("/api/v1/playground", json=body)
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["errors"][0]["message"], r.text
    r = client.post("/api/v1/playground", content=b"{not json")
    assert r.status_code == 400 and "not JSON" in r.text


def test_an_artifact_without_a_module_is_not_run(client: httpx.Client) -> None:
    config = b"{}"
    digest = "sha256:" + hashlib.sha256(config).hexdigest()
    repo = f"alice/plain-{secrets.token_hex(3)}"
    r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=config)
    assert r.status_code == 201, r.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest, "size": len(config)},
        "layers": [],
    }
    r = client.put(
        f"/v2/{repo}/manifests/v1", json=manifest, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    r = client.post("/api/v1/playground", json={"repository": repo, "ref": "v1"})
    assert r.status_code == 400
    assert "carries no WebAssembly module: nothing to run" in r.json()["errors"][0]["message"]


def test_cli_prints_what_the_api_answers(
    server: HubServer, client: httpx.Client, require_header: str
) -> None:
    body = {
        "config": "x-token",
        "request": {"method": "POST", "path": "/", "headers": [["x-token", "t"]]},
        "response": {"status": 200, "headers": [["server", "upstream"]]},
    }
    api = play(client, require_header, **body)
    cli = server.run(
        "run", f"{require_header}:v1", "--config", "x-token", "--method", "POST",
        "--header", "x-token=t", "--response-header", "server=upstream", "--json",
        timeout=60,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)

    def stable(result: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in result.items() if k != "timing"}
        out["callbacks"] = [{k: v for k, v in c.items() if k != "ms"} for c in result["callbacks"]]
        return out

    assert stable(printed) == stable(api)
    assert printed["diff"]["request_headers"]["added"] == [["x-auth-checked", "true"]]


def test_cli_summary_without_json(
    client: httpx.Client, require_header: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.playground.cli import _show

    _show(play(client, require_header, config="x-token"))
    printed = capsys.readouterr().out
    assert "verdict: local response 403 sent from proxy_on_request_headers" in printed
    assert "upstream got: nothing" in printed and "client got: 403" in printed
    assert "response header added: x-required-header: x-token" in printed
    assert "metric require_header_denied (counter) = 1" in printed


def test_private_repositories_and_the_rate_limit(
    server: HubServer, client: httpx.Client, real_filter: bytes
) -> None:
    repo = push(server, real_filter, "add_header", tag="v1")
    r = client.patch(f"/api/v1/repositories/{repo}", json={"private": True})
    assert r.status_code == 200 and r.json()["private"] is True
    body = {"repository": repo, "ref": "v1", "config": "x"}
    assert client.post("/api/v1/playground", json=body).status_code == 200
    with httpx.Client(base_url=server.url, auth=("bob", "bob-pw"), timeout=30) as bob:
        hidden = bob.post("/api/v1/playground", json=body)
        assert hidden.status_code == 404 and "does not exist" in hidden.text
        # Bob's bucket runs dry after its burst; the 429 says when to come back.
        statuses = [bob.post("/api/v1/playground", json=body).status_code for _ in range(24)]
        assert statuses[:18] == [404] * 18 and statuses[-1] == 429, statuses
        limited = bob.post("/api/v1/playground", json=body)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "too many playground runs" in limited.json()["errors"][0]["message"]
    # Alice's bucket is her own.
    assert client.post("/api/v1/playground", json=body).status_code == 200
