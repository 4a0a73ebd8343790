"""The search index's own tables, shared by both backends (migration 0003 creates them, with
their foreign keys and ON DELETE CASCADE; these Core definitions are for querying).

    search_documents  one slim row per indexed repository: everything a query filters, sorts
                      and counts facets on, copied when indexed (the latest tag's facts,
                      visibility, update time), so a query over the whole catalog never reads
                      the wide ``repositories`` rows (on SQLite, reading a column after the
                      README means walking its overflow pages).
    search_abis       one row per (repository, ABI version) of that module, so ``abi=`` and
                      the ABI facet are index look-ups instead of comma-string scans

Stars and pulls change without a re-index (batched pull counting, starring), so queries
read them live, but never from the wide rows: each backend has a narrow (id, stars, pulls)
source (``SqlSearch.popularity``). SQLite reads ``repositories`` through the covering index
ix_search_repositories_popularity; PostgreSQL reads ``search_popularity``, a copy a trigger
on ``repositories`` keeps (an index-only scan there would depend on the visibility map, which
pull counting keeps dirty: 25% slower right after a batch of updates).

The text index itself is backend-specific: ``search_fts`` (FTS5, SQLite) or ``search_text``
(tsvector + GIN, PostgreSQL).

They live on their own MetaData, not SQLModel's: Alembic autogenerate compares SQLModel's
against the database and should leave the search tables (and FTS5's shadow tables) alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Integer, MetaData, String, Table
from sqlalchemy import column as column_clause
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import TableClause

metadata = MetaData()

documents = Table(
    "search_documents",
    metadata,
    Column("repository_id", Integer, primary_key=True),
    Column("namespace_id", Integer, nullable=False),
    Column("repository", String(255), nullable=False),  # the full name, namespace/name
    Column("name", String(255), nullable=False),  # the part after the namespace
    Column("latest_tag", String(128)),
    Column("variant", String(32), nullable=False),
    Column("abi_versions", String(512), nullable=False),
    Column("toolchain", String(255), nullable=False),
    # The latest module's load check (hub.search.base.LOADS); NULL: never checked
    # (migration 0009 added it and fills it for what was indexed before).
    Column("loads", Boolean, nullable=True),
    Column("private", Boolean, nullable=False),  # Repository.private
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

abis = Table(
    "search_abis",
    metadata,
    Column("repository_id", Integer, primary_key=True),
    Column("abi", String(255), primary_key=True),
)


popularity_copy = Table(
    "search_popularity",
    metadata,
    Column("repository_id", Integer, primary_key=True),
    Column("stars", Integer, nullable=False),
    Column("pulls", BigInteger, nullable=False),
)


class _PopularityIndex(TableClause):
    """``repositories`` read through ix_search_repositories_popularity alone."""

    inherit_cache = True


@compiles(_PopularityIndex)
def _as_table(element: Any, compiler: Any, **kw: Any) -> str:
    return str(compiler.visit_table(element, **kw))


@compiles(_PopularityIndex, "sqlite")
def _indexed_by(element: Any, compiler: Any, **kw: Any) -> str:
    # Without statistics SQLite joins on the rowid, reading the whole row: past the README's
    # overflow pages to reach stars, 3x slower than the covering index over 10,000 rows.
    found = str(compiler.visit_table(element, **kw))
    return found + " INDEXED BY ix_search_repositories_popularity" if kw.get("asfrom") else found


popularity_index = _PopularityIndex(
    "repositories",
    column_clause("id", Integer),
    column_clause("stars", Integer),
    column_clause("pulls", BigInteger),
)
