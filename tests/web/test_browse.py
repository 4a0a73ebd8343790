"""Browsing without signing in: home, search as you type, facets, a repository's README and
tags, copying a pull command, the deploy tab's target picker, a tag's module facts; and the
same pages without JavaScript."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.web.conftest import Browse, Hub, screenshot
from tests.web.seed import proxy_module, push_filter


def test_home_lists_filters_and_searches(browse: Browse) -> None:
    page = browse.page()
    page.goto("/")
    expect(page.get_by_role("heading", name="Recently updated")).to_be_visible()
    recent = page.locator("section[aria-labelledby=recent-title] .card")
    expect(recent).to_have_count(6)
    expect(recent.first).to_contain_text("/")  # namespace/name
    screenshot(page, "home")
    page.get_by_label("Search filters").fill("auth")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=auth$"))
    expect(page.locator("#results .card")).to_have_count(2)


def test_search_as_you_type_with_facets_and_sort(browse: Browse, hub: Hub) -> None:
    with hub.client() as anonymous:  # other tests may add public filters
        total = anonymous.get("/api/v1/search").json()["total"]
    assert total >= 6
    page = browse.page()
    page.goto("/search")
    expect(page.locator("#result-count")).to_have_text(f"{total} filters")
    box = page.get_by_role("searchbox", name="Search filters")
    box.press_sequentially("jwt", delay=30)
    # No navigation: the script asks /api/v1/search and redraws in place.
    expect(page.locator("#result-count")).to_have_text("1 filter for “jwt”")
    expect(page.locator("#results .card-title")).to_have_text(["acme/jwt-auth"])
    expect(page).to_have_url(re.compile(r"/search\?q=jwt$"))
    box.fill("")
    box.press_sequentially("headers")
    expect(page.locator("#result-count")).to_contain_text("for “headers”")
    # Facets: narrow to one toolchain (a link, so it also works without JavaScript).
    page.locator(".facet[data-facet=toolchain] .facet-link", has_text="TinyGo").click()
    expect(page).to_have_url(re.compile(r"toolchain=TinyGo"))
    titles = page.locator("#results .card-title")
    expect(titles).to_have_count(2)
    expect(titles).to_contain_text(["tetrate/cors", "tetrate/geoip"])
    expect(page.locator(".facet-link.active")).to_have_text(re.compile("TinyGo"))
    page.get_by_label("Sort").select_option("updated")
    expect(page).to_have_url(re.compile(r"sort=updated"))
    screenshot(page, "search")


def test_repository_page_readme_tags_and_copy(browse: Browse, hub: Hub) -> None:
    context = browse.context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto("/r/acme/add-header")
    readme = page.locator(".markdown")
    expect(readme.get_by_role("heading", name="add-header")).to_be_visible()
    expect(readme.locator("table td").first).to_have_text("header")
    # The README's <script> and javascript: link were sanitised away.
    assert page.title() == "acme/add-header · WebAssembly Hub"
    assert readme.locator("script").count() == 0
    assert readme.get_by_text("not a link").get_attribute("href") is None
    expect(page.locator(".badge-public")).to_be_visible()
    screenshot(page, "repository")

    page.get_by_role("button", name="Copy oras pull command").click()
    expect(page.get_by_role("button", name="Copy oras pull command")).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"oras pull {hub.host}/acme/add-header:latest"
    page.get_by_role("button", name="Copy wasme pull command").click()
    assert page.evaluate("navigator.clipboard.readText()") == (
        f"wasme pull {hub.host}/acme/add-header:latest"
    )

    page.get_by_role("tab", name="Tags").click()
    expect(page).to_have_url(re.compile(r"tab=tags"))
    rows = page.locator("#panel-tags tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.locator("th")).to_have_text(["latest", "v0.2.0", "v0.1.0"])
    expect(rows.first).to_contain_text("v0.2.0")  # the ABI column
    screenshot(page, "repository-tags")
    assert problems == []


def test_tabs_follow_the_keyboard(browse: Browse) -> None:
    page = browse.page()
    page.goto("/r/acme/add-header")
    page.get_by_role("tab", name="README").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Tags")).to_be_focused()
    expect(page.get_by_role("tab", name="Tags")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-tags")).to_be_visible()
    page.keyboard.press("End")  # the last tab: the playground's "Try it"
    expect(page.get_by_role("tab", name="Try it")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_role("tab", name="Deploy")).to_be_focused()
    expect(page.locator("#panel-deploy")).to_be_visible()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowLeft")  # wraps to the last tab
    expect(page.get_by_role("tab", name="Try it")).to_be_focused()


def test_deploy_tab_switches_targets(browse: Browse, hub: Hub) -> None:
    page = browse.page()
    page.goto("/r/acme/add-header")
    # Rendered on the server only when the page opens on the tab; opened here, it is fetched.
    page.get_by_role("tab", name="Deploy").click()
    output = page.locator("#deploy-output")
    expect(output).to_contain_text("kind: WasmPlugin")
    page.goto("/r/acme/add-header?tab=deploy")
    expect(output).to_contain_text("kind: WasmPlugin")
    with hub.client() as anonymous:
        for target in ("envoy", "envoy_gateway", "kuma"):
            page.locator("#panel-deploy").get_by_label("Target").select_option(target)
            expected = anonymous.get(
                "/api/v1/deploy",
                params={"repository": "acme/add-header", "ref": "latest", "target": target},
            )
            assert expected.status_code == 200
            # The page shows the deploy service's own output, not a copy of its logic.
            expect(output).to_have_text(expected.text)
    expect(page).to_have_url(re.compile(r"target=kuma"))
    page.goto("/r/acme/add-header?tab=deploy&ref=no-such-tag")
    expect(page.locator("#deploy-error")).to_have_text("acme/add-header has no tag 'no-such-tag'.")
    page.goto("/r/acme/add-header?tab=deploy")
    page.locator("#panel-deploy").get_by_label("Tag", exact=True).select_option("v0.1.0")
    expect(output).to_contain_text("acme/add-header (v0.1.0)")
    screenshot(page, "deploy")


def test_tag_page_shows_module_facts(browse: Browse) -> None:
    page = browse.page()
    page.goto("/r/acme/add-header/tags/latest")
    module = page.locator("section[aria-labelledby=module-title]")
    expect(module).to_contain_text("cncf")
    expect(module.locator(".symbol-list").first).to_contain_text("proxy_abi_version_0_2_0")
    expect(module.locator(".symbol-list").nth(1)).to_contain_text("wasi_unstable.proc_exit")
    expect(page.locator("section[aria-labelledby=layers-title] tbody tr")).to_have_count(2)
    referrers = page.locator("section[aria-labelledby=referrers-title] tbody tr")
    expect(referrers).to_have_count(1)
    expect(referrers).to_contain_text("application/vnd.dev.cosign.artifact.sig.v1+json")
    expect(referrers).to_contain_text("ci@acme.example")
    page.goto("/r/acme/add-header/tags/v0.1.0")
    expect(page.locator("section[aria-labelledby=referrers-title]")).to_contain_text(
        "No signatures"
    )
    page.goto("/r/acme/add-header/tags/latest")
    page.get_by_text("Manifest JSON").click()
    expect(page.locator("details.raw pre")).to_contain_text('"schemaVersion": 2')
    screenshot(page, "tag")


def test_namespace_pages(browse: Browse) -> None:
    page = browse.page()
    page.goto("/u/acme")  # an organisation: sent to /o/
    expect(page).to_have_url(re.compile(r"/o/acme$"))
    expect(page.get_by_role("heading", name="acme", level=1)).to_be_visible()
    expect(page.locator(".card")).to_have_count(3)
    expect(page.get_by_text("Organisation")).to_be_visible()
    # Members are the organisation's business: not shown to outsiders.
    expect(page.locator("#members")).to_have_count(0)
    screenshot(page, "organisation")


def test_pages_work_without_javascript(browse: Browse) -> None:
    page = browse.page(java_script_enabled=False)
    page.goto("/search?q=auth&sort=stars")
    expect(page.locator("#results .card")).to_have_count(2)
    page.goto("/r/acme/add-header")
    expect(page.locator("#panel-deploy")).to_be_hidden()
    page.get_by_role("tab", name="Deploy").click()  # a link: ?tab=deploy
    expect(page.locator("#panel-deploy")).to_be_visible()
    page.locator("#panel-deploy").get_by_label("Target").select_option("gloo")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"target=gloo"))
    expect(page.locator("#deploy-output")).to_contain_text("gloo")


def test_phone_width_and_dark_mode(browse: Browse) -> None:
    page = browse.page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page.goto("/r/acme/add-header")
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 23)"
    screenshot(page, "repository-phone-dark")
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "home-phone")


def test_unknown_pages_are_404(browse: Browse) -> None:
    browse.expected.append("404 (Not Found)")
    page = browse.page()
    response = page.goto("/r/acme/no-such-filter")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    screenshot(page, "not-found")


def test_long_tag_lists_link_to_all(browse: Browse, hub: Hub) -> None:
    name = "tetrate/many-tags"
    with hub.client("admin") as admin:
        for i in range(23):
            push_filter(admin, name, f"v0.{i}", proxy_module(f"many-{i}"))
    page = browse.page()
    page.goto(f"/r/{name}")
    page.get_by_role("tab", name="Tags").click()
    rows = page.locator("#panel-tags tbody tr")
    expect(rows).to_have_count(20)  # the newest 20, then a link to the whole list
    expect(rows.first.locator("th")).to_have_text("v0.22")
    page.get_by_role("link", name="Show all 23 tags").click()
    expect(page).to_have_url(re.compile(r"\?tab=tags$"))
    expect(rows).to_have_count(23)
    expect(page.get_by_role("tab", name="Tags")).to_contain_text("23")
