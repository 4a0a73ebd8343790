"""Alembic, driven from code: ``wasm-hub migrate`` and the start-up check.

Alembic is imported only to migrate. The start-up check (``pending``) reads the head revision
from the migration files' ``revision = ...`` lines and the current one from the
``alembic_version`` table: a comparison of two strings did not need alembic's ~12 MB of
imports in the server (forked workers share them with the parent, so the measured saving in
`make bench`'s memory section is within its run-to-run noise of about 10 MB).
tests/unit/test_migrate.py checks that this agrees with alembic's own idea of the head.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.MULTILINE)


def _config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    from alembic import command

    command.upgrade(_config(engine), "head")


def head_revision() -> str:
    """The one revision no other migration names as its down_revision."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = dict(_ASSIGNMENT.findall(path.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(found["revision"].strip("\"'"))
        down = found.get("down_revision", "None").strip("\"'")
        if down != "None":
            parents.add(down)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"migrations/versions has {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def pending(engine: Engine) -> bool:
    """True when the database is not at the newest migration."""
    return current_revision(engine) != head_revision()
