"""Blob service: which repository may serve which blob, and the bytes behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.db.models import Blob, Repository, RepositoryBlob, utcnow
from hub.oci.digest import Digest
from hub.oci.errors import BlobUnknown
from hub.storage import Storage
from hub.storage.paths import blob_key

_BLOBS: Any = Blob.__table__  # type: ignore[attr-defined]
_LINKS: Any = RepositoryBlob.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int


def _insert_ignoring_duplicates(session: Session, table: Any, **values: Any) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING where the database has it (SQLite, PostgreSQL): one
    statement, no read before it and no savepoint around it, and race-safe across replicas.
    Returns False when the dialect has no such statement."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(sqlite_insert(table).values(**values).on_conflict_do_nothing())
    elif dialect == "postgresql":
        session.execute(postgresql_insert(table).values(**values).on_conflict_do_nothing())
    else:
        return False
    return True


def record(session: Session, digest: Digest, size: int) -> None:
    """Note that storage holds these bytes, so gc can find them without a storage walk."""
    values = {"digest": str(digest), "size": size, "created_at": utcnow()}
    if _insert_ignoring_duplicates(session, _BLOBS, **values):
        return
    if session.get(Blob, str(digest)) is None:
        try:
            with session.begin_nested():
                session.add(Blob(digest=str(digest), size=size))
        except IntegrityError:
            pass


def link(session: Session, repository_id: int, digest: Digest, size: int) -> None:
    """Record the blob and let the repository serve it (idempotent, race-safe)."""
    record(session, digest, size)
    values = {"repository_id": repository_id, "digest": str(digest), "created_at": utcnow()}
    if _insert_ignoring_duplicates(session, _LINKS, **values):
        return
    if session.get(RepositoryBlob, (repository_id, str(digest))) is None:
        try:
            with session.begin_nested():
                session.add(RepositoryBlob(repository_id=repository_id, digest=str(digest)))
        except IntegrityError:
            pass


def linked(session: Session, repository_id: int, digests: list[str]) -> set[str]:
    """Which of the digests the repository may serve."""
    if not digests:
        return set()
    rows = session.exec(
        select(RepositoryBlob.digest).where(
            RepositoryBlob.repository_id == repository_id,
            RepositoryBlob.digest.in_(digests),  # type: ignore[attr-defined]
        )
    )
    return set(rows)


class BlobService:
    def __init__(self, engine: Engine, storage: Storage) -> None:
        self.engine = engine
        self.storage = storage
        self._stat = (
            select(col(Blob.size))
            .join(RepositoryBlob, col(RepositoryBlob.digest) == col(Blob.digest))
            .join(Repository, col(Repository.id) == col(RepositoryBlob.repository_id))
            .where(
                col(Repository.name) == bindparam("name"), col(Blob.digest) == bindparam("digest")
            )
        )

    def stat(self, name: str, digest: Digest) -> BlobInfo:
        """Size of a blob the repository may serve: one round trip on a pooled connection
        (a Core statement built once; every blob GET and HEAD starts here)."""
        with self.engine.connect() as conn:
            size = conn.execute(self._stat, {"name": name, "digest": str(digest)}).scalar()
        if size is None:
            with Session(self.engine) as session:
                repositories.get(session, name)  # NAME_UNKNOWN when the repository is
            raise BlobUnknown({"digest": str(digest)}, f"blob {digest} is not in {name}")
        return BlobInfo(digest, size)

    def read(self, digest: Digest, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self.storage.read(blob_key(digest), offset, length)

    def redirect_url(self, digest: Digest) -> str | None:
        return self.storage.redirect_url(blob_key(digest))

    def delete(self, name: str, digest: Digest) -> None:
        """Unlink the blob from the repository; `wasm-hub gc` frees unreferenced bytes."""
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            row = session.get(RepositoryBlob, (repo.id, str(digest)))
            if row is None:
                raise BlobUnknown({"digest": str(digest)}, f"blob {digest} is not in {name}")
            session.delete(row)
            session.commit()

    def mount(
        self,
        name: str,
        source: str | None,
        digest: Digest,
        can_pull: Callable[[str], bool] = lambda _: True,
    ) -> BlobInfo | None:
        """Cross-repository mount: link a blob the source repository has. Without a source,
        any repository holding the blob that the caller may pull will do (the spec's optional
        "automatic content discovery", as zot does). None: fall back to an upload (spec:
        "Mounting a blob from another repository")."""
        with Session(self.engine) as session:
            query = (
                select(Repository.name)
                .join(RepositoryBlob, col(RepositoryBlob.repository_id) == col(Repository.id))
                .where(RepositoryBlob.digest == str(digest))
            )
            if source is not None:
                query = query.where(Repository.name == source)
            holders = session.exec(query.limit(50)).all()
            if not any(can_pull(holder) for holder in holders):
                return None
            blob = session.get(Blob, str(digest))
            if blob is None or not self.storage.exists(blob_key(digest)):
                return None
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            link(session, repo.id, digest, blob.size)
            session.commit()
            return BlobInfo(digest, blob.size)
