"""A private repository is invisible (the same 404 page as a missing one, absent from search
and namespace pages) to everyone but those hub.auth.access lets see it."""

from __future__ import annotations

import re

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
    expect(page.locator("#results .card-title a")).to_have_text([PRIVATE])
    page.goto("/u/alice")
    expect(page.locator(".card", has_text="secret-filter")).to_have_count(1)
    screenshot(page, "private-owner")


def test_search_cards_mark_private_repositories(browse: Browse) -> None:
    """The owner's search lists the private repository with the repository page's badge, on
    the server-rendered cards and on those search.js draws as one types; public cards have
    none, and outsiders never get the card at all (test_outsiders_get_404_everywhere)."""
    page = browse.page("alice")
    page.goto("/search?sort=updated")
    cards = page.locator("#results .card")
    private = cards.filter(has_text="secret-filter")
    expect(private.locator(".badge-private")).to_have_text("Private")
    expect(private.locator(".badge-private")).to_have_attribute(
        "title", "Only members of alice see this repository"
    )
    expect(cards.locator(".badge-private")).to_have_count(1)
    assert cards.count() > 1  # public cards are there, without the badge

    # search.js redraws the cards from /api/v1/search, then puts the query in the address
    page.select_option("#search-sort", "pulls")
    expect(page).to_have_url(re.compile(r"/search\?sort=pulls$"))
    expect(private.locator(".badge-private")).to_have_text("Private")
    expect(cards.locator(".badge-private")).to_have_count(1)
    assert cards.count() > 1
    screenshot(page, "search-private-badge")
