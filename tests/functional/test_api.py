"""The JSON APIs over HTTP: /api/v1 and the Harbor-v1 shapes wasme unmarshals."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from tests.support.server import HubServer, migrate

OCI = "application/vnd.oci.image.manifest.v1+json"


def go_time(value: str) -> datetime:
    """What Go's time.Time accepts from JSON: RFC 3339 with a zone."""
    assert value.endswith("Z") or value[-6] in "+-", value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def push(client: httpx.Client, repo: str, tag: str, annotations: dict[str, str]) -> str:
    digests = []
    for data in (b'{"type":"envoy_proxy"}', b"\0asm\x01\0\0\0" + secrets.token_bytes(8)):
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=data)
        assert r.status_code == 201
        digests.append((d, len(data)))
    manifest = {
        "schemaVersion": 2,
        "config": {
            "mediaType": "application/vnd.example.config+json",
            "digest": digests[0][0],
            "size": digests[0][1],
        },
        "layers": [
            {
                "mediaType": "application/vnd.example.layer",
                "digest": digests[1][0],
                "size": digests[1][1],
            }
        ],
        "annotations": annotations,
    }
    r = client.put(
        f"/v2/{repo}/manifests/{tag}", content=json.dumps(manifest), headers={"Content-Type": OCI}
    )
    assert r.status_code == 201, r.text
    return str(r.headers["docker-content-digest"])


@pytest.fixture
def client(live_server: HubServer) -> httpx.Client:
    with httpx.Client(base_url=live_server.url, timeout=30) as c:
        yield c


