"""Trusted publishing: a CI job's OIDC token, checked against its issuer's JWKS, buys a
short-lived registry token that pushes one repository (with oras-py) and nothing else.

The CI issuer is a loopback HTTP server serving a discovery document and a JWKS, signing tokens
with a test RSA key the way GitHub Actions does (claims from docs.github.com "About security
hardening with OpenID Connect")."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import oras.provider
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.artifacts import WASME_CONFIG, WASME_LAYER, minimal_wasm, wasme_config
from tests.support.oras_push import push_module
from tests.support.server import HubServer

AUDIENCE = "wasm-hub"
REPO_CLAIMS = {
    "repository": "alice/filter-src",
    "workflow_ref": "alice/filter-src/.github/workflows/release.yml@refs/heads/main",
}


class CiIssuer:
    """An OIDC token issuer on 127.0.0.1: /.well-known/openid-configuration and /jwks."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "ci-key-1"
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        jwks = json.dumps({"keys": [jwk]}).encode()
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                if self.path == "/.well-known/openid-configuration":
                    body = json.dumps(
                        {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks"}
                    ).encode()
                elif self.path == "/jwks":
                    body = jwks
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def token(self, key: Any = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "repo:alice/filter-src:ref:refs/heads/main",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            **REPO_CLAIMS,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def issuer() -> Iterator[CiIssuer]:
    found = CiIssuer()
    yield found
    found.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, issuer: CiIssuer) -> Iterator[HubServer]:
    workdir = tmp_path_factory.mktemp("hub-trusted")
    env = {
        "HUB_AUTH": "required",
        "HUB_DATABASE_URL": f"sqlite:///{workdir}/hub.db",
        "HUB_TRUSTED_ISSUERS": issuer.url + "/",  # a trailing slash is forgiven
    }
    with HubServer(workdir, env) as server:
        for user in ("alice", "bob"):
            server.cli("user", "create", user, "--password-stdin", stdin=f"{user}-pw\n")
        yield server


def rules_url(hub: HubServer, repo: str) -> str:
    return f"{hub.url}/api/v1/repositories/{repo}/trusted-publishers"


def exchange(hub: HubServer, token: str) -> httpx.Response:
    return httpx.post(f"{hub.url}/api/v1/trusted-publishing/exchange", json={"token": token})


def oras_push(reg: oras.provider.Registry, target: str, tmp_path: Path) -> None:
    """A wasme-shaped push with oras-py (which raises when refused); closes its session."""
    try:
        wasm, config = minimal_wasm(), wasme_config()
        push_module(reg, target, wasm, WASME_LAYER, config, WASME_CONFIG, tmp_path)
    finally:
        reg.session.close()


def token_registry(hub: HubServer, token: str) -> oras.provider.Registry:
    reg = oras.provider.Registry(hostname=hub.host, insecure=True)
    reg.auth.set_token_auth(token)
    return reg


def test_rules_are_managed_by_owners(hub: HubServer, issuer: CiIssuer) -> None:
    rule = {"issuer": issuer.url, "audience": AUDIENCE, "claims": REPO_CLAIMS}
    bob = httpx.post(rules_url(hub, "alice/filter"), json=rule, auth=("bob", "bob-pw"))
    assert bob.status_code == 404  # not bob's namespace
    anonymous = httpx.get(rules_url(hub, "alice/filter"))
    assert anonymous.status_code == 401
    alice = ("alice", "alice-pw")
    untrusted = httpx.post(
        rules_url(hub, "alice/filter"),
        json={**rule, "issuer": "https://token.example"},
        auth=alice,
    )
    assert untrusted.status_code == 400 and "HUB_TRUSTED_ISSUERS" in untrusted.text
    empty = httpx.post(rules_url(hub, "alice/filter"), json={**rule, "claims": {}}, auth=alice)
    assert empty.status_code == 400 and "claims" in empty.text
    made = httpx.post(rules_url(hub, "alice/filter"), json=rule, auth=alice)
    assert made.status_code == 201, made.text
    assert made.json()["claims"] == REPO_CLAIMS
    listed = httpx.get(rules_url(hub, "alice/filter"), auth=alice).json()["trusted_publishers"]
    assert [r["id"] for r in listed] == [made.json()["id"]]


def test_exchange_pushes_that_repository_only(
    hub: HubServer, issuer: CiIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # oras-py reads ~/.docker/config.json
    if not httpx.get(rules_url(hub, "alice/filter"), auth=("alice", "alice-pw")).json()[
        "trusted_publishers"
    ]:
        test_rules_are_managed_by_owners(hub, issuer)
    ci_token = issuer.token()
    got = exchange(hub, ci_token)
    assert got.status_code == 200, got.text
    replayed = exchange(hub, ci_token)  # one CI token buys one registry token
    assert replayed.status_code == 401 and "already exchanged" in replayed.text
    body = got.json()
    assert body["repository"] == "alice/filter" and 60 <= body["expires_in"] <= 900
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["access"] == [
        {"type": "repository", "name": "alice/filter", "actions": ["pull", "push"]}
    ]

    oras_push(token_registry(hub, body["token"]), f"{hub.host}/alice/filter:v1", tmp_path)
    bearer = {"Authorization": f"Bearer {body['token']}"}
    pulled = httpx.get(f"{hub.url}/v2/alice/filter/manifests/v1", headers=bearer)
    assert pulled.status_code == 200
    with pytest.raises(Exception):  # noqa: B017 (oras-py raises a bare ValueError/HTTPError)
        oras_push(token_registry(hub, body["token"]), f"{hub.host}/alice/elsewhere:v1", tmp_path)
    other = httpx.get(f"{hub.url}/v2/alice/elsewhere/tags/list", headers=bearer)
    assert other.status_code == 401
    assert 'error="insufficient_scope"' in other.headers["www-authenticate"]
    # not a user: a clear refusal, not a crash
    me = httpx.get(f"{hub.url}/api/v1/user", headers=bearer)
    assert me.status_code == 403 and "not belong to a hub user" in me.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "someone-else"}, "no trusted publisher matches"),
        (
            {"workflow_ref": "alice/filter-src/.github/workflows/release.yml@refs/heads/dev"},
            "no trusted publisher matches",
        ),
        ({"repository": "mallory/filter-src"}, "no trusted publisher matches"),
        ({"exp": int(time.time()) - 120, "iat": int(time.time()) - 600}, "expired"),
        ({"iss": "https://token.actions.githubusercontent.com"}, "not trusted"),
        ({"jti": None}, "no jti"),
    ],
)
def test_exchange_refusals(
    hub: HubServer, issuer: CiIssuer, overrides: dict[str, Any], message: str
) -> None:
    if not httpx.get(rules_url(hub, "alice/filter"), auth=("alice", "alice-pw")).json()[
        "trusted_publishers"
    ]:
        test_rules_are_managed_by_owners(hub, issuer)
    refused = exchange(hub, issuer.token(**overrides))
    assert refused.status_code == 401, refused.text
    assert message in refused.json()["errors"][0]["message"]


