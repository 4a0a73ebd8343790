"""search: the "loads in a proxy-wasm host" facet (search_documents.loads)

Revision ID: 0009_search_loads
Revises: 0008_reliability
Create Date: 2026-11-26 03:30:00

search_documents gains ``loads``: the load check at push of the latest tag's module
(WasmModule.facts["load_check"]["ok"], hub.artifacts.modules), NULL when never checked.
Existing documents are filled here from the facts already stored, with the same "latest tag"
and image-index rules as hub.search.documents.load, so a hub upgraded in place answers
``loads=`` for modules pushed before the upgrade; modules pushed before the load check existed
have no such fact and stay NULL (neither "yes" nor "no").
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_search_loads"
down_revision = "0008_reliability"
branch_labels = None
depends_on = None


def _ok(facts: str | None) -> bool | None:
    # A frozen copy of hub.search.documents.load_check_ok: a migration must not change
    # meaning when the application code does.
    try:
        found: Any = json.loads(facts or "{}")
    except ValueError:
        return None
    check = found.get("load_check") if isinstance(found, dict) else None
    ok = check.get("ok") if isinstance(check, dict) else None
    return ok if isinstance(ok, bool) else None


def _facts(conn: sa.Connection, repository_id: int, digest: str) -> str | None:
    found = conn.execute(
        sa.text("SELECT facts FROM wasm_modules WHERE manifest_digest = :d"), {"d": digest}
    ).first()
    if found is None:
        # A tag on an image index: its first child that carries a module.
        found = conn.execute(
            sa.text(
                "SELECT w.facts FROM wasm_modules w "
                "JOIN manifest_references r ON r.digest = w.manifest_digest "
                "JOIN manifests m ON m.id = r.manifest_id "
                "WHERE m.repository_id = :id AND m.digest = :d AND r.kind = 'manifest' "
                "ORDER BY w.manifest_digest LIMIT 1"
            ),
            {"id": repository_id, "d": digest},
        ).first()
    return found[0] if found is not None else None


def _backfill(conn: sa.Connection) -> None:
    # Only documents whose latest tag's module recorded a check change; the rest stay NULL.
    rows = conn.execute(
        sa.text(
            "SELECT d.repository_id, t.manifest_digest FROM search_documents d "
            "JOIN tags t ON t.repository_id = d.repository_id AND t.name = d.latest_tag"
        )
    ).all()
    for repository_id, digest in rows:
        ok = _ok(_facts(conn, repository_id, digest))
        if ok is not None:
            conn.execute(
                sa.text("UPDATE search_documents SET loads = :ok WHERE repository_id = :id"),
                {"ok": ok, "id": repository_id},
            )


def upgrade() -> None:
    # A nullable column: SQLite adds it in place (ALTER TABLE ADD COLUMN), no table rebuild.
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("loads", sa.Boolean(), nullable=True))
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.drop_column("loads")