def test_repository_detail_tags_and_metadata(client: httpx.Client) -> None:
    ns = f"api{secrets.token_hex(3)}"
    repo = f"{ns}/add-header"
    digest = push(client, repo, "v1", {"module.wasm.runtime/abi_version": "v0.2.1"})
    detail = client.get(f"/api/v1/repositories/{repo}")
    assert detail.status_code == 200
    body = detail.json()
    assert body["repository"] == repo and body["namespace"] == ns
    [tag] = body["tags"]
    assert tag["name"] == "v1" and tag["digest"] == digest
    assert tag["annotations"] == {"module.wasm.runtime/abi_version": "v0.2.1"}
    assert tag["size"] > 0
    go_time(tag["pushed_at"])
    assert client.get(f"/api/v1/repositories/{repo}/tags").json()["tags"][0]["name"] == "v1"
    assert client.get(f"/api/v1/repositories/{ns}/missing").status_code == 404
    assert client.get("/api/v1/repositories/UPPER/x").status_code == 400

    r = client.patch(
        f"/api/v1/repositories/{repo}",
        json={"description": "Adds a header", "keywords": ["Headers", "demo"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["description"] == "Adds a header"
    assert r.json()["keywords"] == ["headers", "demo"]
    bad = client.patch(f"/api/v1/repositories/{repo}", json={"stars": 1000})
    assert bad.status_code == 400 and bad.json()["errors"][0]["message"]
    listed = client.get("/api/v1/repositories", params={"per_page": 100}).json()
    assert repo in [r["repository"] for r in listed["results"]]


def test_pulls_are_counted(client: httpx.Client) -> None:
    repo = f"pulls{secrets.token_hex(3)}/f"
    push(client, repo, "v1", {})
    digest = push(client, repo, "v2", {"v": "2"})
    for _ in range(3):
        assert client.get(f"/v2/{repo}/manifests/v1").status_code == 200
    assert client.get(f"/v2/{repo}/manifests/v2").status_code == 200
    # By digest: the repository's pull, no tag's.
    assert client.get(f"/v2/{repo}/manifests/{digest}").status_code == 200
    client.head(f"/v2/{repo}/manifests/v1")  # a HEAD is not a pull
    deadline = time.monotonic() + 10
    while (body := client.get(f"/api/v1/repositories/{repo}").json())["pulls"] != 5:
        assert time.monotonic() < deadline, f"pull count never reached 5: {body['pulls']}"
        time.sleep(0.1)
    assert {t["name"]: t["pulls"] for t in body["tags"]} == {"v1": 3, "v2": 1}


def test_harbor_endpoints_as_wasme_reads_them(client: httpx.Client) -> None:
    ns = f"harbor{secrets.token_hex(3)}"
    repo = f"{ns}/filter"
    digest = push(
        client,
        repo,
        "v1",
        {
            "module.wasm.runtime/abi_version": "v0-4689a30309abf31aee9ae36e73d34b1bb182685f",
            "module.wasm.runtime/type": "envoy_proxy",
        },
    )
    projects = client.get("/api/projects").json()
    [project] = [p for p in projects if p["name"] == ns]
    assert isinstance(project["project_id"], int) and project["repo_count"] == 1
    go_time(project["creation_time"]), go_time(project["update_time"])
    repos = client.get(f"/api/repositories?project_id={project['project_id']}").json()
    assert [r["name"] for r in repos] == [repo]
    # wasme sends the query unescaped
    found = client.get(f"/api/search?q={ns}").json()
    assert [r["repository_name"] for r in found["repository"]] == [repo]
    hit = found["repository"][0]
    assert hit["project_name"] == ns and hit["project_public"] is True
    assert isinstance(hit["pull_count"], int) and hit["tags_count"] == 1
    tags = client.get(f"/api/repositories/{repo}/tags?detail=true").json()
    [tag] = tags
    assert tag["digest"] == digest and tag["name"] == "v1" and tag["size"] > 0
    assert tag["annotations"]["module.wasm.runtime/type"] == "envoy_proxy"
    for key in ("created", "push_time", "pull_time"):
        go_time(tag[key])
    assert client.get("/api/repositories").status_code == 400


def test_users_current_for_wasme_login(tmp_path: Path) -> None:
    env = {"HUB_AUTH": "required", "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db"}
    migrate(env, tmp_path)
    with HubServer(tmp_path, env) as server:
        server.cli(
            "user", "create", "bob", "--email", "bob@example.test", "--password-stdin",
            stdin="pw-123\n",
        )  # fmt: skip
        r = httpx.get(f"{server.url}/api/users/current", auth=("bob", "pw-123"))
        assert r.status_code == 200
        body = r.json()
        assert body["username"] == "bob" and body["email"] == "bob@example.test"
        assert isinstance(body["user_id"], int)
        go_time(body["creation_time"]), go_time(body["update_time"])
        assert httpx.get(f"{server.url}/api/users/current").status_code == 401
        assert httpx.get(f"{server.url}/api/users/current", auth=("bob", "x")).status_code == 401


def test_repository_errors_name_it_on_v1_but_not_on_harbor(client: httpx.Client) -> None:
    missing = f"gone{secrets.token_hex(3)}/filter"

    def error(path: str, status: int, **params: str) -> dict[str, object]:
        r = client.get(path, params=params)
        assert r.status_code == status, r.text
        [found] = r.json()["errors"]
        return dict(found)

    assert error(f"/api/v1/repositories/{missing}/tags", 404) == {
        "code": "NOT_FOUND",
        "message": f"repository {missing!r} does not exist",
        "detail": {"repository": missing},
    }
    assert error("/api/v1/repositories/UPPER/x", 400)["detail"] == {"repository": "UPPER/x"}
    assert error("/api/v1/repositories", 400, per_page="101")["detail"] == {"per_page": "101"}
    # Harbor's shapes: the message alone, as wasme has always been answered.
    assert error(f"/api/repositories/{missing}/tags", 404) == {
        "code": "NOT_FOUND",
        "message": f"repository {missing!r} does not exist",
    }
    assert "detail" not in error("/api/repositories/UPPER/x/tags", 400)
    paged = error("/api/repositories", 400, project_id="1", page_size="501")
    assert paged["detail"] == {"page_size": "501"}
