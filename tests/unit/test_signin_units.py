"""Sign-in pieces without a server: provider settings, the `next` check, cookie attributes,
session expiry and signed flow cookies."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, select

from hub.api.signin import safe_next
from hub.auth import sessions
from hub.auth.accounts import AccountService
from hub.auth.sessions import SessionStore
from hub.auth.signin import providers
from hub.config import ConfigError, Settings
from hub.db.migrate import upgrade
from hub.db.models import BrowserSession


def test_oidc_providers_from_env() -> None:
    settings = Settings.from_env(
        {
            "HUB_OIDC_PROVIDERS": "corp, google",
            "HUB_OIDC_CORP_DISCOVERY_URL": "https://idp.corp/.well-known/openid-configuration",
            "HUB_OIDC_CORP_CLIENT_ID": "hub",
            "HUB_OIDC_CORP_CLIENT_SECRET": "s",
            "HUB_OIDC_CORP_TITLE": "Corp SSO",
            "HUB_OIDC_GOOGLE_DISCOVERY_URL": "https://accounts.google.com/.well-known/x",
            "HUB_OIDC_GOOGLE_CLIENT_ID": "g",
            "HUB_GITHUB_CLIENT_ID": "gh",
            "HUB_GITHUB_URL": "https://ghe.example/",
        }
    )
    assert [(p.name, p.title, p.kind) for p in providers(settings)] == [
        ("github", "GitHub", "github"),
        ("corp", "Corp SSO", "oidc"),
        ("google", "Google", "oidc"),
    ]
    assert settings.github_url == "https://ghe.example"
    assert settings.oidc_providers[1].scope == "openid profile email"
    assert "client_secret" not in repr(settings.oidc_providers[0])  # kept out of logs
    assert providers(Settings()) == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HUB_OIDC_PROVIDERS": "corp"}, "HUB_OIDC_CORP_DISCOVERY_URL"),
        (
            {"HUB_OIDC_PROVIDERS": "corp", "HUB_OIDC_CORP_DISCOVERY_URL": "https://x"},
            "HUB_OIDC_CORP_CLIENT_ID",
        ),
        ({"HUB_OIDC_PROVIDERS": "github"}, "taken"),
        ({"HUB_OIDC_PROVIDERS": "a b"}, "not a usable provider name"),
    ],
)
def test_oidc_settings_errors_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/repositories/acme?x=1#top", "/repositories/acme?x=1#top"),
        (None, "/"),
        ("", "/"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("relative/path", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
def test_next_is_a_path_on_this_site(raw: str | None, expected: str) -> None:
    assert safe_next(raw) == expected


def store(tmp_path: Path, **settings: object) -> SessionStore:
    engine = create_engine(f"sqlite:///{tmp_path}/unused.db")
    return SessionStore(engine, Settings(secret_key="k" * 32, **settings))  # type: ignore[arg-type]


def test_cookie_attributes(tmp_path: Path) -> None:
    plain = store(tmp_path).cookie_header(sessions.SESSION_COOKIE, "v", 60)
    assert plain == "hub_session=v; HttpOnly; Max-Age=60; Path=/; SameSite=Lax"
    secure = store(tmp_path, base_url="https://hub.example").cookie_header("hub_csrf", "v", 5)
    assert "Secure" in secure and "HttpOnly" in secure


def test_session_cookies_expire_and_resist_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = store(tmp_path, session_max_age_seconds=60)
    cookie = s.new_cookie(7)
    payload = s.read_cookie(cookie)
    assert payload is not None and payload["u"] == 7 and payload["s"]
    assert s.read_cookie(cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]) is None
    assert store(tmp_path).read_cookie(cookie) is not None  # same secret: any replica
    other = SessionStore(s.engine, Settings(secret_key="other-secret"))
    assert other.read_cookie(cookie) is None
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 61)
    assert s.read_cookie(cookie) is None


def test_flow_cookie_and_csrf(tmp_path: Path) -> None:
    s = store(tmp_path)
    signed = s.sign_flow({"provider": "corp", "state": "abc"})
    assert s.read_flow(signed) == {"provider": "corp", "state": "abc"}
    _, stamp, mac = signed.split(".")
    forged = base64.urlsafe_b64encode(b'{"provider":"evil","state":"abc"}').decode().rstrip("=")
    assert s.read_flow(f"{forged}.{stamp}.{mac}") is None
    assert s.read_cookie(signed) is None  # a flow cookie is not a session (different salt)
    assert s.csrf_for("browser-1") == s.csrf_for("browser-1") != s.csrf_for("browser-2")


def test_ending_all_sessions_of_one_user(tmp_path: Path) -> None:
    """end_all ends every cookie of the user issued until then, and only theirs; a later
    sign-in works; ending everywhere again moves the cut-off (one row per user)."""
    engine = create_engine(f"sqlite:///{tmp_path}/hub.db")
    upgrade(engine)
    accounts = AccountService(engine)
    alice, bob = accounts.create_user("alice", "pw-alice-1"), accounts.create_user("bob", "pw-b")
    assert alice.id is not None and bob.id is not None
    s = SessionStore(engine, Settings(secret_key="k" * 32))

    def who(cookie: str) -> str | None:
        payload = s.read_cookie(cookie)
        assert payload is not None
        found = s.identity(payload)
        return found.username if found else None

    laptop, phone, other = s.new_cookie(alice.id), s.new_cookie(alice.id), s.new_cookie(bob.id)
    assert [who(c) for c in (laptop, phone, other)] == ["alice", "alice", "bob"]
    s.end_all(alice.id)
    assert [who(c) for c in (laptop, phone, other)] == [None, None, "bob"]
    time.sleep(0.002)  # cookies carry milliseconds: the next one is issued after the cut-off
    later = s.new_cookie(alice.id)
    assert who(later) == "alice"
    s.end_all(alice.id)
    assert who(later) is None and who(other) == "bob"
    with Session(engine) as session:
        assert len(session.exec(select(BrowserSession)).all()) == 1
