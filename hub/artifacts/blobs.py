"""Blob service: which repository may serve which blob, and the bytes behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, bindparam, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.db.models import Blob, Repository, RepositoryBlob, utcnow
from hub.db.statements import insert_or_ignore
from hub.limits import quotas
from hub.oci.digest import Digest
from hub.oci.errors import BlobUnknown, BlobUploadInvalid
from hub.storage import Storage
from hub.storage.paths import blob_key

BLOBS: Table = Blob.__table__  # type: ignore[attr-defined]
LINKS: Table = RepositoryBlob.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BlobInfo:
    digest: Digest
    size: int


def aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; every stored one is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def claim(engine: Engine, digest: Digest, size: int) -> None:
    """Mark the blob's row fresh, committed, BEFORE its bytes are published at its key.

    gc (hub.artifacts.gc) deletes a blob's bytes only inside the transaction that deletes its
    row, and only when the row is unreferenced and untouched for the grace period; this
    UPDATE waits for such a transaction. So once claim() returns, no gc run can remove the
    bytes about to be written for the grace period, and a gc run that already removed them
    has finished (the write that follows puts them back). Nothing is servable from the row
    alone: a repository serves a blob only once link() has run, after the bytes are stored.

    When there is no row at all, there is nothing to claim and nothing is written (one write
    transaction less per new blob): gc and fsck delete bytes only through a blob's row, and a
    row created from now on, by link() after the bytes are stored or by a concurrent pusher,
    is fresh for the whole grace period. A row read here as present but deleted meanwhile by a
    gc run is handled below: the UPDATE waits for that run and then inserts."""
    with Session(engine) as session:
        if session.exec(select(Blob.digest).where(col(Blob.digest) == str(digest))).first() is None:
            return
        now = utcnow()
        touched = session.execute(
            update(Blob).where(col(Blob.digest) == str(digest)).values(touched_at=now)
        )
        if touched.rowcount == 0:  # type: ignore[attr-defined]
            try:
                with session.begin_nested():
                    session.add(Blob(digest=str(digest), size=size, created_at=now, touched_at=now))
            except IntegrityError:  # claimed concurrently: make it ours too
                session.execute(
                    update(Blob).where(col(Blob.digest) == str(digest)).values(touched_at=now)
                )
        session.commit()


def record(session: Session, digest: Digest, size: int) -> None:
    """Note that storage holds these bytes, so gc can find them without a storage walk. An
    existing row is left as it is (claim() decides about touching it)."""
    now = utcnow()
    insert_or_ignore(
        session, BLOBS, ["digest"], digest=str(digest), size=size, created_at=now, touched_at=now
    )


def link(session: Session, repository_id: int, digest: Digest, size: int) -> None:
    """Record the blob and let the repository serve it (idempotent, race-safe). An existing
    link is touched, so gc spares it for another grace period; a new one counts against the
    namespace's quota (hub.limits.quotas)."""
    now = utcnow()
    touched = session.execute(
        update(LINKS)
        .where(LINKS.c.repository_id == repository_id, LINKS.c.digest == str(digest))
        .values(touched_at=now)
    )
    if touched.rowcount == 1:  # type: ignore[attr-defined]
        return
    record(session, digest, size)
    quotas.enforce(session, repository_id, str(digest), size)
    try:
        # Linked concurrently is no conflict worth failing: DO NOTHING.
        insert_or_ignore(
            session,
            LINKS,
            ["repository_id", "digest"],
            repository_id=repository_id,
            digest=str(digest),
            created_at=now,
            touched_at=now,
        )
    except IntegrityError:
        # The foreign key: the blob row vanished under us, a gc run removed it because
        # claim() came more than the grace period ago. Never acknowledge that.
        raise BlobUploadInvalid(
            {"digest": str(digest)},
            f"blob {digest} was garbage-collected while it was being linked; push it again",
        ) from None


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
    def __init__(self, engine: Engine, storage: Storage, grace_seconds: float = 3600) -> None:
        self.engine = engine
        self.storage = storage
        # A HEAD refreshes a link older than half the gc grace period: clients HEAD a blob,
        # skip its upload when present, then push the manifest; gc must not unlink it between.
        self.refresh_after = timedelta(seconds=grace_seconds / 2)
        self._stat = (
            select(col(Blob.size), col(RepositoryBlob.touched_at), col(Repository.id))
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
            row = conn.execute(self._stat, {"name": name, "digest": str(digest)}).first()
        if row is None:
            with Session(self.engine) as session:
                repositories.get(session, name)  # NAME_UNKNOWN when the repository is
            raise BlobUnknown({"digest": str(digest)}, f"blob {digest} is not in {name}")
        size, touched_at, repository_id = row
        if aware(touched_at) < utcnow() - self.refresh_after:
            with self.engine.begin() as conn:
                conn.execute(
                    update(RepositoryBlob)
                    .where(
                        col(RepositoryBlob.repository_id) == repository_id,
                        col(RepositoryBlob.digest) == str(digest),
                    )
                    .values(touched_at=utcnow())
                )
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
            if blob is None:
                return None
        # Claim first (see claim()): the existence check below then cannot race a gc run.
        claim(self.engine, digest, blob.size)
        if not self.storage.exists(blob_key(digest)):
            return None
        with Session(self.engine) as session:
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            link(session, repo.id, digest, blob.size)
            session.commit()
            return BlobInfo(digest, blob.size)
