"""Garbage collection (`wasm-hub gc`, or every HUB_GC_INTERVAL_SECONDS on one replica at a
time): abandoned upload sessions, then links no manifest of their repository references, then
stored bytes nothing links or is. Work comes from the database, never a storage walk.

It is safe while pushes continue (distribution's gc needs a read-only registry). The rules:

- Every writer touches what it uses: claim() marks a blob's row fresh before its bytes are
  published, link() and a blob HEAD touch the repository's link, and a manifest PUT touches
  the links of every blob it names inside the transaction that stores it.
- gc removes only rows untouched for the grace period (HUB_GC_GRACE_SECONDS), and decides
  each one again in the statement that deletes it. On PostgreSQL that DELETE waits for a
  writer holding the row and re-checks the row it then sees (READ COMMITTED re-evaluation);
  on SQLite the single writer lock orders the two. Either the writer saw the row deleted and
  refuses (nothing acknowledged), or gc sees it fresh and keeps it.
- A blob's bytes are deleted inside the transaction that deletes its row, holding that row's
  lock, so a claim() waits until the bytes are gone before it writes them again.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, and_, delete, exists, func, or_, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, select

from hub.db.models import (
    Blob,
    Lease,
    Manifest,
    ManifestReference,
    RateCounter,
    RepositoryBlob,
    Upload,
    WasmModule,
    utcnow,
)
from hub.oci.digest import Digest, InvalidDigest
from hub.storage import Storage
from hub.storage.paths import blob_key, upload_prefix

if TYPE_CHECKING:
    from hub.services import Services

log = logging.getLogger("hub.gc")
LEASE = "gc"
BATCH = 500


@dataclass
class Report:
    uploads: int = 0
    links: int = 0
    blobs: int = 0
    bytes: int = 0
    dry_run: bool = False
    skipped: str | None = None  # why nothing ran (the lease is held elsewhere)
    kept: int = 0  # candidates a concurrent writer took back before gc could remove them
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.skipped:
            return f"gc did not run: {self.skipped}"
        verb = "would remove" if self.dry_run else "removed"
        text = (
            f"{verb} {self.uploads} abandoned uploads, {self.links} unreferenced repository "
            f"links and {self.blobs} unreferenced blobs ({self.bytes} bytes)"
        )
        if self.kept:
            text += f"; kept {self.kept} that a push took back meanwhile"
        return text


# -- the lease: one replica at a time ------------------------------------------------------


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(engine: Engine, name: str, holder: str, ttl: timedelta) -> Lease | None:
    """Take or renew the lease ``name``; None when another holder's lease is still valid.
    The conditional UPDATE (or the INSERT's primary key) makes the race two replicas run
    at the same instant have one winner."""
    now = utcnow()
    with Session(engine) as session:
        taken = session.execute(
            update(Lease)
            .where(
                col(Lease.name) == name,
                or_(col(Lease.expires_at) < now, col(Lease.holder) == holder),
            )
            .values(holder=holder, expires_at=now + ttl)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            session.commit()
            return Lease(name=name, holder=holder, expires_at=now + ttl)
        try:
            with session.begin_nested():
                session.add(Lease(name=name, holder=holder, expires_at=now + ttl))
            session.commit()
        except IntegrityError:
            session.rollback()
            return None
        return Lease(name=name, holder=holder, expires_at=now + ttl)


def current(engine: Engine, name: str) -> Lease | None:
    with Session(engine) as session:
        return session.get(Lease, name)


def release(engine: Engine, name: str, holder: str) -> None:
    with Session(engine) as session:
        session.execute(delete(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder))
        session.commit()


# -- what is unreferenced --------------------------------------------------------------------


def _link_unreferenced() -> object:
    """No manifest of the link's own repository names the blob."""
    return ~exists().where(
        col(ManifestReference.digest) == col(RepositoryBlob.digest),
        col(Manifest.id) == col(ManifestReference.manifest_id),
        col(Manifest.repository_id) == col(RepositoryBlob.repository_id),
    )


def _blob_unreferenced(module_hex: object) -> list[object]:
    """Nothing links the blob, no manifest is it or names it, no module is served by it."""
    return [
        ~exists().where(col(RepositoryBlob.digest) == col(Blob.digest)),
        ~exists().where(col(Manifest.digest) == col(Blob.digest)),
        ~exists().where(col(ManifestReference.digest) == col(Blob.digest)),
        ~exists().where(col(WasmModule.module_sha256) == module_hex),
    ]


def _module_hex(digest: str) -> str:
    # Modules extracted from compat layers are served by their sha256 (/api/v1/modules).
    return digest.split(":", 1)[1] if digest.startswith("sha256:") else digest


def collect(
    engine: Engine,
    storage: Storage,
    grace: timedelta,
    upload_ttl: timedelta,
    dry_run: bool = False,
) -> Report:
    report = Report(dry_run=dry_run)
    now = utcnow()
    _uploads(engine, storage, now - upload_ttl, dry_run, report)
    _links(engine, now - grace, dry_run, report)
    _blobs(engine, storage, now - grace, dry_run, report)
    if not dry_run:
        _rate_counters(engine, now)
    return report


def _uploads(
    engine: Engine, storage: Storage, cutoff: datetime, dry_run: bool, report: Report
) -> None:
    with Session(engine) as session:
        stale = session.exec(
            select(Upload.id, Upload.segments)
            .where(col(Upload.updated_at) < cutoff)
            .limit(BATCH * 10)
        ).all()
    # Tombstones of ended sessions (hub.artifacts.uploads) go too, uncounted: not abandoned.
    for upload_id, segments in stale:
        abandoned = int(segments >= 0)
        if dry_run:
            report.uploads += abandoned
            continue
        with Session(engine) as session:
            # Re-decided in the DELETE: a PATCH that came meanwhile moved updated_at on.
            gone = session.execute(
                delete(Upload).where(col(Upload.id) == upload_id, col(Upload.updated_at) < cutoff)
            )
            session.commit()
        if gone.rowcount == 1:  # type: ignore[attr-defined]
            report.uploads += abandoned
            storage.delete_prefix(upload_prefix(upload_id))
        else:
            report.kept += 1


def _links(engine: Engine, cutoff: datetime, dry_run: bool, report: Report) -> None:
    unreferenced = and_(col(RepositoryBlob.touched_at) < cutoff, _link_unreferenced())  # type: ignore[arg-type]
    with Session(engine) as session:
        candidates = session.exec(
            select(RepositoryBlob.repository_id, RepositoryBlob.digest)
            .where(unreferenced)
            .limit(BATCH * 10)
        ).all()
    for repository_id, digest in candidates:
        if dry_run:
            report.links += 1
            continue
        with Session(engine) as session:
            gone = session.execute(
                delete(RepositoryBlob).where(
                    col(RepositoryBlob.repository_id) == repository_id,
                    col(RepositoryBlob.digest) == digest,
                    unreferenced,
                )
            )
            session.commit()
        if gone.rowcount == 1:  # type: ignore[attr-defined]
            report.links += 1
        else:
            report.kept += 1


def _blobs(
    engine: Engine, storage: Storage, cutoff: datetime, dry_run: bool, report: Report
) -> None:
    module_hex = func.substr(col(Blob.digest), 8)  # after "sha256:"
    with Session(engine) as session:
        candidates = session.exec(
            select(Blob.digest, Blob.size)
            .where(col(Blob.touched_at) < cutoff, *_blob_unreferenced(module_hex))  # type: ignore[arg-type]
            .limit(BATCH * 10)
        ).all()
    for digest, size in candidates:
        if dry_run:
            report.blobs += 1
            report.bytes += size
            continue
        try:
            key = blob_key(Digest.parse(digest))
        except InvalidDigest:
            key = None
        try:
            with Session(engine) as session:
                gone = session.execute(
                    delete(Blob).where(
                        col(Blob.digest) == digest,
                        col(Blob.touched_at) < cutoff,
                        *_blob_unreferenced(_module_hex(digest)),  # type: ignore[arg-type]
                    )
                )
                if gone.rowcount == 1:  # type: ignore[attr-defined]
                    # Still holding the row (and on SQLite the write lock): a claim() for
                    # these bytes waits until they are gone, then writes them anew.
                    if key is not None:
                        storage.delete(key)
                    session.commit()
                    report.blobs += 1
                    report.bytes += size
                else:
                    report.kept += 1
        except IntegrityError:
            # PostgreSQL: a link to this blob was committed while we deleted it.
            report.kept += 1
        except OperationalError as exc:  # e.g. a lock timeout: next run
            report.errors.append(f"{digest}: {exc.orig}")


def _rate_counters(engine: Engine, now: datetime) -> None:
    """Expired rate-limit windows (hub.limits.ratelimit's database fallback)."""
    with Session(engine) as session:
        session.execute(delete(RateCounter).where(col(RateCounter.expires_at) < now))
        session.commit()


# -- entry points ------------------------------------------------------------------------------


def lease_ttl(interval_seconds: float) -> timedelta:
    return timedelta(seconds=max(3 * interval_seconds, 60))


def run(
    services: Services,
    dry_run: bool = False,
    holder: str | None = None,
    force: bool = False,
    grace: timedelta | None = None,
    keep_lease: bool = False,
) -> Report:
    """One collection under the lease. ``force`` runs even when another holder has it (still
    safe: every removal is re-decided in its own statement; the lease only avoids doubled
    work). The scheduled loop keeps the lease between runs (``keep_lease``), so the other
    replicas stay idle while its holder lives; `wasm-hub gc` gives it back."""
    settings = services.settings
    holder = holder or holder_id()
    ttl = lease_ttl(settings.gc_interval_seconds)
    taken = acquire(services.engine, LEASE, holder, ttl)
    if taken is None and not force:
        other = current(services.engine, LEASE)
        who = f"{other.holder} until {other.expires_at:%Y-%m-%d %H:%M:%S} UTC" if other else "?"
        return Report(dry_run=dry_run, skipped=f"another gc holds the lease ({who})")
    try:
        return collect(
            services.engine,
            services.storage,
            grace if grace is not None else timedelta(seconds=settings.gc_grace_seconds),
            timedelta(seconds=settings.upload_ttl_seconds),
            dry_run=dry_run,
        )
    finally:
        if taken is not None and not keep_lease:
            release(services.engine, LEASE, holder)
