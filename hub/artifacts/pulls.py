"""Pull counting, batched: a manifest GET must not become a database write (SQLite would
serialise every pull behind one lock). Counts gather in memory and are added to the rows
every few seconds; additive updates, so any number of replicas can flush into one database.
A crash loses at most one interval of counts, never data.

A GET by tag counts for the repository and for that tag name (the catalog's tags table); a GET
by digest counts for the repository only."""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from hub.db.models import Repository, Tag


class PullCounter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._counts: Counter[str] = Counter()
        self._tags: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def count(self, repository: str, tag: str | None = None) -> None:
        with self._lock:
            self._counts[repository] += 1
            if tag is not None:
                self._tags[(repository, tag)] += 1

    def flush(self) -> int:
        """Write the gathered counts; returns how many repositories were updated."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            tags, self._tags = self._tags, Counter()
        if not counts:
            return 0
        with Session(self.engine) as session:
            for name, n in counts.items():
                session.execute(
                    update(Repository)
                    .where(col(Repository.name) == name)
                    .values(pulls=col(Repository.pulls) + n)
                )
            for (name, tag), n in tags.items():
                repository_id = (
                    select(col(Repository.id)).where(col(Repository.name) == name).scalar_subquery()
                )
                # A tag deleted since its GETs: nothing to count into (the repository kept them).
                session.execute(
                    update(Tag)
                    .where(col(Tag.repository_id) == repository_id, col(Tag.name) == tag)
                    .values(pulls=col(Tag.pulls) + n)
                )
            session.commit()
        return len(counts)
