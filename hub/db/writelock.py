"""One writer at a time on SQLite, queued instead of polled.

SQLite admits one write transaction per database file. A writer that finds it taken waits in
SQLite's busy handler, which *sleeps* (1, 2, 5, 10 ... 100 ms, sqlite3.c sqliteDefaultBusyCallback)
and retries; it is not woken when the lock frees. Under concurrent pushes (each is two or
three short write transactions) profiles showed most request time in those sleeps, and p99
latencies near a second while the database sat idle.

So before a connection's first write statement it takes a lock that *does* wake waiters: a
per-process ``threading.Lock`` (threads of one worker) plus ``flock`` on ``<db>-writer.lock``
(the other workers, and CLI commands such as ``wasm-hub gc``). It is released when the
transaction ends (commit, rollback, or the pool's reset on check-in). SQLite's
own lock and busy timeout stay underneath as the safety net: anything that bypasses this
module still runs correctly, only slower.

A transaction holds the lock exactly as long as it holds SQLite's write lock, so this adds no
deadlock that SQLite's own locking did not already have. ``flock`` is released by the kernel
when a process dies, so a crashed worker never wedges the others.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from typing import Any

from sqlalchemy import Engine, event

# Statements that make pysqlite open a write transaction (it issues BEGIN before DML) or that
# write by themselves (DDL from migrations). Not SAVEPOINT: it opens a deferred transaction
# that takes SQLite's write lock only at its first write, which is where this lock is taken
# too (and held until the connection's commit/rollback, never shorter than SQLite's).
_WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP"})
# Waiting longer than SQLite's own busy timeout (hub.db.engine) means something is stuck:
# fail the request as SQLite would ("database is locked") rather than hang it.
TIMEOUT_SECONDS = 30.0


class WriteLock:
    """Held by one connection at a time. Not re-entrant, like SQLite's write lock: a thread that
    writes on a second connection while its first holds the lock waits TIMEOUT_SECONDS and
    fails, exactly as SQLite would have."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        # The lock file is opened per process: a descriptor inherited across fork() shares its
        # open file description, and flock would then treat parent and children as one holder.
        self._fd: int | None = None
        self._pid = 0

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=TIMEOUT_SECONDS):
            raise sqlite3.OperationalError("database is locked (waited for the write lock)")
        try:
            fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            if self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


def _is_write(statement: str) -> bool:
    head = statement.lstrip()[:10].split(None, 1)
    return bool(head) and head[0].upper() in _WRITES


def connection_factory(lock: WriteLock) -> type[sqlite3.Connection]:
    """A sqlite3.Connection that gives the lock back when its transaction ends (pass it as
    sqlite3.connect's ``factory``). Ending is commit(), rollback() or close(): SQLAlchemy calls
    these for session commits, rollbacks and the pool's reset on check-in alike."""

    class LockingConnection(sqlite3.Connection):
        hub_holds_lock = False

        def hub_take(self) -> None:
            if not self.hub_holds_lock:
                lock.acquire()
                self.hub_holds_lock = True

        def _give_back(self) -> None:
            if self.hub_holds_lock:
                self.hub_holds_lock = False
                lock.release()

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self._give_back()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self._give_back()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self._give_back()

    return LockingConnection


def install(engine: Engine) -> None:
    """Take the lock before the first write statement of a transaction (connections made by
    ``connection_factory``)."""

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if _is_write(statement):
            dbapi = conn.connection.dbapi_connection
            take = getattr(dbapi, "hub_take", None)
            if take is not None:
                take()
