"""Identity and access with HUB_AUTH=required: the registry token flow, API tokens, robots,
organisations and private repositories. The matrix checks that nothing private leaks."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import HubServer, migrate

OCI = "application/vnd.oci.image.manifest.v1+json"


@dataclass
class World:
    server: HubServer
    tokens: dict[str, str]  # who -> API token (or password for "*-password")

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, who: str | None) -> httpx.Client:
        auth = None if who is None else (who.split("-")[0], self.tokens[who])
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)


def push(client: httpx.Client, repo: str, tag: str = "v1", salt: bytes = b"") -> httpx.Response:
    config = b'{"salt":"' + salt.hex().encode() + b'"}'
    d = "sha256:" + hashlib.sha256(config).hexdigest()
    r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=config)
    if r.status_code != 201:
        return r
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI,
            "layers": [],
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": d,
                "size": len(config),
            },
        }
    ).encode()
    return client.put(
        f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI}
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("hub-auth")
    env = {"HUB_AUTH": "required", "HUB_DATABASE_URL": f"sqlite:///{workdir}/hub.db"}
    migrate(env, workdir)
    with HubServer(workdir, env) as server:
        tokens: dict[str, str] = {}
        for user in ("alice", "bob", "carol", "dave"):
            server.cli("user", "create", user, "--password-stdin", stdin=f"{user}-pw\n")
            tokens[f"{user}-password"] = f"{user}-pw"
            out = server.cli("token", "create", "--user", user, "--scope", "admin")
            tokens[user] = out.strip().splitlines()[-1]
        out = server.cli("token", "create", "--user", "alice", "--scope", "pull")
        tokens["alice-pullonly"] = out.strip().splitlines()[-1]
        server.cli("org", "create", "acme", "--owner", "alice")
        world = World(server, tokens)
        with world.client("alice") as alice:
            assert (
                alice.put("/api/v1/orgs/acme/members/bob", json={"role": "maintainer"}).status_code
                == 200
            )
            assert (
                alice.put("/api/v1/orgs/acme/members/carol", json={"role": "reader"}).status_code
                == 200
            )
            for repo in ("alice/public", "alice/secret", "acme/public", "acme/secret"):
                assert push(alice, repo).status_code == 201, repo
            for repo in ("alice/secret", "acme/secret"):
                r = alice.patch(f"/api/v1/repositories/{repo}", json={"private": True})
                assert r.status_code == 200 and r.json()["private"] is True
        yield world


# who, repository, may pull, may push, may delete
MATRIX = [
    (None, "alice/public", True, False, False),
    (None, "alice/secret", False, False, False),
    (None, "acme/secret", False, False, False),
    ("alice", "alice/secret", True, True, True),
    ("alice", "acme/secret", True, True, True),  # org owner
    ("bob", "acme/secret", True, True, False),  # maintainer
    ("bob", "alice/secret", False, False, False),  # outsider to alice's namespace
    ("bob", "alice/public", True, False, False),
    ("carol", "acme/secret", True, False, False),  # reader
    ("dave", "acme/secret", False, False, False),  # outsider
    ("dave", "acme/public", True, False, False),
    ("alice-pullonly", "alice/secret", True, False, False),  # token scope narrows
]


@pytest.mark.parametrize(("who", "repo", "pull", "can_push", "delete"), MATRIX)
def test_authorisation_matrix(
    world: World, who: str | None, repo: str, pull: bool, can_push: bool, delete: bool
) -> None:
    with world.client(who) as c:
        got = c.get(f"/v2/{repo}/manifests/v1")
        assert (got.status_code == 200) is pull, got.text
        if not pull:
            # anonymous: a challenge; signed in: the repository does not exist for them
            assert got.status_code == (401 if who is None else 404)
            assert got.json()["errors"][0]["code"] in ("UNAUTHORIZED", "NAME_UNKNOWN")
        pushed = push(c, repo, tag=f"t-{who}", salt=os.urandom(4))
        assert (pushed.status_code == 201) is can_push, pushed.text
        listed = c.get("/api/v1/repositories", params={"per_page": 100})
        names = [r["repository"] for r in listed.json()["results"]]
        assert (repo in names) is pull
        detail = c.get(f"/api/v1/repositories/{repo}")
        assert (detail.status_code == 200) is pull
        found = c.get(f"/api/search?q={repo.split('/')[1]}").json()["repository"]
        assert (repo in [r["repository_name"] for r in found]) is pull
        projects = [p["name"] for p in c.get("/api/projects").json()]
        if pull:
            assert repo.split("/")[0] in projects
        if who is not None:
            catalog = c.get("/v2/_catalog").json()["repositories"]
            assert (repo in catalog) is pull
        if delete:
            assert c.delete(f"/v2/{repo}/manifests/t-{who}").status_code == 202
        elif pull:
            assert c.delete(f"/v2/{repo}/manifests/v1").status_code in (401, 403)


def test_registry_token_flow(world: World) -> None:
    """token.md: challenge, token by GET with Basic, access = asked ∩ allowed."""
    anonymous = httpx.get(f"{world.url}/v2/alice/secret/manifests/v1")
    challenge = anonymous.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'scope="repository:alice/secret:pull"' in challenge
    realm = challenge.split('realm="')[1].split('"')[0]
    service = challenge.split('service="')[1].split('"')[0]
    r = httpx.get(
        realm,
        params={
            "service": service,
            "scope": ["repository:acme/secret:pull,push,delete", "repository:alice/secret:pull"],
        },
        auth=("bob", world.tokens["bob"]),
    )
    assert r.status_code == 200
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] >= 60
    import jwt

    header = jwt.get_unverified_header(body["token"])
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert header["kid"] and {"iss", "sub", "aud", "exp", "nbf", "iat", "jti"} <= set(claims)
    assert claims["access"] == [
        {"type": "repository", "name": "acme/secret", "actions": ["pull", "push"]},
        {"type": "repository", "name": "alice/secret", "actions": []},
    ]
    # the JWKS verifies it
    jwks = httpx.get(f"{world.url}/auth/jwks.json").json()
    key = jwt.PyJWK(jwks["keys"][0])
    jwt.decode(body["token"], key.key, algorithms=["ES256"], audience=service)
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert httpx.get(f"{world.url}/v2/acme/secret/manifests/v1", headers=bearer).status_code == 200
    denied = httpx.get(f"{world.url}/v2/alice/secret/manifests/v1", headers=bearer)
    assert denied.status_code == 401
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    # POST form, as containerd and wasme send it, with a refresh token
    r = httpx.post(
        realm,
        data={
            "grant_type": "password",
            "username": "alice",
            "password": world.tokens["alice-password"],
            "service": service,
            "client_id": "containerd-client",
            "access_type": "offline",
            "scope": "repository:alice/secret:pull",
        },
    )
    assert r.status_code == 200 and "refresh_token" in r.json()
    r2 = httpx.post(
        realm,
        data={
            "grant_type": "refresh_token",
            "service": service,
            "refresh_token": r.json()["refresh_token"],
            "scope": "repository:alice/secret:pull",
        },
    )
    assert r2.status_code == 200
    wrong = httpx.post(
        realm,
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "nope",
            "service": service,
        },
    )
    assert wrong.status_code == 401


def test_tokens_revoked_and_expired(world: World) -> None:
    with world.client("dave-password") as dave:
        created = dave.post("/api/v1/tokens", json={"name": "ci", "scopes": ["push"]})
        assert created.status_code == 201
        token = created.json()["token"]
        assert token not in json.dumps(dave.get("/api/v1/tokens").json())  # shown once
        with httpx.Client(base_url=world.url, auth=("dave", token)) as ci:
            assert push(ci, "dave/ci").status_code == 201
        # wasme login: GET /api/users/current with Basic user:token
        me = httpx.get(f"{world.url}/api/users/current", auth=("dave", token))
        assert me.status_code == 200 and me.json()["username"] == "dave"
        assert dave.delete(f"/api/v1/tokens/{created.json()['id']}").status_code == 204
    assert (
        httpx.get(f"{world.url}/v2/dave/ci/manifests/v1", auth=("dave", token)).status_code == 401
    )
    out = world.server.cli("token", "create", "--user", "dave", "--expires-days", "1")
    short = out.strip().splitlines()[-1]
    import sqlite3

    db = sqlite3.connect(world.server.workdir / "hub.db")
    db.execute(
        "UPDATE api_tokens SET expires_at = '2000-01-01 00:00:00' WHERE prefix = ?",
        (short.split("_")[1],),
    )
    db.commit()
    assert (
        httpx.get(f"{world.url}/v2/dave/ci/manifests/v1", auth=("dave", short)).status_code == 401
    )


def test_robot_and_audit_log(world: World) -> None:
    with world.client("alice") as alice:
        robot = alice.post("/api/v1/orgs/acme/robots", json={"name": "ci", "scopes": ["push"]})
        assert robot.status_code == 201, robot.text
        username, token = robot.json()["username"], robot.json()["token"]
        with httpx.Client(base_url=world.url, auth=(username, token)) as robot_client:
            assert push(robot_client, "acme/built").status_code == 201
        events = alice.get("/api/v1/orgs/acme/audit").json()["events"]
        assert {"org.create", "role.change", "token.create", "push"} <= {
            e["action"] for e in events
        }
    with world.client("bob") as bob:  # a maintainer is not an owner
        assert bob.get("/api/v1/orgs/acme/audit").status_code == 404


def test_conformance_suite_with_a_token(tmp_path: Path) -> None:
    """Every conformance workflow passes with auth on, a user's token as the password."""
    env = {"HUB_AUTH": "required", "HUB_DATABASE_URL": f"sqlite:///{tmp_path}/hub.db"}
    migrate(env, tmp_path)
    with HubServer(tmp_path, env) as server:
        server.cli("user", "create", "conformance", "--password-stdin", stdin="pw\n")
        token = (
            server.cli("token", "create", "--user", "conformance", "--scope", "admin")
            .strip()
            .splitlines()[-1]
        )
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/conformance"],
            env={
                **os.environ,
                "OCI_ROOT_URL": server.url,
                "OCI_USERNAME": "conformance",
                "OCI_PASSWORD": token,
                "OCI_AUTOMATIC_CROSSMOUNT": "1",
                # The Go default is a random top-level namespace; with auth on, pushes go to
                # namespaces the user owns.
                "OCI_CROSSMOUNT_NAMESPACE": "conformance/crossmount",
                "CONFORMANCE_TARGET_IS_HUB": "1",
            },
            capture_output=True,
            text=True,
            timeout=300,
            cwd=Path(__file__).resolve().parents[2],
        )
    tail = result.stdout[-3000:]
    assert result.returncode == 0, tail
    assert " failed" not in tail.splitlines()[-1] and "passed" in tail.splitlines()[-1]


