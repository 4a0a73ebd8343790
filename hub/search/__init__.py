"""Full-text search over repositories: one Search protocol, a backend per database.

The backend follows the database engine; there is no fallback (a silent substring search
would look like it worked). See base.py for the contract, ranking.py for the order.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from hub.config import ConfigError
from hub.search.base import (
    SORTS,
    InvalidQuery,
    Search,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from hub.search.postgres import PostgresSearch
from hub.search.sqlite import SqliteSearch

BACKENDS: dict[str, Callable[[Engine], Search]] = {
    "sqlite": SqliteSearch,
    "postgresql": PostgresSearch,
}


def open_search(engine: Engine) -> Search:
    dialect = engine.dialect.name
    try:
        backend = BACKENDS[dialect]
    except KeyError:
        raise ConfigError(
            f"search has no backend for the {dialect!r} database; choose one of "
            f"{', '.join(BACKENDS)}"
        ) from None
    return backend(engine)


__all__ = [
    "BACKENDS",
    "SORTS",
    "InvalidQuery",
    "Search",
    "SearchHit",
    "SearchQuery",
    "SearchResult",
    "open_search",
]
