"""Core statements for the write paths every push takes, where the ORM's unit of work (identity
map, flush ordering, a SAVEPOINT per optimistic insert) costs more CPU than the row itself.

On SQLite that CPU is spent holding the database's one write lock (hub.db.writelock), so it
is paid by every concurrent pusher; profiles of 16 parallel pushes showed the ORM flush of
``link()`` as the largest part of the time inside the lock.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(session: Session, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (the generic one does not)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_or_ignore(session: Session, table: Table, keys: list[str], **values: Any) -> bool:
    """INSERT ... ON CONFLICT (keys) DO NOTHING (SQLite 3.24+ and PostgreSQL 9.5+ alike);
    True when a row was inserted. Other constraint failures (a foreign key) still raise."""
    statement = _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=keys)
    result = session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def upsert(
    session: Session, table: Table, keys: list[str], update: dict[str, Any], **values: Any
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET ``update``: one statement either way."""
    statement = _insert(session, table).values(**values)
    session.execute(statement.on_conflict_do_update(index_elements=keys, set_=update))
