"""Browser sign-in with a local password: the session cookie, CSRF, sign-out that really ends
the session, sessions surviving a restart, and rate limits. Driven with httpx against a live
`wasm-hub serve` (HUB_AUTH=required), the way a browser would: cookies kept by the client."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import fresh_database
from tests.support.server import HubServer, migrate


def start(workdir: Path, **env: str) -> HubServer:
    # `serve` migrates a SQLite database at start-up
    env = {"HUB_AUTH": "required", "HUB_DATABASE_URL": f"sqlite:///{workdir}/hub.db", **env}
    server = HubServer(workdir, env).start()
    server.cli("user", "create", "alice", "--password-stdin", stdin="alice-pw\n")
    return server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    hub = start(tmp_path_factory.mktemp("hub-signin"))
    yield hub
    hub.stop()


def browser(server: HubServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30)


def csrf_of(client: httpx.Client) -> str:
    """Give the client a CSRF cookie, as a page would; the token that goes with it."""
    r = client.get("/api/v1/csrf-token")
    assert r.status_code == 200
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith("hub_csrf=") and "HttpOnly" in set_cookie
    token: str = r.json()["csrf_token"]
    return token


def sign_in(client: httpx.Client, csrf: str, password: str = "alice-pw", **extra: str):
    form = {"username": "alice", "password": password, "csrf_token": csrf, **extra}
    return client.post("/signin/local", data=form)


def events(server: HubServer) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(server.workdir / "hub.db")
    try:
        query = "SELECT actor, action, namespace FROM audit_events ORDER BY id"
        rows = db.execute(query).fetchall()
    finally:
        db.close()
    return [tuple(r) for r in rows]


def test_local_signin_session_csrf_and_signout(server: HubServer) -> None:
    with browser(server) as client:
        csrf = csrf_of(client)
        # the form must carry this browser's token
        assert sign_in(client, "forged").status_code == 403
        assert "CSRF" in sign_in(client, "forged").json()["errors"][0]["message"]
        bare = httpx.post(f"{server.url}/signin/local", data={"username": "alice"})
        assert bare.status_code == 403 and "cookie" in bare.json()["errors"][0]["message"]

        wrong = sign_in(client, csrf, password="nope")
        assert wrong.status_code == 303
        assert wrong.headers["location"].startswith("/signin?error=")
        assert "hub_session" not in client.cookies

        ok = sign_in(client, csrf, next="/repositories/alice?page=2")
        assert ok.status_code == 303 and ok.headers["location"] == "/repositories/alice?page=2"
        cookie = ok.headers["set-cookie"]
        assert cookie.startswith("hub_session=")
        for attribute in ("HttpOnly", "Path=/", "SameSite=Lax", "Max-Age=1209600"):
            assert attribute in cookie, cookie
        assert "Secure" not in cookie  # HUB_BASE_URL is http here
        me = client.get("/api/v1/user")
        assert me.status_code == 200 and me.json()["username"] == "alice"

        # the JSON API with only the cookie: reads work, writes need the CSRF header
        created = client.post("/api/v1/tokens", json={"name": "from-browser", "scopes": ["pull"]})
        assert created.status_code == 403
        assert "X-CSRF-Token" in created.json()["errors"][0]["message"]
        created = client.post(
            "/api/v1/tokens",
            json={"name": "from-browser", "scopes": ["pull"]},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201, created.text
        # cross-site origins are refused even with the right token
        evil = client.post(
            "/api/v1/tokens",
            json={"name": "x", "scopes": ["pull"]},
            headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        )
        assert evil.status_code == 403 and "Origin" in evil.json()["errors"][0]["message"]

        # registry clients never ride on the browser cookie
        v2 = client.post("/v2/alice/filter/blobs/uploads/")
        assert v2.status_code == 401

        # the session survives a restart (its signing secret lives in the database)
        server.stop()
        server.start()
        assert client.get("/api/v1/user").status_code == 200

        copied = dict(client.cookies)
        out = client.post("/signout", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/"
        cleared = out.headers["set-cookie"]
        assert cleared.startswith("hub_session=") and "Max-Age=0" in cleared
        assert client.get("/api/v1/user").status_code == 401
    # a copy of the cookie taken before sign-out no longer works
    stolen = httpx.get(f"{server.url}/api/v1/user", cookies=copied)
    assert stolen.status_code == 401
    actions = [(actor, action, ns) for actor, action, ns in events(server) if actor == "alice"]
    assert ("alice", "sign-in.failed", "alice") in actions
    assert ("alice", "sign-in", "alice") in actions
    assert ("alice", "sign-out", "alice") in actions


@pytest.mark.parametrize(
    "wanted",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_stays_on_this_site(server: HubServer, wanted: str) -> None:
    with browser(server) as client:
        csrf = csrf_of(client)
        r = sign_in(client, csrf, next=wanted)
        assert r.status_code == 303 and r.headers["location"] == "/"


@pytest.fixture(params=["sqlite", "postgresql"])
def limited_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubServer]:
    """A hub allowing 3 sign-in attempts a minute, on each database."""
    if request.param == "sqlite":
        hub = start(tmp_path, HUB_SIGNIN_RATE_PER_MINUTE="3")
        yield hub
        hub.stop()
        return
    with fresh_database("hub_test_signin") as url:
        env = {"HUB_DATABASE_URL": url, "HUB_AUTH": "required"}
        migrate(env, tmp_path)
        hub = start(tmp_path, HUB_SIGNIN_RATE_PER_MINUTE="3", **env)
        yield hub
        hub.stop()


def test_sessions_and_rate_limits(limited_hub: HubServer) -> None:
    """Per client address (every attempt) and per username (failures), across replicas since
    attempts live in the database. Addresses come from X-Forwarded-For: uvicorn trusts it from
    127.0.0.1 (proxy_headers), as behind a reverse proxy."""

    def attempt(client: httpx.Client, csrf: str, address: str, user: str, password: str):
        return client.post(
            "/signin/local",
            data={"username": user, "password": password, "csrf_token": csrf},
            headers={"X-Forwarded-For": address},
        )

    sessions: list[dict[str, str]] = []
    with browser(limited_hub) as client:
        csrf = csrf_of(client)
        # a session on this database: sign in, sign out, the copy stops working
        assert attempt(client, csrf, "10.0.0.1", "alice", "alice-pw").status_code == 303
        copied = dict(client.cookies)
        assert client.get("/api/v1/user").json()["username"] == "alice"
        assert client.post("/signout", data={"csrf_token": csrf}).status_code == 303
        assert httpx.get(f"{limited_hub.url}/api/v1/user", cookies=copied).status_code == 401

        # sign out everywhere on this database: two sessions end, a later one works
        for address in ("10.0.0.4", "10.0.0.5"):  # two browsers
            with browser(limited_hub) as other:
                signed = attempt(other, csrf_of(other), address, "alice", "alice-pw")
                assert signed.status_code == 303
                sessions.append(dict(other.cookies))
        url = f"{limited_hub.url}/api/v1/user"
        assert all(httpx.get(url, cookies=c).status_code == 200 for c in sessions)
        ended = httpx.delete(f"{url}/sessions", auth=("alice", "alice-pw"))
        assert ended.status_code == 204
        assert all(httpx.get(url, cookies=c).status_code == 401 for c in sessions)
        assert attempt(client, csrf, "10.0.0.6", "alice", "alice-pw").status_code == 303
        assert client.get("/api/v1/user").status_code == 200

        for _ in range(3):
            assert attempt(client, csrf, "10.0.0.2", "alice", "guess").status_code == 303
        # the username is limited from any address, even with the right password
        limited = attempt(client, csrf, "10.0.0.3", "alice", "alice-pw")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        error = limited.json()["errors"][0]
        assert error["code"] == "TOO_MANY_REQUESTS" and "try again in" in error["message"]
        # another name from a fresh address goes ahead ...
        assert attempt(client, csrf, "10.0.0.3", "mallory", "x").status_code == 303
        # ... but the address that made three attempts is limited, whichever name it tries
        assert attempt(client, csrf, "10.0.0.2", "mallory", "x").status_code == 429


def test_sign_out_everywhere(server: HubServer) -> None:
    """One user's two browsers end together (from /settings' button, or the API); another
    user's session lives on; a forged token ends nothing."""
    server.cli("user", "create", "bob", "--password-stdin", stdin="bob-pw\n")

    clients = contextlib.ExitStack()

    def signed_in(user: str, address: str) -> tuple[httpx.Client, str]:
        client = clients.enter_context(browser(server))
        csrf = csrf_of(client)
        r = client.post(
            "/signin/local",
            data={"username": user, "password": f"{user}-pw", "csrf_token": csrf},
            headers={"X-Forwarded-For": address},  # away from the other tests' rate limit
        )
        assert r.status_code == 303 and "hub_session" in client.cookies
        return client, csrf

    def whoami(cookies: dict[str, str]) -> int:
        return httpx.get(f"{server.url}/api/v1/user", cookies=cookies).status_code

    laptop, csrf = signed_in("alice", "10.9.0.1")
    phone, _ = signed_in("alice", "10.9.0.2")
    other, other_csrf = signed_in("bob", "10.9.0.3")
    with clients:
        page = laptop.get("/settings")
        assert page.status_code == 200
        assert 'action="/signout/everywhere"' in page.text and csrf in page.text

        forged = laptop.post("/signout/everywhere", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        no_header = laptop.delete("/api/v1/user/sessions")  # cookie only: needs X-CSRF-Token
        assert no_header.status_code == 403
        assert laptop.get("/api/v1/user").status_code == 200
        assert phone.get("/api/v1/user").status_code == 200

        copied = dict(laptop.cookies)
        out = laptop.post("/signout/everywhere", data={"csrf_token": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/"
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert whoami(copied) == 401
        assert phone.get("/api/v1/user").status_code == 401
        settings_page = phone.get("/settings")
        assert settings_page.status_code == 303
        assert settings_page.headers["location"].startswith("/signin")
        assert other.get("/api/v1/user").json()["username"] == "bob"

        # signing in again right away works: only sessions issued before the button end
        again, _ = signed_in("alice", "10.9.0.4")
        assert again.get("/api/v1/user").status_code == 200

        # the API, from bob's browser: his session ends, alice's new one does not
        gone = other.delete("/api/v1/user/sessions", headers={"X-CSRF-Token": other_csrf})
        assert gone.status_code == 204 and "Max-Age=0" in gone.headers["set-cookie"]
        assert other.get("/api/v1/user").status_code == 401
        assert again.get("/api/v1/user").status_code == 200

        # with alice's password (e.g. from another device): her browser session ends
        by_password = httpx.delete(f"{server.url}/api/v1/user/sessions", auth=("alice", "alice-pw"))
        assert by_password.status_code == 204
        assert again.get("/api/v1/user").status_code == 401

    actions = [(actor, action, ns) for actor, action, ns in events(server)]
    assert actions.count(("alice", "sign-out.everywhere", "alice")) == 2
    assert actions.count(("bob", "sign-out.everywhere", "bob")) == 1
