"""Signed in through the browser: the local form and the test OpenID provider, sign-out,
API tokens (shown once, then revoked), stars, organisation members, and a repository's
visibility and trusted publishers from Settings."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from tests.support.oidc_provider import OidcProvider
from tests.web.conftest import PASSWORDS, Browse, Hub, screenshot, sign_in
from tests.web.seed import proxy_module, push_filter


def test_local_sign_in_and_out(browse: Browse) -> None:
    page = browse.page()
    page.goto("/settings")  # not signed in: sent to sign in, then back
    expect(page).to_have_url(re.compile(r"/signin\?next=%2Fsettings$"))
    expect(page.get_by_role("link", name="Continue with Corp SSO")).to_be_visible()
    screenshot(page, "signin")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORDS["alice"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/settings$"))
    expect(page.locator(".user-link")).to_have_text("alice")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["hub_session"]["httpOnly"]
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/settings")
    expect(page).to_have_url(re.compile(r"/signin"))


def test_sign_out_everywhere_from_settings(browse: Browse) -> None:
    """bob's two browsers end together from one /settings button; alice's session lives on."""
    laptop, phone, other = sign_in(browse, "bob"), sign_in(browse, "bob"), sign_in(browse, "alice")
    laptop.goto("/settings#sessions")
    laptop.get_by_role("button", name="Sign out everywhere").click()
    expect(laptop.get_by_role("link", name="Sign in")).to_be_visible()
    for page in (laptop, phone):
        page.goto("/settings")
        expect(page).to_have_url(re.compile(r"/signin\?next=%2Fsettings$"))
    other.goto("/settings")
    expect(other.locator(".user-link")).to_have_text("alice")


def test_sign_in_through_the_openid_provider(
    browse: Browse, hub: Hub, oidc_provider: OidcProvider
) -> None:
    browse.allowed.append(urlsplit(oidc_provider.issuer).netloc)
    oidc_provider.set_account("web-carol", preferred_username="Carol", email="carol@example.test")
    page = browse.page()
    page.goto("/signin?next=/settings")
    page.get_by_role("link", name="Continue with Corp SSO").click()
    page.fill("input[name=login]", "web-carol")
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.click("button[type=submit]")  # the provider's consent page
    expect(page).to_have_url(f"{hub.url}/settings")
    expect(page.locator(".user-link")).to_have_text("carol")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()


def test_create_and_revoke_a_token(browse: Browse, hub: Hub) -> None:
    page = sign_in(browse, "bob", permissions=["clipboard-read", "clipboard-write"])
    page.goto("/settings")
    page.get_by_label("Token name").fill("web-ci")
    page.get_by_label("push").check()
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token-value").inner_text()
    assert secret.startswith("whub_")
    page.get_by_role("button", name="Copy the new token").click()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "settings-token")
    with hub.client() as anonymous:
        me = anonymous.get("/api/v1/user", auth=("bob", secret))
        assert me.status_code == 200 and me.json()["username"] == "bob"
    row = page.locator("#tokens tbody tr", has_text="web-ci")
    expect(row).to_contain_text("push")
    # Shown once: a reload shows the row, never the secret.
    page.goto("/settings")
    assert secret not in page.content()
    expect(row).to_contain_text("just now")  # last used: the request above
    row.get_by_role("button", name="Revoke token web-ci").click()
    expect(page.get_by_role("status")).to_have_text("Token revoked")
    expect(page.locator("#tokens tbody tr", has_text="web-ci")).to_contain_text("revoked")
    with hub.client() as anonymous:
        assert anonymous.get("/api/v1/user", auth=("bob", secret)).status_code == 401


def test_star_button(browse: Browse, hub: Hub) -> None:
    name = "acme/rate-limit"
    page = sign_in(browse, "bob")
    page.goto(f"/r/{name}")
    button = page.locator(".star-button")
    expect(button).to_have_attribute("aria-pressed", "false")
    before = int(button.locator(".star-count").inner_text())
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".star-count")).to_have_text(str(before + 1))
    with hub.client("admin") as admin:
        assert admin.get(f"/api/v1/repositories/{name}").json()["stars"] == before + 1
    page.reload()
    expect(button).to_have_attribute("aria-pressed", "true")
    screenshot(page, "repository-starred")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button.locator(".star-count")).to_have_text(str(before))
    # Without JavaScript the same button is a form post.
    plain = sign_in(browse, "bob", java_script_enabled=False)
    plain.goto(f"/r/{name}")
    plain.locator(".star-button").click()
    expect(plain.locator(".star-button")).to_have_attribute("aria-pressed", "true")
    plain.locator(".star-button").click()
    expect(plain.locator(".star-button")).to_have_attribute("aria-pressed", "false")


def test_anonymous_star_asks_to_sign_in(browse: Browse) -> None:
    page = browse.page()
    page.goto("/r/acme/rate-limit")
    page.locator(".star-button").click()
    expect(page).to_have_url(re.compile(r"/signin\?next=/r/acme/rate-limit$"))


def test_organisation_members(browse: Browse, hub: Hub) -> None:
    page = sign_in(browse, "alice")
    page.goto("/o/acme")
    members = page.locator("#members tbody tr")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text("alice")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Role", exact=True).select_option("reader")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("status")).to_have_text("bob is now reader")
    bob_row = page.locator("#members tbody tr", has_text="bob")
    bob_row.get_by_label("Role of bob").select_option("maintainer")
    bob_row.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("bob is now maintainer")
    screenshot(page, "organisation-members")
    with hub.client("alice") as alice:
        roles = {
            m["username"]: m["role"]
            for m in alice.get("/api/v1/orgs/acme/members").json()["members"]
        }
        assert roles == {"alice": "owner", "bob": "maintainer"}
    # bob sees the members, but manages nothing.
    other = sign_in(browse, "bob")
    other.goto("/o/acme")
    expect(other.locator("#members tbody tr")).to_have_count(2)
    expect(other.get_by_role("button", name="Add member")).to_have_count(0)
    page.locator("#members tbody tr", has_text="bob").get_by_label("Role of bob").select_option(
        "remove"
    )
    page.locator("#members tbody tr", has_text="bob").get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("bob removed")
    expect(page.locator("#members tbody tr")).to_have_count(1)


def test_visibility_and_description_from_settings(browse: Browse, hub: Hub) -> None:
    browse.expected.append("404 (Not Found)")
    name = "alice/toggle"
    with hub.client("alice") as alice:
        push_filter(alice, name, "v1", proxy_module("toggle"))
    page = sign_in(browse, "alice")
    page.goto("/settings#repositories")
    form = page.get_by_role("form", name=f"Settings of {name}")
    form.get_by_label("Description").fill("Now with a description.")
    form.get_by_role("checkbox", name=re.compile("Private")).check()
    form.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text(f"Saved {name}")
    screenshot(page, "settings")
    outsider = browse.page()
    response = outsider.goto(f"/r/{name}")
    assert response is not None and response.status == 404
    page.goto(f"/r/{name}")
    expect(page.locator(".repo-desc")).to_have_text("Now with a description.")
    expect(page.locator(".badge-private")).to_be_visible()
    page.goto("/settings#repositories")
    form = page.get_by_role("form", name=f"Settings of {name}")
    form.get_by_role("checkbox", name=re.compile("Private")).uncheck()
    form.get_by_role("button", name="Save").click()
    response = outsider.goto(f"/r/{name}")
    assert response is not None and response.status == 200


def test_forms_refuse_a_missing_csrf_token(browse: Browse, hub: Hub) -> None:
    browse.expected.append("403 (Forbidden)")
    page = sign_in(browse, "alice")
    page.goto("/settings")
    page.evaluate(
        "document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')"
    )
    page.get_by_label("Token name").fill("forged")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    with hub.client("alice") as alice:
        names = [t["name"] for t in alice.get("/api/v1/tokens").json()["tokens"]]
        assert "forged" not in names
