"""The search contract: what a query asks, what it answers, and the Search protocol every
backend (SQLite FTS5, PostgreSQL full text) implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

SORTS = ("relevance", "stars", "pulls", "updated")
MAX_PER_PAGE = 100
# page * per_page must stay a small integer: SQLite cannot bind an OFFSET past 2**63, and no
# one pages through more than a million results by hand.
MAX_PAGE = 10_000
MAX_QUERY_CHARS = 256
MAX_FILTER_CHARS = 255
# ``loads``: did the latest tag's module load in the proxy-wasm 0.2.x host at push
# (WasmModule.facts["load_check"]["ok"], hub.playground.service.PlaygroundService.load_check)?
# A module never checked (ok = null, or pushed before the check existed) is neither.
LOADS = ("yes", "no")


class InvalidQuery(ValueError):
    """A query parameter out of its range; ``parameter`` names it for the API's 400."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class SearchQuery:
    """One search. Empty ``q`` browses every visible repository in ``sort`` order; the
    filters combine with AND (``abi`` matches any one of a module's ABI versions)."""

    q: str = ""
    abi: str | None = None
    variant: str | None = None
    namespace: str | None = None
    toolchain: str | None = None
    loads: str | None = None  # "yes" | "no" (LOADS)
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20
    # Namespaces (ids) whose private repositories the asker may see, as
    # AccessService.visible_namespaces answers it; None: every repository (an admin, or an
    # open hub). The default shows public repositories only.
    visible_namespaces: frozenset[int] | None = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if len(self.q) > MAX_QUERY_CHARS:
            raise InvalidQuery("q", f"q is longer than {MAX_QUERY_CHARS} characters")
        if self.loads is not None and self.loads not in LOADS:
            raise InvalidQuery(
                "loads", f"loads={self.loads[:40]!r}: choose one of {', '.join(LOADS)}"
            )
        if self.sort not in SORTS:
            raise InvalidQuery("sort", f"sort={self.sort!r}: choose one of {', '.join(SORTS)}")
        if not 1 <= self.page <= MAX_PAGE:
            raise InvalidQuery("page", f"page must be between 1 and {MAX_PAGE}")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidQuery("per_page", f"per_page must be between 1 and {MAX_PER_PAGE}")
        for name in ("abi", "variant", "namespace", "toolchain"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FILTER_CHARS:
                raise InvalidQuery(name, f"{name} is longer than {MAX_FILTER_CHARS} characters")
            if value is not None and "\x00" in value:
                # No stored value holds NUL, and PostgreSQL refuses it in a parameter.
                raise InvalidQuery(name, f"{name} must not contain NUL")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


@dataclass(frozen=True)
class SearchHit:
    repository: str  # "namespace/name", as pulled
    namespace: str
    description: str
    keywords: list[str]
    stars: int
    pulls: int
    updated_at: datetime  # UTC
    latest_tag: str | None  # the most recently pushed tag
    # Facts of the latest tag's Wasm module; empty when it carries none (or no tag exists).
    variant: str | None
    abi_versions: list[str]
    toolchain: str | None
    # The load check of that module: True/False, None when it was never checked.
    loads: bool | None
    private: bool  # shown only to those who may see it; the card says so
    exact: bool  # the query named this repository exactly
    score: float  # the ranking score (see hub/search/ranking.py); comparable within one query


FACETS = ("abi", "variant", "namespace", "toolchain", "loads")
FACET_LIMIT = 50  # values per facet; a browse over every namespace would otherwise list them all


@dataclass(frozen=True)
class SearchResult:
    results: list[SearchHit]
    total: int  # every match, not just this page
    # {"abi": {value: count}, "variant": ..., "namespace": ..., "toolchain": ...,
    # "loads": {"yes": n, "no": m}}, counted over
    # the whole (filtered) match set, largest first, at most FACET_LIMIT values each.
    facets: dict[str, dict[str, int]]


class Search(Protocol):
    def index(self, session: Session, repository_id: int) -> None:
        """(Re-)index one repository from its current rows, inside the caller's session and
        transaction: the change commits together with its index entry, and a rollback leaves
        no trace. Call it in every transaction that changes what the index holds: the text
        (name, description, keywords, README), the tags (push, tag or manifest delete), the
        visibility (``private``) or ``updated_at``. Stars and pulls are read live and need
        no call. Pending ORM changes are flushed first. A repository that no longer exists
        (or has no namespace) is removed instead."""
        ...

    def remove(self, session: Session, repository_id: int) -> None:
        """Drop one repository from the index inside the caller's transaction, e.g. with its
        deletion. (Deleting the row alone also drops its documents by ON DELETE CASCADE;
        remove() clears SQLite's FTS row too, which no foreign key can reach.)"""
        ...

    def query(self, query: SearchQuery) -> SearchResult:
        """Ranked, filtered, paged matches with their total and facet counts, from its own
        read-only connection. A private repository is returned only when its namespace is in
        ``query.visible_namespaces`` (or that is None)."""
        ...
