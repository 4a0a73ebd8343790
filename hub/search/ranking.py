"""How results are ordered, in one place for both backends.

With ``sort=relevance`` (the default):

    1. an exact name match first: q equals the full ``namespace/name`` or the name part
       (case-insensitive, surrounding blanks ignored);
    2. then by score = relevance × popularity, where

           relevance  = Σ over the query's phrases (hub.search.text) of the weight of the
                        heaviest field the phrase occurs in: name 10, keywords 6,
                        namespace 6, description 3, README 1 (FIELD_WEIGHTS);
                        1 when browsing without q
           popularity = 1 + 0.1·ln(1 + pulls) + 0.2·ln(1 + stars)

    3. then by full name, so pages are stable.

Both backends compute exactly this (SQLite with column-filtered FTS5 look-ups, PostgreSQL
with weight-restricted tsqueries), so a query ranks alike on either. Their own rank
functions are not used: FTS5's bm25 sums column weights *before* saturating and ts_rank
rewards repeated nearby word pairs, so with either a README repeating a word forty times
outranks the word as a keyword; and they are the costly part (bm25 added 12 ms per 10,000
matches on SQLite, ts_rank decompresses every matching README on PostgreSQL).

Popularity multiplies, so it cannot swamp relevance, and grows slowly (×2 at about 22,000
pulls, or at about 150 stars): it orders results of the same relevance and reorders close
ones; to overtake a result one field class better (a keyword hit, 6, over a description
hit, 3) a repository needs twice the popularity.

``sort=stars|pulls|updated`` order by that key (largest / newest first), then by popularity,
then by name; relevance is not computed for them, and the exact-match rule applies to
relevance only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, func
from sqlalchemy.sql.elements import ColumnElement

FIELD_WEIGHTS = {"name": 10, "keywords": 6, "namespace": 6, "description": 3, "readme": 1}
PULLS_WEIGHT = 0.1
STARS_WEIGHT = 0.2


def popularity(pulls: Any, stars: Any) -> ColumnElement[Any]:
    return (
        1.0
        + PULLS_WEIGHT * func.ln(cast(pulls, Float) + 1.0)
        + STARS_WEIGHT * func.ln(cast(stars, Float) + 1.0)
    )


def order_by(sort: str, columns: Any, score: ColumnElement[Any]) -> list[Any]:
    """The ORDER BY for ``sort``; ``columns`` carries exact, stars, pulls, updated_at and
    repository (the full name)."""
    if sort == "relevance":
        return [columns.exact.desc(), score.desc(), columns.repository]
    key = {"stars": columns.stars, "pulls": columns.pulls, "updated": columns.updated_at}[sort]
    return [key.desc(), score.desc(), columns.repository]
