"""`wasm-hub fsck`: compare what storage holds with what the database says it holds.

Problems it finds (and, with ``--repair``, fixes):

- missing: a blob row whose bytes are gone. Repair drops the row and its repository links,
  so clients see the blob as absent and push it again (a manifest naming it stays; its pull
  works again once the blob is pushed).
- corrupt: bytes whose size or digest is not the row's. Repair removes the bytes and drops
  the row, as for missing.
- orphan: an object under blobs/ with no row. The hub records a blob's row before its bytes
  appear (hub.artifacts.blobs.claim), so such an object is never an upload in flight; it is
  left by a crash of older code or by hand. Repair removes it.
- orphan-upload / broken-upload: upload segments without a session row, or a session idle
  for the grace period whose segments are gone. Repair removes them (the client restarts).
- temporary: a filesystem temp file older than the grace period (a write killed mid-way).

Storage is listed before the database is read, and a blob row touched within the grace period
that nothing references yet is a claim in flight, not a problem.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from hub.artifacts.blobs import aware
from hub.artifacts.uploads import issued_at
from hub.db.models import Blob, Manifest, ManifestReference, RepositoryBlob, Upload, utcnow
from hub.oci.digest import Digest, InvalidDigest
from hub.storage import BlobNotFound, Storage
from hub.storage.paths import blob_key, upload_prefix, upload_segment_key

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hub.services import Services


@dataclass
class Problem:
    kind: str
    subject: str  # a digest, a storage key or an upload id
    detail: str
    repaired: bool = False


@dataclass
class FsckReport:
    blobs: int = 0
    objects: int = 0
    in_flight: int = 0
    problems: list[Problem] = field(default_factory=list)

    def ok(self, after_repair: bool = False) -> bool:
        if after_repair:
            return all(p.repaired for p in self.problems)
        return not self.problems

    def render(self) -> str:
        lines = [
            f"{p.kind}: {p.subject}: {p.detail}" + (" (repaired)" if p.repaired else "")
            for p in self.problems
        ]
        summary = (
            f"checked {self.blobs} blob rows and {self.objects} storage objects: "
            f"{len(self.problems)} problems"
        )
        if self.problems and not all(p.repaired for p in self.problems):
            summary += "; run `wasm-hub fsck --repair` to fix them"
        return "\n".join([*lines, summary])


def _digest_of_key(key: str) -> Digest | None:
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "blobs":
        return None
    try:
        digest = Digest.parse(f"{parts[1]}:{parts[3]}")
    except InvalidDigest:
        return None
    return digest if blob_key(digest) == key else None


def _content_digest(storage: Storage, key: str, digest: Digest) -> str:
    hasher = digest.hasher()
    for chunk in storage.read(key):
        hasher.update(chunk)
    return f"{digest.algorithm}:{hasher.hexdigest()}"


def _referenced(session: Session, digest: str) -> bool:
    for query in (
        select(func.count()).where(col(RepositoryBlob.digest) == digest),
        select(func.count()).where(col(Manifest.digest) == digest),
        select(func.count()).where(col(ManifestReference.digest) == digest),
    ):
        if session.exec(query).one():
            return True
    return False


def _drop_blob(engine: Engine, storage: Storage, digest: str, key: str, seen: object) -> bool:
    """Rows first, bytes inside the same transaction, as gc does (the row lock orders it
    against a concurrent claim()). Only if nobody claimed the blob since it was judged: a
    push that is re-sending the bytes right now wins, and the next fsck judges again."""
    with Session(engine) as session:
        session.execute(delete(RepositoryBlob).where(col(RepositoryBlob.digest) == digest))
        gone = session.execute(
            delete(Blob).where(col(Blob.digest) == digest, col(Blob.touched_at) == seen)
        )
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return False
        storage.delete(key)
        session.commit()
        return True


def check(
    services: Services, repair: bool = False, verify: bool = True, grace: timedelta | None = None
) -> FsckReport:
    engine, storage = services.engine, services.storage
    grace = grace if grace is not None else timedelta(seconds=services.settings.gc_grace_seconds)
    report = FsckReport()
    # Storage first: an object listed here whose row is absent below is truly an orphan.
    blob_keys = set(storage.list_prefix("blobs/"))
    segment_keys = list(storage.list_prefix("uploads/"))
    report.objects = len(blob_keys) + len(segment_keys)
    _check_blobs(engine, storage, blob_keys, grace, repair, verify, report)
    _check_uploads(engine, storage, segment_keys, grace, repair, report)
    sweep = getattr(storage, "stale_temporaries", None)
    if sweep is not None:
        for path in sweep(grace.total_seconds(), repair):
            report.problems.append(
                Problem("temporary", path, "left by an interrupted write", repaired=repair)
            )
    return report


def _check_blobs(
    engine: Engine,
    storage: Storage,
    keys: set[str],
    grace: timedelta,
    repair: bool,
    verify: bool,
    report: FsckReport,
) -> None:
    with Session(engine) as session:
        rows = session.exec(select(Blob.digest, Blob.size, Blob.touched_at)).all()
    report.blobs = len(rows)
    known: set[str] = set()
    fresh = utcnow() - grace
    for digest_text, size, touched_at in rows:
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest:
            report.problems.append(Problem("invalid", digest_text, "not a digest"))
            continue
        key = blob_key(digest)
        known.add(key)
        problem: Problem | None = None
        try:
            stored = storage.size(key)
        except BlobNotFound:
            with Session(engine) as session:
                if aware(touched_at) >= fresh and not _referenced(session, digest_text):
                    report.in_flight += 1  # claimed, bytes not yet written: a push under way
                    continue
            problem = Problem("missing", digest_text, f"no bytes at {key}")
        else:
            if stored != size:
                problem = Problem(
                    "corrupt", digest_text, f"{key} holds {stored} bytes; the row says {size}"
                )
            elif verify:
                actual = _content_digest(storage, key, digest)
                if actual != digest_text:
                    problem = Problem("corrupt", digest_text, f"{key} hashes to {actual}")
        if problem is None:
            continue
        if repair and _drop_blob(engine, storage, digest_text, key, touched_at):
            problem.repaired = True
            problem.detail += "; row dropped, push the blob again"
        report.problems.append(problem)
    for key in sorted(keys - known):
        named = _digest_of_key(key)
        if named is not None:
            with Session(engine) as session:
                if session.get(Blob, str(named)) is not None:
                    continue  # recorded after our read of the rows
        problem = Problem(
            "orphan", key, "no database row" if named else "not a blob key", repaired=repair
        )
        if repair:
            storage.delete(key)
        report.problems.append(problem)


def _check_uploads(
    engine: Engine,
    storage: Storage,
    keys: list[str],
    grace: timedelta,
    repair: bool,
    report: FsckReport,
) -> None:
    listed: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        parts = key.split("/")
        if len(parts) == 3:
            listed[parts[1]].add(key)
    with Session(engine) as session:
        uploads = {u.id: u for u in session.exec(select(Upload)).all()}
    for upload_id in sorted(set(listed) - set(uploads)):
        issued = issued_at(upload_id)
        if issued is not None and time.time() - issued < grace.total_seconds():
            continue  # its first PATCH may be between storing the segment and the row
        with Session(engine) as session:
            if session.get(Upload, upload_id) is not None:
                continue
        if repair:
            storage.delete_prefix(upload_prefix(upload_id))
        report.problems.append(
            Problem(
                "orphan-upload",
                upload_id,
                f"{len(listed[upload_id])} segments without an upload session",
                repaired=repair,
            )
        )
    idle = utcnow() - grace
    for upload in uploads.values():
        if aware(upload.updated_at) >= idle:
            continue  # may be mid-PATCH
        missing = [
            n
            for n in range(upload.segments)
            if not storage.exists(upload_segment_key(upload.id, n))
        ]
        if not missing:
            continue
        if repair:
            with Session(engine) as session:
                session.execute(delete(Upload).where(col(Upload.id) == upload.id))
                session.commit()
            storage.delete_prefix(upload_prefix(upload.id))
        report.problems.append(
            Problem(
                "broken-upload",
                upload.id,
                f"segments {missing} are missing; the client must start the upload again",
                repaired=repair,
            )
        )
