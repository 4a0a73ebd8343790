"""The part of search both backends share: writing the facts tables, filters, visibility,
facets, ordering and paging. A backend adds only its text index: how a document is written
to it and how phrases become a ranked match (``SqliteSearch``, ``PostgresSearch``).

A query is one statement over the match set, materialized once, answering its total, the
facet counts and the page's repository ids in order; then one look-up of what those few
repositories display. Only that look-up reads the wide ``repositories`` rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause
from sqlmodel import Session, col

from hub.db.models import Namespace, Repository
from hub.search import documents, ranking, tables, text
from hub.search.base import FACET_LIMIT, FACETS, SearchHit, SearchQuery, SearchResult
from hub.search.documents import Document


class SqlSearch:
    # Every repository's (id, stars, pulls), read without touching the wide rows
    # (hub.search.tables).
    popularity: FromClause

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- backend hooks ----------------------------------------------------------------------

    def _write_text(self, conn: Connection, doc: Document) -> None:
        raise NotImplementedError

    def _delete_text(self, conn: Connection, repository_id: int) -> None:
        raise NotImplementedError

    def _match(self, conn: Connection, phrases: list[list[str]], ranked: bool) -> Select[Any]:
        """A SELECT of (id, rel) for every repository whose text matches all ``phrases``:
        ``rel`` is hub.search.ranking's relevance when ``ranked``, else 1. It is used in both
        statements of the query, and a backend may run work on ``conn`` to build it."""
        raise NotImplementedError

    # --- Search ------------------------------------------------------------------------------

    def index(self, session: Session, repository_id: int) -> None:
        session.flush()
        doc = documents.load(session, repository_id)
        conn = session.connection()
        if doc is None:
            self._remove(conn, repository_id)
            return
        documents.write_facts(conn, doc)
        self._delete_text(conn, repository_id)
        self._write_text(conn, doc)

    def remove(self, session: Session, repository_id: int) -> None:
        session.flush()
        self._remove(session.connection(), repository_id)

    def _remove(self, conn: Connection, repository_id: int) -> None:
        self._delete_text(conn, repository_id)
        documents.delete_facts(conn, repository_id)

    def query(self, query: SearchQuery) -> SearchResult:
        phrases = text.phrases(query.q)
        with self.engine.connect() as conn:
            # Text rank only matters to relevance order; the other sorts skip computing it.
            match = self._match(conn, phrases, query.sort == "relevance") if phrases else None
            total, facets, page = self._counts_and_page(conn, query, match)
            hits = self._hits(conn, query, page) if page else []
        return SearchResult(hits, total, facets)

    # --- the statements --------------------------------------------------------------------

    def _matching(
        self, query: SearchQuery, match: Select[Any] | None, columns: list[Any]
    ) -> Select[Any]:
        """``columns`` (of search_documents and ``popularity``, and ``rel``) for every
        visible repository that matches the text (``match``; None = all) and the filters."""
        docs = tables.documents
        source: FromClause = docs
        rel: ColumnElement[Any] = literal(1)
        if match is not None:
            sub = match.subquery("match")
            source = sub.join(docs, docs.c.repository_id == sub.c.id)
            rel = sub.c.rel
        counts = self.popularity
        source = source.join(counts, counts.c.id == docs.c.repository_id)
        where: list[ColumnElement[bool]] = []
        if query.visible_namespaces is not None:
            public: ColumnElement[bool] = docs.c.private.is_(False)
            if query.visible_namespaces:
                public = or_(public, docs.c.namespace_id.in_(sorted(query.visible_namespaces)))
            where.append(public)
        if query.namespace:
            where.append(
                docs.c.namespace_id
                == select(col(Namespace.id))
                .where(col(Namespace.name) == query.namespace)
                .scalar_subquery()
            )
        if query.variant:
            where.append(docs.c.variant == query.variant)
        if query.toolchain:
            where.append(docs.c.toolchain == query.toolchain)
        if query.loads:
            # "no" means checked and failed: an unchecked module (NULL) is neither.
            where.append(docs.c.loads.is_(query.loads == "yes"))
        if query.abi:
            where.append(
                exists().where(
                    tables.abis.c.repository_id == docs.c.repository_id,
                    tables.abis.c.abi == query.abi,
                )
            )
        return select(*columns, rel.label("rel")).select_from(source).where(*where)

    def _counts_and_page(
        self, conn: Connection, query: SearchQuery, match: Select[Any] | None
    ) -> tuple[int, dict[str, dict[str, int]], list[tuple[int, float]]]:
        """One statement over the match set, materialized once: the total, the facet counts
        and the page's (repository id, score) in order. Rows are (kind, value, n, position,
        score): kind "total" | a facet | "hit"; for a hit, n is the repository id."""
        docs = tables.documents
        m = (
            self._matching(
                query,
                match,
                [
                    docs.c.repository_id.label("id"),
                    docs.c.namespace_id,
                    docs.c.repository,
                    docs.c.variant,
                    docs.c.toolchain,
                    docs.c.loads,
                    self.popularity.c.stars,
                    self.popularity.c.pulls,
                    docs.c.updated_at,
                    _exact(query).label("exact"),
                ],
            )
            .cte("m")
            .prefix_with("MATERIALIZED")
        )
        # Ordered by the label: a repeated expression would be evaluated twice per row.
        score = (m.c.rel * ranking.popularity(m.c.pulls, m.c.stars)).label("score")
        top = (
            select(m.c.id, m.c.exact, m.c.repository, m.c.stars, m.c.pulls, m.c.updated_at, score)
            .order_by(*ranking.order_by(query.sort, m.c, score))
            .limit(query.per_page)
            .offset(query.offset)
            .subquery("top")
        )
        position = func.row_number().over(order_by=ranking.order_by(query.sort, top.c, top.c.score))
        # Namespaces are grouped by id (integers sort faster than names) and named after.
        per_namespace = (
            select(m.c.namespace_id, func.count().label("n")).group_by(m.c.namespace_id).subquery()
        )
        abis = tables.abis
        none, zero = literal(0), literal(0.0)
        loads = case((m.c.loads.is_(True), literal("yes")), else_=literal("no"))
        rows = conn.execute(
            union_all(
                select(literal("total"), literal(""), func.count(), none, zero).select_from(m),
                select(literal("hit"), literal(""), top.c.id, position, top.c.score),
                select(
                    literal("namespace"), col(Namespace.name), per_namespace.c.n, none, zero
                ).join_from(
                    per_namespace, Namespace, col(Namespace.id) == per_namespace.c.namespace_id
                ),
                select(literal("variant"), m.c.variant, func.count(), none, zero)
                .where(m.c.variant != "")
                .group_by(m.c.variant),
                select(literal("toolchain"), m.c.toolchain, func.count(), none, zero)
                .where(m.c.toolchain != "")
                .group_by(m.c.toolchain),
                select(literal("loads"), loads, func.count(), none, zero)
                .where(m.c.loads.is_not(None))
                .group_by(m.c.loads),
                select(literal("abi"), abis.c.abi, func.count(), none, zero)
                .select_from(m.join(abis, abis.c.repository_id == m.c.id))
                .group_by(abis.c.abi),
            )
        )
        total = 0
        hits: list[tuple[int, int, float]] = []
        found: dict[str, list[tuple[str, int]]] = {facet: [] for facet in FACETS}
        for kind, value, n, pos, row_score in rows:
            if kind == "total":
                total = int(n)
            elif kind == "hit":
                hits.append((int(pos), int(n), float(row_score)))
            else:
                found[kind].append((value, int(n)))
        facets = {
            facet: dict(sorted(values, key=lambda vc: (-vc[1], vc[0]))[:FACET_LIMIT])
            for facet, values in found.items()
        }
        return total, facets, [(repo_id, s) for _, repo_id, s in sorted(hits)]

    def _hits(
        self, conn: Connection, query: SearchQuery, page: list[tuple[int, float]]
    ) -> list[SearchHit]:
        """What the page's repositories display: only these rows read the wide
        ``repositories`` table."""
        docs = tables.documents
        rows = conn.execute(
            select(
                docs,
                _exact(query).label("exact"),
                col(Namespace.name).label("namespace"),
                col(Repository.description),
                col(Repository.keywords),
                col(Repository.stars),
                col(Repository.pulls),
            )
            .join(Repository, col(Repository.id) == docs.c.repository_id)
            .join(Namespace, col(Namespace.id) == docs.c.namespace_id)
            .where(docs.c.repository_id.in_([repo_id for repo_id, _ in page]))
        )
        found = {row.repository_id: row._mapping for row in rows}
        # A repository removed between the two statements simply drops out of the page.
        return [_hit(found[repo_id], score) for repo_id, score in page if repo_id in found]


def _exact(query: SearchQuery) -> ColumnElement[bool]:
    """q names the repository: its full name or the part after the namespace."""
    docs = tables.documents
    wanted = text.exact_name(query.q)
    return or_(docs.c.repository == wanted, docs.c.name == wanted) if wanted else false()


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the hub stores is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _hit(row: Any, score: float) -> SearchHit:
    return SearchHit(
        repository=row["repository"],
        namespace=row["namespace"],
        description=row["description"],
        keywords=_split(row["keywords"]),
        stars=int(row["stars"]),
        pulls=int(row["pulls"]),
        updated_at=_utc(row["updated_at"]),
        latest_tag=row["latest_tag"],
        variant=row["variant"] or None,
        abi_versions=_split(row["abi_versions"]),
        toolchain=row["toolchain"] or None,
        loads=row["loads"],
        private=bool(row["private"]),
        exact=bool(row["exact"]),
        score=score,
    )