def test_api_refusals_share_one_shape(world: World) -> None:
    """The account, webhook and trusted-publishing APIs read bodies, scopes and callers the
    same way: each refusal names what was wrong."""

    def refusal(who: str | None, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        with world.client(who) as c:
            r = c.request(method, path, **kwargs)
        [error] = r.json()["errors"]
        return r.status_code, f"{error['code']}: {error['message']}"

    not_object = (400, "BAD_REQUEST: the body must be a JSON object")
    assert refusal("alice", "POST", "/api/v1/tokens", json=["pull"]) == not_object
    assert refusal("alice", "POST", "/api/v1/orgs", content=b"{") == not_object
    assert refusal(None, "POST", "/api/v1/trusted-publishing/exchange", json=1) == not_object
    assert refusal("alice", "POST", "/api/v1/namespaces/alice/webhooks", json=[]) == not_object
    assert refusal("alice-pullonly", "POST", "/api/v1/tokens", json={}) == (
        403,
        "DENIED: this needs a password sign-in or a token with the admin scope",
    )
    publishers = "/api/v1/repositories/alice/public/trusted-publishers"
    assert refusal("alice-pullonly", "GET", publishers) == (
        404,
        "NOT_FOUND: no repository 'alice/public' whose publishers you manage",
    )
    # Service errors map by kind: Conflict -> 409, Missing -> 404.
    assert refusal("alice", "POST", "/api/v1/orgs", json={"name": "acme"}) == (
        409,
        "CONFLICT: the namespace 'acme' is taken",
    )
    members = "/api/v1/orgs/acme/members/nobody"
    assert refusal("alice", "PUT", members, json={"role": "reader"}) == (
        404,
        "NOT_FOUND: no user 'nobody'",
    )
    # Webhooks: anonymous callers sign in first (this hub is not open); a stranger's
    # namespace does not exist for them.
    assert refusal(None, "GET", "/api/v1/namespaces/alice/webhooks") == (
        401,
        "UNAUTHORIZED: sign in with a hub user's name and a password or API token",
    )
    assert refusal("bob", "GET", "/api/v1/namespaces/alice/webhooks") == (
        404,
        "NOT_FOUND: no namespace 'alice' that you manage",
    )
