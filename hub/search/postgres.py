"""Search on PostgreSQL: weighted tsvectors per repository, matched through a GIN index.

    search_text(repository_id, document tsvector, head tsvector)   GIN(document)

``document`` holds every field, weighted A = name, B = keywords and namespace, C =
description, D = README; it answers which repositories match. ``head`` is the same without
the README: small enough to stay inline in the row, so finding each phrase's heaviest field
(weight-restricted tsqueries, hub.search.ranking) never decompresses a README.

The 'simple' configuration (lower-casing, no stemming, no stop words) keeps lexemes identical
to SQLite's, and the text arrives pre-tokenized (hub.search.text). The query is built as
to_tsquery syntax from letters-and-digits terms only, quoted, so no input can be an error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    Text,
    case,
    cast,
    column,
    func,
    literal,
    literal_column,
    select,
    table,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.sql.elements import ColumnElement

from hub.search import tables
from hub.search.documents import Document
from hub.search.ranking import FIELD_WEIGHTS
from hub.search.sql import SqlSearch
from hub.search.text import is_prefix

_CONFIG: ColumnElement[Any] = literal_column("'simple'::regconfig")
_TEXT = table(
    "search_text",
    column("repository_id"),
    column("document", TSVECTOR),
    column("head", TSVECTOR),
)
# tsvector weight classes of the head fields, heaviest first (D, the README, is the rest).
_CLASSES = [
    ("A", FIELD_WEIGHTS["name"]),
    ("B", FIELD_WEIGHTS["keywords"]),
    ("C", FIELD_WEIGHTS["description"]),
]
_HEAD = (
    "setweight(to_tsvector('simple', :name), 'A') || "
    "setweight(to_tsvector('simple', :keywords || ' ' || :namespace), 'B') || "
    "setweight(to_tsvector('simple', :description), 'C')"
)


def tsphrase(terms: list[str], prefix: bool, weight: str = "") -> str:
    """``["add", "hea"]`` -> ``'add' <-> 'hea':*``, each term restricted to ``weight`` when
    given. Terms are letters and digits only (hub.search.text): quoting needs no escaping."""
    quoted = [f"'{term}'" + (":" + weight if weight else "") for term in terms]
    if prefix:
        quoted[-1] = f"'{terms[-1]}':*{weight}"
    return " <-> ".join(quoted)


def tsquery(phrases: list[list[str]]) -> str:
    """Every phrase must match (``&``), the very last term as a prefix (is_prefix)."""
    last = len(phrases) - 1 if is_prefix(phrases) else -1
    return " & ".join(tsphrase(terms, i == last) for i, terms in enumerate(phrases))


def relevance(phrases: list[list[str]]) -> ColumnElement[Any]:
    """hub.search.ranking's relevance: each phrase's heaviest field, by weight-restricted
    matches on ``head``."""
    last = len(phrases) - 1 if is_prefix(phrases) else -1
    total: ColumnElement[Any] = literal(0)
    for i, terms in enumerate(phrases):
        best = case(
            *[
                (
                    _TEXT.c.head.op("@@")(
                        func.to_tsquery(_CONFIG, tsphrase(terms, i == last, weight))
                    ),
                    points,
                )
                for weight, points in _CLASSES
            ],
            else_=FIELD_WEIGHTS["readme"],
        )
        total = total + best
    return total


class PostgresSearch(SqlSearch):
    popularity = select(
        tables.popularity_copy.c.repository_id.label("id"),
        tables.popularity_copy.c.stars,
        tables.popularity_copy.c.pulls,
    ).subquery("popularity")

    def _write_text(self, conn: Connection, doc: Document) -> None:
        conn.execute(
            sql(
                f"INSERT INTO search_text (repository_id, head, document) VALUES (:id, {_HEAD}, "
                f"{_HEAD} || setweight(to_tsvector('simple', :readme), 'D'))"
            ),
            {"id": doc.repository_id, **doc.fields()},
        )

    def _delete_text(self, conn: Connection, repository_id: int) -> None:
        conn.execute(
            sql("DELETE FROM search_text WHERE repository_id = :id"), {"id": repository_id}
        )

    def _match(self, conn: Connection, phrases: list[list[str]], ranked: bool) -> Select[Any]:
        """Runs the text match as a statement of its own and hands its (id, rel) pairs on as
        two arrays. PostgreSQL prices ``document @@ query`` as one cheap operator call, so
        for a common word it prefers a sequential scan, and that decompresses every
        README-sized tsvector: 10x slower than the GIN bitmap scan at 10,000 repositories.
        Alone in its statement, with plain and index scans off, the bitmap scan is the only
        plan left; in the big statement the same settings would skew every other join. The
        arrays travel in their text form, never as Python lists of 10,000 numbers."""
        rel = relevance(phrases) if ranked else literal(1)
        found = select(
            func.coalesce(func.array_agg(_TEXT.c.repository_id).cast(Text), "{}"),
            func.coalesce(func.array_agg(rel).cast(Text), "{}"),
        ).where(_TEXT.c.document.op("@@")(func.to_tsquery(_CONFIG, tsquery(phrases))))
        # LOCAL: the settings end with this read-only transaction at the latest. One round
        # trip each way (several statements in one parameterless call).
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        ids, rels = conn.execute(found).one()
        conn.exec_driver_sql(
            "SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_indexscan TO DEFAULT"
        )
        matches = (
            func.unnest(
                cast(literal(ids, Text), ARRAY(Integer)), cast(literal(rels, Text), ARRAY(Integer))
            )
            .table_valued("id", "rel")
            .render_derived()
        )
        return select(matches.c.id, matches.c.rel)
