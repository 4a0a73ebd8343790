"""The playground's "Try it" tab in Chromium (hub/web/templates/_tryit.html, static/tryit.js),
on the web tests' browser and seeded hub (conftest.py): the config and request editors reach
the filter, the header the filter adds is highlighted in the diff view, the filter's logs
show, and a malformed header line is refused in the page. Owned by the playground."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.web.conftest import Browse, screenshot


def test_try_it_runs_the_filter_and_highlights_the_added_header(browse: Browse) -> None:
    page = browse.page("alice")
    page.goto("/r/acme/add-header?tab=tryit")
    expect(page.get_by_role("tab", name="Try it")).to_have_attribute("aria-selected", "true")
    # The default configuration is not empty: the AssemblyScript SDK traps on an empty one.
    expect(page.locator("#tryit-config")).to_have_value("{}")
    page.select_option("#tryit-ref", "latest")
    page.fill("#tryit-root-id", "add_header")  # CNCF artifacts name no root id
    page.fill("#tryit-config", "from the browser")
    page.fill("#tryit-request-headers", "x-api-key: s3cret\naccept: text/html")
    page.fill("#tryit-response-headers", "content-type: text/plain\nserver: upstream")
    page.get_by_role("button", name="Run").click()
    verdict = page.locator("#tryit-verdict")
    expect(verdict).to_have_text("forwarded to the upstream; the client got 200")
    expect(verdict).to_have_class("notice notice-ok")
    added = page.locator("#tryit-client tr.tryit-added")
    expect(added).to_have_count(1)
    expect(added).to_contain_text("hello")
    expect(added).to_contain_text("from the browser")
    expect(page.locator("#tryit-upstream")).to_contain_text("x-api-key")
    expect(page.locator("#tryit-upstream tr.tryit-added")).to_have_count(0)
    expect(page.locator("#tryit-logs")).to_contain_text(
        "Updating this.configuration=from the browser"
    )
    expect(page.locator("#tryit-callbacks")).to_contain_text("proxy_on_response_headers")
    screenshot(page, "tryit-run")


def test_try_it_refuses_a_malformed_header_line(browse: Browse) -> None:
    page = browse.page("alice")
    page.goto("/r/acme/add-header?tab=tryit")
    page.fill("#tryit-request-headers", "no colon here")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "playground" in r.url else None)
    page.get_by_role("button", name="Run").click()
    error = page.locator("#tryit-error")
    expect(error).to_be_visible()
    expect(error).to_have_text('Request headers, line 1: write "name: value"')
    assert requests == []
