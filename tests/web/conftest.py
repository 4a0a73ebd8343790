"""The web catalog in a real browser: Debian's Chromium driven by Playwright, against one live
`wasm-hub serve` (HUB_AUTH=required, SQLite) shared by the web tests, seeded with real filters.

Every page a test opens is watched: a console error, an uncaught exception or a request to
anywhere but the hub fails the test. Screenshots land in tests/web/screenshots/ (gitignored).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    expect,
    sync_playwright,
)

from hub.auth.accounts import AccountService
from hub.db.engine import make_engine
from hub.db.migrate import upgrade
from tests.support.oidc_provider import OidcProvider
from tests.support.server import HubServer
from tests.web.seed import proxy_module, push_filter, seed

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
PASSWORDS = {"admin": "admin-pw-1", "alice": "alice-pw-1", "bob": "bob-pw-1"}


@dataclass
class Hub:
    server: HubServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    def client(self, user: str | None = None) -> httpx.Client:
        auth = None if user is None else (user, PASSWORDS[user])
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)


@pytest.fixture(scope="session")
def hub(
    tmp_path_factory: pytest.TempPathFactory, real_filter: bytes, oidc_provider: OidcProvider
) -> Iterator[Hub]:
    workdir = tmp_path_factory.mktemp("hub-web")
    # Many sign-ins from one address in a few seconds: the rate limit has its own tests.
    server = HubServer(workdir, {"HUB_AUTH": "required", "HUB_SIGNIN_RATE_PER_MINUTE": "1000"})
    # A real OpenID provider (node oidc-provider) as the sign-in page's "Corp SSO" button.
    server.env.update(oidc_provider.hub_env("corp", server.url, title="Corp SSO"))
    found = Hub(server)
    # Accounts through the service `wasm-hub user create` and `org create` call, in this
    # process: a CLI start per user costs seconds on a busy machine.
    engine = make_engine(server.env["HUB_DATABASE_URL"])
    upgrade(engine)
    accounts = AccountService(engine)
    for user, password in PASSWORDS.items():
        accounts.create_user(user, password, admin=user == "admin")
    accounts.create_org("acme", "alice")
    engine.dispose()
    with server:
        with found.client("admin") as admin:
            seed(admin, real_filter)
        with found.client("alice") as alice:
            push_filter(alice, "alice/secret-filter", "v1", proxy_module("alice-secret"))
            r = alice.patch(
                "/api/v1/repositories/alice/secret-filter",
                json={"private": True, "description": "Alice's private experiment."},
            )
            assert r.status_code == 200, r.text
        yield found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Browse:
    """Opens watched pages; ``problems`` collects what must not happen."""

    hub: Hub
    browser: Browser
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # console texts a test expects
    contexts: list[BrowserContext] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # other origins a test visits on purpose

    def context(self, user: str | None = None, **options: Any) -> BrowserContext:
        if user is not None:
            # HTTP Basic on every request (Chromium would send http_credentials only after a
            # 401 challenge, and pages answer 404, not 401): the same identify() path as a
            # registry client's. Browser sessions are tested with the sign-in form.
            token = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
            options["extra_http_headers"] = {"Authorization": f"Basic {token}"}
        context = self.browser.new_context(
            base_url=self.hub.url,
            viewport=options.pop("viewport", {"width": 1280, "height": 900}),
            **options,
        )
        context.set_default_timeout(10_000)
        hub_origin = urlsplit(self.hub.url).netloc

        def guard(route: Route) -> None:
            # Nothing may leave the hub: no CDN, no web font, no tracker. (A page of another
            # origin a test visits on purpose, the OpenID provider's, is not the hub's doing;
            # its own outside requests are cut off all the same.)
            target = urlsplit(route.request.url).netloc
            if target in (hub_origin, *self.allowed):
                route.continue_()
                return
            frame = urlsplit(route.request.frame.url).netloc if route.request.frame else ""
            if frame in ("", hub_origin):
                self.problems.append(f"request outside the hub: {route.request.url}")
            route.abort()

        context.route("**/*", guard)
        self.contexts.append(context)
        return context

    def page(self, user: str | None = None, **options: Any) -> Page:
        page = self.context(user, **options).new_page()

        hub_origin = urlsplit(self.hub.url).netloc

        def console(message: ConsoleMessage) -> None:
            if urlsplit(page.url).netloc != hub_origin:
                return  # another site's page (the OpenID provider's), not ours to judge
            if message.type in ("error", "warning") and not any(
                e in message.text for e in self.expected
            ):
                self.problems.append(f"console {message.type}: {message.text}")

        page.on("console", console)

        def page_error(exc: Exception) -> None:
            if urlsplit(page.url).netloc == hub_origin:
                self.problems.append(f"page error: {exc}")

        page.on("pageerror", page_error)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(hub: Hub, browser: Browser) -> Iterator[Browse]:
    session = Browse(hub, browser)
    yield session
    session.close()
    assert session.problems == [], "\n".join(session.problems)


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    # From the top: a page scrolled to an anchor would draw its sticky header mid-image.
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(browse: Browse, user: str, **options: Any) -> Page:
    """A browser signed in with the local form (a hub_session cookie, no Authorization)."""
    page = browse.page(**options)
    page.goto("/signin")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".user-link")).to_have_text(user)
    return page
