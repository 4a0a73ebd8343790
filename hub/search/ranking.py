"""How results are ordered, in one place for both backends.

With ``sort=relevance`` (the default):

    1. an exact name match first: q equals the full ``namespace/name`` or the name part
       (case-insensitive, surrounding spaces ignored);
    2. then by score = relevance × popularity, where

           relevance  = Σ over the query's phrases of the weight of the heaviest field the
                        phrase occurs in (FIELD_WEIGHTS: name 10, keywords 6, namespace 6,
                        description 3, README 1)
                        + 0.5 × r / (1 + r), r = the backend's own text rank (SQLite: -bm25;
                        PostgreSQL: ts_rank), a tie-break that stays below 0.5
                        (1 when browsing without q);
           popularity = 1 + 0.1·ln(1 + pulls) + 0.2·ln(1 + stars);

    3. then by name, so pages are stable.

Field weights are whole numbers, so a phrase found in a heavier field always beats the
tie-break, on both backends alike: neither FTS5's bm25 (which sums column weights before
saturating) nor ts_rank (which rewards repeated nearby pairs) keeps a README that repeats a
word below a single keyword mention on its own.

Popularity multiplies so it is scale-free, and it grows slowly (×2 at about 22,000 pulls, or
at about 150 stars): it reorders comparably relevant results; to overtake a result one field
class better (say keyword 6 over description 3) a repository needs twice its popularity.

``sort=stars|pulls|updated`` order by that key (largest / newest first), then by popularity,
then by name; text rank is not computed for them (relevance = 1), and the exact-match rule
applies to relevance only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, func
from sqlalchemy.sql.elements import ColumnElement

FIELD_WEIGHTS = {"name": 10, "keywords": 6, "namespace": 6, "description": 3, "readme": 1}
TIE_BREAK = 0.5
PULLS_WEIGHT = 0.1
STARS_WEIGHT = 0.2


def tie_break(rank: ColumnElement[Any]) -> ColumnElement[Any]:
    """A non-negative backend rank squashed into [0, TIE_BREAK)."""
    return TIE_BREAK * rank / (rank + 1.0)


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
