"""Engine construction and the migration check."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from hub.config import ConfigError
from hub.db import writelock

SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"HUB_DATABASE_URL={url!r} is not a database URL; "
            "use sqlite:///path.db or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.drivername not in SCHEMES:
        raise ConfigError(
            f"HUB_DATABASE_URL: unknown database {parsed.drivername!r}; choose one of {SCHEMES}"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Keep as many connections as requests run at once (anyio's 40 worker threads): past
        # pool_size, SQLAlchemy closes returned connections, and each reopen re-runs the
        # PRAGMAs below (connection churn was visible in profiles of concurrent pulls).
        in_file = bool(parsed.database) and parsed.database != ":memory:"
        pool = {"pool_size": 20, "max_overflow": 30} if in_file else {}
        connect_args: dict[str, object] = {"check_same_thread": False, "timeout": 30}
        if in_file:
            lock = writelock.WriteLock(f"{parsed.database}-writer.lock")
            connect_args["factory"] = writelock.connection_factory(lock)
        engine = create_engine(parsed, connect_args=connect_args, **pool)
        if in_file:
            writelock.install(engine)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # WAL lets readers run beside the one writer; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except NoSuchModuleError as exc:
        raise ConfigError(f"HUB_DATABASE_URL: {exc}") from None


def check_reachable(engine: Engine) -> None:
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise ConfigError(f"HUB_DATABASE_URL: cannot connect to the database: {exc.orig}") from None


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def has_tables(engine: Engine) -> bool:
    return inspect(engine).has_table("alembic_version")
