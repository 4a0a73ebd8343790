"""Search on SQLite: an FTS5 table, ranked by the heaviest field each query phrase occurs in.

    search_fts(name, namespace, keywords, description, readme)   rowid = repositories.id

The columns hold the normalized text of hub.search.text, and the user's query reaches MATCH
only as double-quoted phrases of letters and digits, so no input can form FTS5 syntax
(``AND``, ``NEAR``, ``*``, ``-``, ``(``, column filters) or a syntax error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    case,
    column,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement

from hub.config import ConfigError
from hub.search import tables
from hub.search.documents import Document
from hub.search.ranking import FIELD_WEIGHTS
from hub.search.sql import SqlSearch
from hub.search.text import is_prefix

# The fields a phrase is looked for in, heaviest first, with their weight (hub.search.ranking);
# keywords and namespace weigh the same, so one look-up answers both. The README needs none: a
# phrase that matched and is in none of these is in the README.
_LOOKUPS = [
    ("{name}", FIELD_WEIGHTS["name"]),
    ("{keywords namespace}", FIELD_WEIGHTS["keywords"]),
    ("{description}", FIELD_WEIGHTS["description"]),
]
assert FIELD_WEIGHTS["keywords"] == FIELD_WEIGHTS["namespace"]
_FTS = table("search_fts", column("rowid"))
_MATCH_TARGET: ColumnElement[Any] = literal_column("search_fts")


def phrase(terms: list[str], prefix: bool) -> str:
    """Terms are letters and digits only (hub.search.text), so quoting needs no escaping."""
    return f'"{" ".join(terms)}"' + ("*" if prefix else "")


def fts_query(phrases: list[list[str]]) -> str:
    """``[["add", "hea"]]`` -> ``"add hea"*``: every phrase must match, the last one's last
    term as a prefix (hub.search.text.is_prefix)."""
    last = len(phrases) - 1 if is_prefix(phrases) else -1
    return " ".join(phrase(terms, i == last) for i, terms in enumerate(phrases))


def _in_columns(columns: str, fts_phrase: str) -> Select[Any]:
    # correlate(None): the outer query reads search_fts too, and this must stay a separate
    # look-up rather than being folded into it.
    return (
        select(_FTS.c.rowid)
        .where(_MATCH_TARGET.op("MATCH")(f"{columns} : {fts_phrase}"))
        .correlate(None)
    )


def relevance(phrases: list[list[str]]) -> ColumnElement[Any]:
    """hub.search.ranking's relevance: each phrase's heaviest field, by column-filtered FTS5
    look-ups (each runs once per query, not once per row)."""
    last = len(phrases) - 1 if is_prefix(phrases) else -1
    total: ColumnElement[Any] = literal(0)
    for i, terms in enumerate(phrases):
        fts_phrase = phrase(terms, i == last)
        best = case(
            *[
                (_FTS.c.rowid.in_(_in_columns(columns, fts_phrase)), weight)
                for columns, weight in _LOOKUPS
            ],
            else_=FIELD_WEIGHTS["readme"],
        )
        total = total + best
    return total


class SqliteSearch(SqlSearch):
    popularity = tables.popularity_index

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        with engine.connect() as conn:
            try:
                conn.execute(text("SELECT ln(2.0)"))
            except OperationalError:
                raise ConfigError(
                    f"search needs SQLite built with math functions (ln); this one is "
                    f"{conn.exec_driver_sql('SELECT sqlite_version()').scalar()}: use a "
                    "Python whose sqlite3 has SQLITE_ENABLE_MATH_FUNCTIONS, or PostgreSQL"
                ) from None

    def _write_text(self, conn: Connection, doc: Document) -> None:
        conn.execute(
            text(
                "INSERT INTO search_fts (rowid, name, namespace, keywords, description, readme) "
                "VALUES (:id, :name, :namespace, :keywords, :description, :readme)"
            ),
            {"id": doc.repository_id, **doc.fields()},
        )

    def _delete_text(self, conn: Connection, repository_id: int) -> None:
        conn.execute(text("DELETE FROM search_fts WHERE rowid = :id"), {"id": repository_id})

    def _match(self, conn: Connection, phrases: list[list[str]], ranked: bool) -> Select[Any]:
        rel = relevance(phrases) if ranked else literal(1)
        return (
            select(_FTS.c.rowid.label("id"), rel.label("rel"))
            .select_from(_FTS)
            .where(_MATCH_TARGET.op("MATCH")(fts_query(phrases)))
        )
