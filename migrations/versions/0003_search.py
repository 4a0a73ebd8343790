"""search index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

The tables hub.search reads (see hub/search/tables.py): search_documents and search_abis on
both databases, plus the text index, FTS5 on SQLite and weighted tsvectors with a GIN index
on PostgreSQL, and a narrow source of repositories' stars and pulls (a covering index on
SQLite, a trigger-kept copy on PostgreSQL). Existing repositories
are indexed here the way hub.search indexes a push (this migration keeps its own copy of that
SQL, so later changes to hub.search cannot change what it does; only the tokenizer is shared,
since documents and queries must agree on it). Repository.private arrives later (0004), so
every backfilled document is public, as those repositories are.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from hub.search.text import normalize

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("repository", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("latest_tag", sa.String(length=128), nullable=True),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("abi_versions", sa.String(length=512), nullable=False),
        sa.Column("toolchain", sa.String(length=255), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        # CASCADE: a repository deleted without search.remove() must not be blocked by, or
        # leave, its facts (the text rows are only ever reached through this table).
        sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["namespace_id"], ["namespaces.id"]),
        sa.PrimaryKeyConstraint("repository_id"),
    )
    op.create_table(
        "search_abis",
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("abi", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["repository_id"], ["search_documents.repository_id"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("repository_id", "abi"),
    )
    if op.get_bind().dialect.name == "sqlite":
        # The text arrives pre-tokenized (hub.search.text); diacritics stay, as on PostgreSQL.
        # The prefix index answers the 2-4 letter prefixes people type (hub.search.text
        # MIN_PREFIX) without expanding every matching term: 4x faster for "the*" at 10,000
        # repositories, for about 3x the index size.
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "name, namespace, keywords, description, readme, "
            "tokenize = 'unicode61 remove_diacritics 0', prefix = '2 3 4')"
        )
    else:
        op.create_table(
            "search_text",
            sa.Column("repository_id", sa.Integer(), nullable=False),
            # document: every field (A name, B keywords + namespace, C description, D README),
            # GIN-indexed for matching; head: the same without the README, for ranking.
            sa.Column("document", postgresql.TSVECTOR(), nullable=False),
            sa.Column("head", postgresql.TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("repository_id"),
        )
        op.create_index(
            "ix_search_text_document", "search_text", ["document"], postgresql_using="gin"
        )
    # Queries read stars and pulls (which change without a re-index) from a narrow source,
    # never from the wide rows (hub/search/tables.py).
    if op.get_bind().dialect.name == "sqlite":
        # On SQLite reading stars from the row walks past the README's overflow pages.
        op.create_index(
            "ix_search_repositories_popularity", "repositories", ["id", "stars", "pulls"]
        )
    else:
        # On PostgreSQL an index-only scan would depend on the visibility map, which pull
        # counting keeps dirty; a narrow copy kept by a trigger does not. (SQLite gets no
        # trigger: Alembic's batch mode recreates tables there and drops their triggers.)
        op.create_table(
            "search_popularity",
            sa.Column("repository_id", sa.Integer(), nullable=False),
            sa.Column("stars", sa.Integer(), nullable=False),
            sa.Column("pulls", sa.BigInteger(), nullable=False),
            sa.ForeignKeyConstraint(["repository_id"], ["repositories.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("repository_id"),
        )
        op.execute(
            "CREATE FUNCTION search_popularity_copy() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            "INSERT INTO search_popularity (repository_id, stars, pulls) "
            "VALUES (NEW.id, NEW.stars, NEW.pulls) "
            "ON CONFLICT (repository_id) DO UPDATE "
            "SET stars = EXCLUDED.stars, pulls = EXCLUDED.pulls; "
            "RETURN NULL; "
            "END $$"
        )
        op.execute(
            "CREATE TRIGGER search_popularity_copy "
            "AFTER INSERT OR UPDATE OF stars, pulls ON repositories "
            "FOR EACH ROW EXECUTE FUNCTION search_popularity_copy()"
        )
        op.execute(
            "INSERT INTO search_popularity (repository_id, stars, pulls) "
            "SELECT id, stars, pulls FROM repositories"
        )
    _backfill(op.get_bind())


def _module(conn: sa.Connection, repository_id: int, digest: str) -> sa.Row | None:
    found = conn.execute(
        sa.text(
            "SELECT variant, abi_versions, toolchain FROM wasm_modules WHERE manifest_digest = :d"
        ),
        {"d": digest},
    ).first()
    if found is not None:
        return found
    # A tag on an image index: its first child that carries a module.
    return conn.execute(
        sa.text(
            "SELECT w.variant, w.abi_versions, w.toolchain FROM wasm_modules w "
            "JOIN manifest_references r ON r.digest = w.manifest_digest "
            "JOIN manifests m ON m.id = r.manifest_id "
            "WHERE m.repository_id = :id AND m.digest = :d AND r.kind = 'manifest' "
            "ORDER BY w.manifest_digest LIMIT 1"
        ),
        {"id": repository_id, "d": digest},
    ).first()


def _backfill(conn: sa.Connection) -> None:
    repos = conn.execute(
        sa.text(
            "SELECT r.id, r.namespace_id, r.name, n.name, r.keywords, r.description, r.readme, "
            "r.updated_at "
            "FROM repositories r JOIN namespaces n ON n.id = r.namespace_id"
        )
    ).all()
    for (
        repo_id,
        namespace_id,
        full_name,
        namespace,
        keywords,
        description,
        readme,
        updated_at,
    ) in repos:
        short = full_name.partition("/")[2] or full_name
        tag = conn.execute(
            sa.text(
                "SELECT name, manifest_digest FROM tags WHERE repository_id = :id "
                "ORDER BY updated_at DESC, name LIMIT 1"
            ),
            {"id": repo_id},
        ).first()
        module = _module(conn, repo_id, tag[1]) if tag else None
        abis = sorted({v.strip() for v in (module[1] if module else "").split(",") if v.strip()})
        conn.execute(
            sa.text(
                "INSERT INTO search_documents (repository_id, namespace_id, repository, name, "
                "latest_tag, variant, abi_versions, toolchain, updated_at) "
                "VALUES (:id, :ns, :repository, :name, :tag, :variant, :abis, :toolchain, "
                ":updated_at)"
            ),
            {
                "id": repo_id,
                "ns": namespace_id,
                "repository": full_name,
                "name": short,
                "tag": tag[0] if tag else None,
                "variant": module[0] if module else "",
                "abis": ",".join(abis),
                "toolchain": module[2] if module else "",
                "updated_at": updated_at,
            },
        )
        for abi in abis:
            conn.execute(
                sa.text("INSERT INTO search_abis (repository_id, abi) VALUES (:id, :abi)"),
                {"id": repo_id, "abi": abi},
            )
        fields = {
            "id": repo_id,
            "name": normalize(short),
            "namespace": normalize(namespace),
            "keywords": normalize((keywords or "").replace(",", " ")),
            "description": normalize(description or ""),
            "readme": normalize(readme or ""),
        }
        if conn.dialect.name == "sqlite":
            conn.execute(
                sa.text(
                    "INSERT INTO search_fts "
                    "(rowid, name, namespace, keywords, description, readme) "
                    "VALUES (:id, :name, :namespace, :keywords, :description, :readme)"
                ),
                fields,
            )
        else:
            head = (
                "setweight(to_tsvector('simple', :name), 'A') || "
                "setweight(to_tsvector('simple', :keywords || ' ' || :namespace), 'B') || "
                "setweight(to_tsvector('simple', :description), 'C')"
            )
            conn.execute(
                sa.text(
                    f"INSERT INTO search_text (repository_id, head, document) VALUES (:id, "
                    f"{head}, {head} || setweight(to_tsvector('simple', :readme), 'D'))"
                ),
                fields,
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_search_repositories_popularity", table_name="repositories")
        op.execute("DROP TABLE search_fts")
    else:
        op.execute("DROP TRIGGER search_popularity_copy ON repositories")
        op.execute("DROP FUNCTION search_popularity_copy()")
        op.drop_table("search_popularity")
        op.drop_index("ix_search_text_document", table_name="search_text")
        op.drop_table("search_text")
    op.drop_table("search_abis")
    op.drop_table("search_documents")
