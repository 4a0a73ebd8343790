"""Sign-in with a real OpenID Provider (node oidc-provider, tests/support/oidc_provider.py):
the authorization-code flow with PKCE, state and nonce, driven through httpx the way a browser
follows it. First sign-in makes the user and their namespace; later sign-ins find the same user
by (issuer, subject) even when the preferred username changed; tampering is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.functional.test_auth import push
from tests.support.oidc_provider import OidcProvider
from tests.support.server import HubServer


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: OidcProvider
) -> Iterator[HubServer]:
    workdir: Path = tmp_path_factory.mktemp("hub-oidc")
    server = HubServer(
        workdir, {"HUB_AUTH": "required", "HUB_DATABASE_URL": f"sqlite:///{workdir}/hub.db"}
    )
    server.env.update(oidc_provider.hub_env("corp", server.url, title="Corp SSO"))
    server.start()
    server.cli("user", "create", "bob", "--password-stdin", stdin="bob-pw\n")
    yield server
    server.stop()


def signed_in_user(hub: HubServer, client: httpx.Client) -> dict[str, object]:
    me = client.get(f"{hub.url}/api/v1/user")
    assert me.status_code == 200, me.text
    found: dict[str, object] = me.json()
    return found


def test_first_sign_in_creates_user_and_namespace(hub: HubServer, oidc_provider: OidcProvider):
    oidc_provider.set_account("sub-alice", preferred_username="Alice.Smith")
    with httpx.Client(timeout=30) as browser:
        start = browser.get(f"{hub.url}/signin/corp", params={"next": "/after?x=1"})
        assert start.status_code == 303
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert start.headers["location"].startswith(oidc_provider.issuer + "/auth?")
        assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
        assert query["state"][0] and query["nonce"][0] and query["response_type"] == ["code"]
        flow_cookie = start.headers["set-cookie"]
        assert flow_cookie.startswith("hub_oauth=") and "Path=/signin" in flow_cookie
        assert "HttpOnly" in flow_cookie

        done = oidc_provider.sign_in(browser, f"{hub.url}/signin/corp?next=/after?x=1", "sub-alice")
        assert done.status_code == 303, done.text
        assert done.headers["location"] == "/after?x=1"
        assert "hub_session=" in done.headers.get("set-cookie", "")
        me = signed_in_user(hub, browser)
        assert me["username"] == "alice.smith" and me["email"] == "sub-alice@example.test"

        # the namespace is theirs: a token made in the browser pushes into it
        csrf = browser.get(f"{hub.url}/api/v1/csrf-token").json()["csrf_token"]
        made = browser.post(
            f"{hub.url}/api/v1/tokens",
            json={"name": "laptop", "scopes": ["push"]},
            headers={"X-CSRF-Token": csrf},
        )
        assert made.status_code == 201, made.text
    with httpx.Client(base_url=hub.url, auth=("alice.smith", made.json()["token"])) as cli:
        assert push(cli, "alice.smith/filter").status_code == 201
        assert push(cli, "bob/filter").status_code == 404  # not theirs


def test_later_sign_in_finds_the_same_user(hub: HubServer, oidc_provider: OidcProvider):
    oidc_provider.set_account("sub-carol", preferred_username="carol")
    with httpx.Client(timeout=30) as first:
        assert oidc_provider.sign_in(first, f"{hub.url}/signin/corp", "sub-carol").is_redirect
        assert signed_in_user(hub, first)["username"] == "carol"
    # renamed at the provider: still the same hub user (linked by issuer + subject)
    oidc_provider.set_account("sub-carol", preferred_username="carol-renamed")
    with httpx.Client(timeout=30) as second:
        done = oidc_provider.sign_in(second, f"{hub.url}/signin/corp", "sub-carol")
        assert done.headers["location"] == "/"
        assert signed_in_user(hub, second)["username"] == "carol"


def test_name_clash_gets_a_suffix(hub: HubServer, oidc_provider: OidcProvider):
    oidc_provider.set_account("sub-other-bob", preferred_username="Bob")  # local bob exists
    with httpx.Client(timeout=30) as browser:
        oidc_provider.sign_in(browser, f"{hub.url}/signin/corp", "sub-other-bob")
        assert signed_in_user(hub, browser)["username"] == "bob-2"


def _tamper_state(url: str) -> str:
    return url.replace("state=", "state=x")


def test_tampered_or_foreign_callbacks_are_refused(hub: HubServer, oidc_provider: OidcProvider):
    with httpx.Client(timeout=30) as browser:
        done = oidc_provider.sign_in(
            browser, f"{hub.url}/signin/corp", "sub-mallory", rewrite=_tamper_state
        )
        assert done.status_code == 303
        assert done.headers["location"].startswith("/signin?error=")
        assert "state" in parse_qs(urlsplit(done.headers["location"]).query)["error"][0]
        assert "hub_session" not in browser.cookies
        assert browser.get(f"{hub.url}/api/v1/user").status_code == 401

    # a callback reached without the flow cookie (another browser's code) is refused too
    captured: list[str] = []

    def capture(url: str) -> str:
        captured.append(url)
        return url.replace("/callback", "/callback-not-followed")

    with httpx.Client(timeout=30) as victim:
        oidc_provider.sign_in(victim, f"{hub.url}/signin/corp", "sub-mallory", rewrite=capture)
    with httpx.Client(timeout=30) as other:
        r = other.get(captured[0])
        assert r.status_code == 303 and r.headers["location"].startswith("/signin?error=")
        assert "hub_session" not in r.headers.get("set-cookie", "")

    # an unknown provider, and a provider's error answer
    r = httpx.get(f"{hub.url}/signin/nope")
    assert (
        r.status_code == 303
        and "nope" in parse_qs(urlsplit(r.headers["location"]).query)["error"][0]
    )
    r = httpx.get(f"{hub.url}/signin/corp/callback", params={"error": "access_denied"})
    assert r.status_code == 303 and "access_denied" in r.headers["location"]
