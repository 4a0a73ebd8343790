"""A private repository is invisible (the same 404 page as a missing one, absent from search
and namespace pages) to everyone but those hub.auth.access lets see it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.web.conftest import Browse, screenshot

PRIVATE = "alice/secret-filter"


@pytest.mark.parametrize("who", [None, "bob"])
def test_outsiders_get_404_everywhere(browse: Browse, who: str | None) -> None:
    browse.expected.append("404 (Not Found)")
    page = browse.page(who)
    for path in (f"/r/{PRIVATE}", f"/r/{PRIVATE}/tags/v1", f"/r/{PRIVATE}?tab=deploy"):
        response = page.goto(path)
        assert response is not None and response.status == 404, path
        expect(page.get_by_role("heading", name="Not found")).to_be_visible()
        assert "secret" not in page.locator("main").inner_text().lower()
    page.goto("/search?q=secret")
    expect(page.locator("#result-count")).to_have_text("0 filters for “secret”")
    page.goto("/u/alice")
    expect(page.locator(".card", has_text="secret-filter")).to_have_count(0)


def test_the_owner_sees_it(browse: Browse) -> None:
    page = browse.page("alice")
    page.goto(f"/r/{PRIVATE}")
    expect(page.get_by_role("heading", name="secret-filter")).to_be_visible()
    expect(page.locator(".badge-private")).to_have_text("Private")
    page.goto("/search?q=secret")
    expect(page.locator("#results .card-title")).to_have_text([PRIVATE])
    page.goto("/u/alice")
    expect(page.locator(".card", has_text="secret-filter")).to_have_count(1)
    screenshot(page, "private-owner")
