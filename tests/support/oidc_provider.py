"""A real OpenID Provider on 127.0.0.1 for sign-in tests: panva's `oidc-provider` (npm),
installed by this fixture into <repo>/.cache/oidc-provider (npm install runs again only when
tests/support/oidc/package.json or its lock changes) and run with Node.js.

Fixture ``oidc_provider`` (session-scoped) yields an ``OidcProvider``:

- ``issuer`` / ``discovery_url``: what to put in HUB_OIDC_<NAME>_DISCOVERY_URL.
- ``register(redirect_uri) -> (client_id, client_secret)``: a confidential client registered by
  dynamic client registration (RFC 7591), so every test hub gets its own redirect URI
  ``<hub>/signin/<name>/callback``. ``hub_env(name, hub_url)`` does that and returns the
  HUB_OIDC_* settings for a hub at ``hub_url``.
- ``set_account(login, preferred_username=..., email=...)``: the claims reported for a login
  (``sub`` is always the login; unknown logins report preferred_username = login).

Signing in as a chosen user. The provider's development login page accepts any login with any
password; the login becomes the subject. After it comes a consent page with one "Continue"
button.
- A browser (Playwright): ``page.goto(f"{hub}/signin/{name}")``; then
  ``page.fill('input[name=login]', 'alice')``, ``page.fill('input[name=password]', 'x')``,
  ``page.click('button[type=submit]')``; on the consent page ``page.click('button[type=submit]')``
  again; the browser lands back on the hub, signed in.
- httpx: ``provider.sign_in(client, f"{hub}/signin/{name}", "alice")`` follows the redirects and
  submits both forms with ``client`` (which keeps the cookies), and returns the hub's callback
  response (a 303 carrying the session cookie) without following it.
"""

from __future__ import annotations

import fcntl
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from tests.support.server import free_port, terminate, wait_for

REPO = Path(__file__).resolve().parents[2]
SOURCES = Path(__file__).resolve().parent / "oidc"
CACHE = REPO / ".cache" / "oidc-provider"
FILES = ("package.json", "package-lock.json", "server.mjs")


class ProviderError(RuntimeError):
    """The provider could not be installed or started; the message holds the output."""


def install() -> Path:
    """<repo>/.cache/oidc-provider with node_modules installed for the pinned lock."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = hashlib.sha256()
        for name in FILES:
            data = (SOURCES / name).read_bytes()
            stamp.update(name.encode() + b"\0" + data)
            if not (CACHE / name).is_file() or (CACHE / name).read_bytes() != data:
                (CACHE / name).write_bytes(data)
        stamp_file = CACHE / ".deps-stamp"
        wanted = stamp.hexdigest()
        have = stamp_file.read_text() if stamp_file.is_file() else None
        if not (CACHE / "node_modules" / "oidc-provider").is_dir() or have != wanted:
            if shutil.which("npm") is None:
                raise ProviderError("npm is not on PATH: the sign-in tests need Node.js and npm")
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=CACHE,
                env={**os.environ, "npm_config_update_notifier": "false"},
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                raise ProviderError(f"npm ci failed:\n{done.stdout}\n{done.stderr}")
            stamp_file.write_text(wanted)
    return CACHE


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.I)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', re.I)


class OidcProvider:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        self.accounts_file = workdir / "accounts.json"
        self.accounts_file.write_text("{}")
        self.log = workdir / "oidc-provider.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OidcProvider:
        folder = install()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["node", "server.mjs"],
                cwd=folder,
                env={**os.environ, "PORT": str(self.port), "ACCOUNTS": str(self.accounts_file)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.proc, self.discovery_url, 30, "oidc-provider", self.log, ProviderError)
        return self

    def stop(self) -> None:
        terminate(self.proc)

    def register(self, redirect_uri: str) -> tuple[str, str]:
        r = httpx.post(
            f"{self.issuer}/reg",
            json={
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "client_secret_basic",
            },
            timeout=10,
        )
        if r.status_code != 201:
            raise ProviderError(f"client registration failed: {r.status_code} {r.text}")
        body = r.json()
        return body["client_id"], body["client_secret"]

    def hub_env(self, name: str, hub_url: str, title: str = "") -> dict[str, str]:
        """HUB_OIDC_* settings for one provider called ``name`` on a hub at ``hub_url``."""
        client_id, secret = self.register(f"{hub_url}/signin/{name}/callback")
        prefix = f"HUB_OIDC_{name.upper().replace('-', '_')}_"
        env = {
            "HUB_OIDC_PROVIDERS": name,
            prefix + "DISCOVERY_URL": self.discovery_url,
            prefix + "CLIENT_ID": client_id,
            prefix + "CLIENT_SECRET": secret,
        }
        if title:
            env[prefix + "TITLE"] = title
        return env

    def set_account(self, login: str, **claims: str) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        accounts[login] = claims
        self.accounts_file.write_text(json.dumps(accounts))

    def sign_in(
        self,
        client: httpx.Client,
        start_url: str,
        login: str,
        password: str = "any",
        rewrite: Callable[[str], str] | None = None,
    ) -> httpx.Response:
        """Walk the flow from the hub's ``start_url`` as ``login``; the hub's callback
        response (not followed). ``rewrite`` may change the callback URL (tests of tampering)."""
        hub = start_url.split("/signin/", 1)[0]
        r = client.get(start_url, follow_redirects=False)
        for _ in range(20):
            if r.is_redirect:
                target = urljoin(str(r.url), r.headers["location"])
                if target.startswith(hub + "/signin/") and "/callback" in target:
                    return client.get(rewrite(target) if rewrite else target)
                r = client.get(target, follow_redirects=False)
                continue
            form = _FORM.search(r.text)
            if r.status_code != 200 or form is None:
                raise ProviderError(f"unexpected page at {r.url}: {r.status_code} {r.text[:500]}")
            data = {k: html.unescape(v) for k, v in _HIDDEN.findall(r.text)}
            if 'name="login"' in r.text:
                data.update(login=login, password=password)
            action = urljoin(str(r.url), html.unescape(form.group(1)))
            r = client.post(action, data=data, follow_redirects=False)
        raise ProviderError("the sign-in flow did not come back to the hub")


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider")).start()
    try:
        yield provider
    finally:
        provider.stop()
