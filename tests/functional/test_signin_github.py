"""Sign-in with GitHub, against a loopback stand-in for github.com and api.github.com that
follows GitHub's documented OAuth app flow ("Authorizing OAuth apps"): authorize redirects back
with a code and the state, the token endpoint checks the client secret and the PKCE verifier
and answers errors with 200 and an "error" field, /user names the account by a numeric id and a
login that can be renamed."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support.server import HubServer

CLIENT_ID, CLIENT_SECRET = "Iv1.hubtest", "github-test-secret"


class FakeGitHub:
    def __init__(self) -> None:
        self.user: dict[str, Any] = {"id": 1, "login": "octocat", "email": None}
        self.codes: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        github = self

        class Handler(BaseHTTPRequestHandler):
            def _json(self, body: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/login/oauth/authorize":
                    # an app the user already authorized: straight back with a code
                    assert query["client_id"] == CLIENT_ID
                    assert query["code_challenge_method"] == "S256"
                    code = secrets.token_hex(10)
                    github.codes[code] = (
                        query["code_challenge"],
                        query["redirect_uri"],
                        dict(github.user),
                    )
                    answer = urlencode({"code": code, "state": query["state"]})
                    back = f"{query['redirect_uri']}?{answer}"
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif url.path == "/user":
                    token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                    if token not in github.tokens:
                        self._json({"message": "Bad credentials"}, 401)
                    else:
                        self._json(github.tokens[token])
                else:
                    self._json({"message": "Not Found"}, 404)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if urlsplit(self.path).path != "/login/oauth/access_token":
                    self._json({"message": "Not Found"}, 404)
                    return
                if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                    self._json({"error": "incorrect_client_credentials"})
                    return
                found = github.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                digest = hashlib.sha256(verifier).digest()
                challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
                if found is None or found[0] != challenge or found[1] != form.get("redirect_uri"):
                    self._json({"error": "bad_verification_code"})
                    return
                token = "gho_" + secrets.token_hex(16)
                github.tokens[token] = found[2]
                self._json({"access_token": token, "token_type": "bearer", "scope": "read:user"})

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    found = FakeGitHub()
    yield found
    found.close()


def hub_with(workdir: Path, github: FakeGitHub, secret: str = CLIENT_SECRET) -> HubServer:
    return HubServer(
        workdir,
        {
            "HUB_AUTH": "required",
            "HUB_DATABASE_URL": f"sqlite:///{workdir}/hub.db",
            "HUB_GITHUB_CLIENT_ID": CLIENT_ID,
            "HUB_GITHUB_CLIENT_SECRET": secret,
            "HUB_GITHUB_URL": github.url,
            "HUB_GITHUB_API_URL": github.url,
        },
    )


def sign_in(hub: HubServer, client: httpx.Client) -> httpx.Response:
    start = client.get(f"{hub.url}/signin/github", params={"next": "/me"})
    assert start.status_code == 303 and start.headers["location"].startswith(github_url(start))
    back = client.get(start.headers["location"])
    assert back.status_code == 302
    return client.get(back.headers["location"])


def github_url(start: httpx.Response) -> str:
    return start.headers["location"].split("/login/oauth/authorize", 1)[0]


def test_github_sign_in(tmp_path: Path, github: FakeGitHub) -> None:
    with hub_with(tmp_path, github) as hub:
        github.user = {"id": 583231, "login": "Octo_Cat", "email": "octo@example.test"}
        with httpx.Client(timeout=30) as browser:
            done = sign_in(hub, browser)
            assert done.status_code == 303 and done.headers["location"] == "/me"
            me = browser.get(f"{hub.url}/api/v1/user").json()
            assert me["username"] == "octo_cat" and me["email"] == "octo@example.test"
        # renamed on GitHub: the numeric id still finds the same hub user
        github.user = {"id": 583231, "login": "octocat-renamed", "email": None}
        with httpx.Client(timeout=30) as browser:
            sign_in(hub, browser)
            assert browser.get(f"{hub.url}/api/v1/user").json()["username"] == "octo_cat"


def test_github_refusing_the_client(tmp_path: Path, github: FakeGitHub) -> None:
    with hub_with(tmp_path, github, secret="wrong") as hub, httpx.Client(timeout=30) as browser:
        done = sign_in(hub, browser)
        assert done.status_code == 303
        error = parse_qs(urlsplit(done.headers["location"]).query)["error"][0]
        assert "incorrect_client_credentials" in error
        assert browser.get(f"{hub.url}/api/v1/user").status_code == 401