def test_forged_signature_and_removed_rule(hub: HubServer, issuer: CiIssuer) -> None:
    alice = ("alice", "alice-pw")
    rule = {"issuer": issuer.url, "audience": "other-aud", "claims": {"repository": "x/y"}}
    made = httpx.post(rules_url(hub, "alice/second"), json=rule, auth=alice)
    assert made.status_code == 201
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = exchange(hub, issuer.token(key=forger, aud="other-aud", repository="x/y"))
    assert forged.status_code == 401 and "not valid" in forged.text
    assert exchange(hub, issuer.token(aud="other-aud", repository="x/y")).status_code == 200
    gone = httpx.delete(f"{rules_url(hub, 'alice/second')}/{made.json()['id']}", auth=alice)
    assert gone.status_code == 204
    assert exchange(hub, issuer.token(aud="other-aud", repository="x/y")).status_code == 401
    assert exchange(hub, "not-a-jwt").status_code == 401


def test_the_token_works_as_a_basic_password(
    hub: HubServer, issuer: CiIssuer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`oras login -u __token__ -p $TOKEN` / `docker login`: the registry token as the password
    buys tokens for its own repository only, never longer-lived, never a refresh token."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    if not httpx.get(rules_url(hub, "alice/filter"), auth=("alice", "alice-pw")).json()[
        "trusted_publishers"
    ]:
        test_rules_are_managed_by_owners(hub, issuer)
    got = exchange(hub, issuer.token())
    assert got.status_code == 200, got.text
    token = got.json()["token"]
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    basic = ("__token__", token)

    bought = httpx.get(
        f"{hub.url}/auth/token",
        params={
            "service": hub.host,
            "scope": ["repository:alice/filter:pull,push", "repository:alice/other:pull"],
            "offline_token": "true",
        },
        auth=basic,
    )
    assert bought.status_code == 200, bought.text
    body = bought.json()
    assert "refresh_token" not in body
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["exp"] <= expires and body["expires_in"] <= 900
    assert claims["access"] == [
        {"type": "repository", "name": "alice/filter", "actions": ["pull", "push"]},
        {"type": "repository", "name": "alice/other", "actions": []},
    ]
    catalog = httpx.get(
        f"{hub.url}/auth/token", params={"scope": "registry:catalog:*"}, auth=basic
    ).json()
    assert jwt.decode(catalog["token"], options={"verify_signature": False})["access"] == [
        {"type": "registry", "name": "catalog", "actions": []}
    ]
    # The password grant of the OAuth2 form, as docker sends it, is limited the same way.
    posted = httpx.post(
        f"{hub.url}/auth/token",
        data={
            "grant_type": "password",
            "username": "__token__",
            "password": token,
            "scope": "repository:alice/filter:push",
            "access_type": "offline",
        },
    )
    assert posted.status_code == 200 and "refresh_token" not in posted.json()

    # Basic straight on /v2 (wasme, skopeo with credentials) and an oras-py push with login.
    assert httpx.get(f"{hub.url}/v2/alice/filter/tags/list", auth=basic).status_code in (200, 404)
    denied = httpx.get(f"{hub.url}/v2/alice/elsewhere/tags/list", auth=basic)
    assert denied.status_code == 401
    reg = oras.provider.Registry(hostname=hub.host, insecure=True)
    reg.login(username="__token__", password=token)
    oras_push(reg, f"{hub.host}/alice/filter:basic", tmp_path)
    tags = httpx.get(f"{hub.url}/v2/alice/filter/tags/list", auth=basic).json()["tags"]
    assert "basic" in tags

    # A Bearer header still cannot buy tokens, and a forged "token" is no password.
    assert (
        httpx.get(
            f"{hub.url}/auth/token",
            params={"scope": "repository:alice/filter:pull"},
            headers={"Authorization": f"Bearer {token}"},
        ).status_code
        == 401
    )
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert httpx.get(f"{hub.url}/auth/token", auth=("__token__", forged)).status_code == 401
