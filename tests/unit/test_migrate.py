"""The start-up check reads revisions without alembic (hub.db.migrate): it must agree with
alembic itself on the head, and see an empty, an old and a current database for what they are."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text

from hub.db.engine import make_engine
from hub.db.migrate import _config, current_revision, head_revision, pending, upgrade


def test_head_is_alembics_head(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    script = ScriptDirectory.from_config(_config(engine))
    assert head_revision() == script.get_current_head()


def test_pending_on_empty_old_and_current_databases(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    assert current_revision(engine) is None and pending(engine)
    command.upgrade(_config(engine), "0001")
    assert current_revision(engine) == "0001" and pending(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision() and not pending(engine)
    with engine.begin() as conn:  # a database from a newer hub is not "current" either
        conn.execute(text("UPDATE alembic_version SET version_num = 'from-the-future'"))
    assert pending(engine)
