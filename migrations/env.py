"""Alembic environment: the engine comes from hub.db.migrate (never from a URL in a file)."""

from typing import Any

from alembic import context
from sqlalchemy import text
from sqlmodel import SQLModel

from hub.db import models  # noqa: F401 - registers the tables on SQLModel.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the search index to hub.search: its tables (and FTS5's shadow tables) live on
    their own MetaData, and its covering index on ``repositories`` is made by migration 0003,
    so autogenerate must neither drop them nor report them as drift."""
    if type_ == "table" and name and name.startswith("search_"):
        return False
    if type_ == "index":
        table = getattr(getattr(obj, "table", None), "name", "") or ""
        if (name and name.startswith("ix_search_")) or table.startswith("search_"):
            return False
    return True


def _dangling(connection: Any) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in connection.execute(text("PRAGMA foreign_key_check"))}


engine = context.config.attributes["engine"]
with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # hub.db.engine turns SQLite's foreign keys on for every connection; a batch
        # migration rebuilds a table (create copy, DROP the old one, rename), and with foreign
        # keys on, dropping a table others refer to fails once it has rows. Alembic's batch
        # docs ("Dealing with Constraints") say to switch them off for the migration. The
        # pragma is a no-op inside a transaction, so it is set before the migration's one.
        connection.execute(text("PRAGMA foreign_keys=OFF"))
    before = _dangling(connection) if sqlite else set()
    connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=SQLModel.metadata,
                include_object=include_object,
                # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
                render_as_batch=sqlite,
            )
            context.run_migrations()
            if sqlite:
                # With the checks off during the rebuilds, check once at the end instead:
                # a migration must not leave a row pointing at nothing.
                # Rows that dangled before (a database from before foreign keys were on) are
                # not the migration's doing and must not block the upgrade.
                broken = _dangling(connection) - before
                if broken:
                    raise RuntimeError(f"the migration left dangling foreign keys: {broken}")
    finally:
        if sqlite:
            # The connection goes back to the pool: restore what hub.db.engine set.
            connection.execute(text("PRAGMA foreign_keys=ON"))
            connection.commit()
