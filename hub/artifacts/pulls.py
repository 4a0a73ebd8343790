"""Pull counting, batched: a manifest GET must not become a database write (SQLite would
serialise every pull behind one lock). Counts gather in memory and are added to the rows
every few seconds; additive updates, so any number of replicas can flush into one database.
A crash loses at most one interval of counts, never data."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Engine, update
from sqlmodel import Session, col

from hub.db.models import Repository


class PullCounter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, repository: str) -> None:
        with self._lock:
            self._counts[repository] += 1

    def flush(self) -> int:
        """Write the gathered counts; returns how many repositories were updated."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return 0
        with Session(self.engine) as session:
            for name, n in counts.items():
                session.execute(
                    update(Repository)
                    .where(col(Repository.name) == name)
                    .values(pulls=col(Repository.pulls) + n)
                )
            session.commit()
        return len(counts)
