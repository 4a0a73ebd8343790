"""Upload sessions (spec: "Pushing blobs"). State is a database row plus segment objects in
storage, one per PATCH/PUT body, so any replica can continue any upload.

The row is written with the first segment, not at POST: an upload id carries its repository,
its creation time and an HMAC under the hub's secret, so any replica recognises an issued id
that has no row yet as an empty session. The common pushes then cost one write transaction
less (POST + PUT: one; POST, PATCH, PUT: two). A finished or cancelled upload leaves a
tombstone row (segments = -1) so its id stops working at once; gc removes tombstones with the
expired sessions, when the id's own timestamp has expired too. Completion checks the
digest of the segments, then has storage join them at the blob's key (Storage.compose: a copy
inside the kernel or the S3 server); the blob becomes visible only after the digest matched.

The digest is computed while each PATCH streams in, and the hash state kept in this process
(hub.artifacts.upload_hashes) for the next PATCH or the closing PUT. Clients keep one
connection per upload, so that is nearly always this process; when it is not (another
replica or worker took a PATCH), completion reads back only the segments this process has
not hashed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, bindparam, update
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.artifacts.blobs import BlobInfo, claim, link
from hub.artifacts.upload_hashes import UploadHashes
from hub.db.models import Repository, Upload, utcnow
from hub.db.statements import insert_or_ignore, upsert
from hub.limits import sizes
from hub.limits.quotas import QuotaExceeded, QuotaService
from hub.oci.digest import Digest
from hub.oci.errors import BlobUploadInvalid, BlobUploadUnknown, DigestInvalid, RangeInvalid
from hub.storage import BlobNotFound, Storage
from hub.storage.paths import blob_key, upload_prefix, upload_segment_key


def _hashing(chunks: Iterable[bytes], hasher: object) -> Iterator[bytes]:
    for chunk in chunks:
        hasher.update(chunk)  # type: ignore[attr-defined]
        yield chunk


def _verifier(digest: Digest, hasher: object) -> Callable[[int], None]:
    def check(size: int) -> None:
        actual = hasher.hexdigest()  # type: ignore[attr-defined]
        if actual != digest.hex:
            raise DigestInvalid(
                {"expected": str(digest), "actual": f"{digest.algorithm}:{actual}"},
                f"uploaded content has digest {digest.algorithm}:{actual}, not {digest}",
            )

    return check


UPLOADS: Table = Upload.__table__  # type: ignore[attr-defined]
_UPLOAD_IN_REPOSITORY = (
    select(*UPLOADS.c)
    .join(Repository, col(Repository.id) == UPLOADS.c.repository_id)
    .where(UPLOADS.c.id == bindparam("id"), col(Repository.name) == bindparam("name"))
)


# <32 hex: random><8 hex: unix seconds>.<16 base64url: HMAC of repository id and the rest>
_ISSUED = re.compile(r"^([0-9a-f]{40})\.([A-Za-z0-9_-]{16})$")
TOMBSTONE = -1  # Upload.segments of a finished or cancelled session


def issued_at(upload_id: str) -> float | None:
    """When an id of the current form was issued (unix seconds); None for other ids."""
    match = _ISSUED.match(upload_id)
    return int(match.group(1)[32:], 16) if match else None


class UploadService:
    def __init__(
        self,
        engine: Engine,
        storage: Storage,
        max_blob_bytes: int = 0,
        *,
        secret: str = "",
        ttl_seconds: float = 24 * 3600,
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.max_blob_bytes = max_blob_bytes
        self.quotas = QuotaService(engine)
        self.hashes = UploadHashes()
        # A fresh random key when none is given (tests): ids then work in this process only.
        self._key = hmac.new(
            (secret or uuid.uuid4().hex).encode(), b"hub-upload-id", "sha256"
        ).digest()
        self.ttl_seconds = ttl_seconds

    def _mac(self, repository_id: int, body: str) -> str:
        tag = hmac.new(self._key, f"{repository_id}:{body}".encode(), "sha256").digest()
        return base64.urlsafe_b64encode(tag[:12]).decode()

    def _issued(self, repository_id: int, upload_id: str) -> Upload | None:
        """The empty session an id we issued stands for, while it has not expired."""
        match = _ISSUED.match(upload_id)
        if match is None:
            return None
        body, tag = match.groups()
        if not hmac.compare_digest(tag, self._mac(repository_id, body)):
            return None
        issued = int(body[32:], 16)
        if not 0 <= time.time() - issued < self.ttl_seconds:
            return None
        at = datetime.fromtimestamp(issued, UTC)
        return Upload(
            id=upload_id,
            repository_id=repository_id,
            size=0,
            segments=0,
            created_at=at,
            updated_at=at,
        )

    def start(self, name: str) -> Upload:
        """POST: a new session, written nowhere until its first segment (see the module)."""
        with Session(self.engine) as session:
            repo = repositories.ensure(session, name)
            repository_id = repo.id
            assert repository_id is not None
            session.commit()  # a new repository's rows, when this push created it
        body = f"{uuid.uuid4().hex}{int(time.time()):08x}"
        upload = self._issued(repository_id, f"{body}.{self._mac(repository_id, body)}")
        assert upload is not None
        return upload

    def get(self, name: str, upload_id: str) -> Upload:
        # One query for the common case; the two-step path below names what is missing.
        with self.engine.connect() as conn:
            row = conn.execute(_UPLOAD_IN_REPOSITORY, {"id": upload_id, "name": name}).first()
        if row is not None:
            if row.segments == TOMBSTONE:
                raise BlobUploadUnknown(
                    {"session": upload_id}, f"upload {upload_id} has already ended"
                )
            return Upload(**row._mapping)
        with Session(self.engine) as session:
            repo = repositories.get(session, name)  # NAME_UNKNOWN for an unknown repository
        assert repo.id is not None
        issued = self._issued(repo.id, upload_id)
        if issued is None:
            raise BlobUploadUnknown({"session": upload_id}, f"upload {upload_id} is not known")
        return issued

    def _end(self, session: Session, upload: Upload) -> None:
        """Leave the tombstone (inside the caller's transaction)."""
        now = utcnow()
        upsert(
            session,
            UPLOADS,
            ["id"],
            {"segments": TOMBSTONE, "size": 0, "updated_at": now},
            id=upload.id,
            repository_id=upload.repository_id,
            size=0,
            segments=TOMBSTONE,
            created_at=upload.created_at,
            updated_at=now,
        )

    def append(
        self,
        name: str,
        upload_id: str,
        chunks: Iterable[bytes],
        start: int | None = None,
        length: int | None = None,
    ) -> Upload:
        """Store one more segment. ``start`` is the Content-Range start when the client sent one;
        it must equal the bytes received so far, or the chunk is out of order (416).
        ``length`` is the declared Content-Length: an oversized chunk is refused unread."""
        upload = self.get(name, upload_id)
        self._check_start(name, upload, start)
        if length is not None:
            sizes.check(upload.size + length, self.max_blob_bytes)
            self.quotas.precheck(name, upload.size + length)
        key = upload_segment_key(upload.id, upload.segments)
        limited = sizes.limited(chunks, upload.size, self.max_blob_bytes)
        state = self.hashes.resume(upload.id, upload.segments)
        if state is None and upload.segments == 0:
            state = hashlib.sha256()
        # Not forced to disk: a segment lost to a power cut fails its blob's digest check at
        # completion (the client starts over); the blob itself is written durably.
        written = self.storage.write(
            key, limited if state is None else _hashing(limited, state), durable=False
        )
        advanced = self._advance(upload, written, key)
        if state is not None:
            self.hashes.keep(upload.id, advanced.segments, state)
        return advanced

    def _check_start(self, name: str, upload: Upload, start: int | None) -> None:
        if start is not None and start != upload.size:
            raise RangeInvalid(
                {"received": upload.size, "range_start": start},
                f"chunk starts at byte {start} but {upload.size} bytes were received so far",
                headers=self.progress_headers(name, upload),
            )

    def _advance(self, upload: Upload, written: int, key: str) -> Upload:
        with Session(self.engine) as session:
            # Compare-and-set on the segment count: a concurrent PATCH to the same session
            # (a client bug) loses instead of interleaving bytes. The first segment of an
            # issued id creates the row; a conflict there is the same lost race (or an upload
            # that ended meanwhile: its tombstone).
            if upload.segments == 0 and _ISSUED.match(upload.id):
                advanced = insert_or_ignore(
                    session,
                    UPLOADS,
                    ["id"],
                    id=upload.id,
                    repository_id=upload.repository_id,
                    size=written,
                    segments=1,
                    created_at=upload.created_at,
                    updated_at=utcnow(),
                )
            else:
                result = session.execute(
                    update(Upload)
                    .where(col(Upload.id) == upload.id, col(Upload.segments) == upload.segments)
                    .values(
                        size=upload.size + written,
                        segments=upload.segments + 1,
                        updated_at=utcnow(),
                    )
                )
                advanced = result.rowcount == 1  # type: ignore[attr-defined]
            session.commit()
            if not advanced:
                self.storage.delete(key)
                raise RangeInvalid({"session": upload.id}, "another chunk was written concurrently")
        # The row as the UPDATE left it (the compare-and-set proves nothing else changed it).
        return Upload(
            id=upload.id,
            repository_id=upload.repository_id,
            size=upload.size + written,
            segments=upload.segments + 1,
            created_at=upload.created_at,
            updated_at=utcnow(),
        )

    def monolithic(
        self, name: str, digest: Digest, body: Iterable[bytes], length: int | None = None
    ) -> BlobInfo:
        """POST ?digest= with the whole body (spec: "Single POST"): no session is needed, so
        none is written; the bytes go straight to the blob's key through the digest check
        (and the size limit), then one transaction creates the repository if new and links
        the blob. A declared Content-Length over a limit is refused before the body is read."""
        if length is not None:
            sizes.check(length, self.max_blob_bytes)
            self.quotas.precheck(name, length, str(digest))
        size = self._store_whole(digest, body)
        with Session(self.engine) as session:
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            link(session, repo.id, digest, size)
            session.commit()
        return BlobInfo(digest, size)

    def complete(
        self,
        name: str,
        upload_id: str,
        digest: Digest,
        body: Iterable[bytes] | None,
        length: int | None = None,
        start: int | None = None,
    ) -> BlobInfo:
        """Close the session: verify the digest, publish the bytes at the blob's key, link the
        blob into the repository. Any refusal (digest, size, quota) ends the session and
        leaves nothing a client can see. ``start``: the last chunk's Content-Range start, as
        for append() (a chunk out of order is 416 and the session stays)."""
        upload = self.get(name, upload_id)
        self._check_start(name, upload, start)
        try:
            declared = upload.size + (length or 0)
            sizes.check(declared, self.max_blob_bytes)
            self.quotas.precheck(name, declared, str(digest))
            if upload.segments == 0:
                size = self._store_whole(digest, body or ())  # POST, then PUT with the body
            else:
                if body is not None:
                    upload = self.append(name, upload_id, body, length=length)
                keys = [upload_segment_key(upload.id, n) for n in range(upload.segments)]
                self._hash_segments(upload, digest, keys)
                size = self.storage.compose(
                    blob_key(digest), keys, lambda size: claim(self.engine, digest, size)
                )
            with Session(self.engine) as session:
                link(session, upload.repository_id, digest, size)
                self._end(session, upload)
                session.commit()
        except (DigestInvalid, sizes.BlobTooLarge, QuotaExceeded):
            # Nothing half-written: the session goes; the blob never became linked (bytes
            # published before a quota refusal are unreferenced, and gc removes them).
            self.cancel(name, upload_id)
            raise
        except BlobNotFound as exc:
            # A segment the database counts is gone (segments are not forced to disk, so a
            # power cut can lose one; or fsck --repair removed a broken upload): the client
            # must start over, which it does on a 4xx for the session.
            self.cancel(name, upload_id)
            raise BlobUploadInvalid(
                {"session": upload_id, "missing": exc.key},
                f"part of upload {upload_id} is no longer stored; start the upload again",
            ) from None
        self.hashes.forget(upload.id)
        self.storage.delete_prefix(upload_prefix(upload.id))
        return BlobInfo(digest, size)

    def _store_whole(self, digest: Digest, body: Iterable[bytes]) -> int:
        """A whole blob in one body: straight to the blob's key, hashed and size-limited on
        the way; the digest is checked and the blob claimed after every byte is durable in a
        temporary object, before it becomes visible (hub.artifacts.blobs.claim)."""
        hasher = digest.hasher()
        check = _verifier(digest, hasher)

        def publish(size: int) -> None:
            check(size)
            claim(self.engine, digest, size)

        chunks = sizes.limited(body, 0, self.max_blob_bytes)
        return self.storage.write(blob_key(digest), _hashing(chunks, hasher), publish)

    def _hash_segments(self, upload: Upload, digest: Digest, keys: list[str]) -> None:
        """Verify the digest of the segments before they are joined: from the hash state this
        process kept, reading back only segments it did not see (all of them for another
        algorithm than sha256, or when another replica took the PATCHes)."""
        if digest.algorithm == "sha256":
            done, state = self.hashes.latest(upload.id)
            if done > upload.segments:  # cannot be: segments only grow; start over
                done, state = 0, hashlib.sha256()
        else:
            done, state = 0, digest.hasher()
        for key in keys[done:]:
            for chunk in self.storage.read(key):
                state.update(chunk)
        _verifier(digest, state)(upload.size)

    def cancel(self, name: str, upload_id: str) -> None:
        upload = self.get(name, upload_id)
        self.hashes.forget(upload.id)
        with Session(self.engine) as session:
            self._end(session, upload)
            session.commit()
        self.storage.delete_prefix(upload_prefix(upload.id))

    def progress_headers(self, name: str, upload: Upload) -> dict[str, str]:
        # spec: Range is inclusive, "0-<last byte>"; like distribution, an empty session says 0-0.
        end = max(upload.size - 1, 0)
        return {
            "Location": f"/v2/{name}/blobs/uploads/{upload.id}",
            "Range": f"0-{end}",
            "Docker-Upload-UUID": upload.id,
        }

    def expired(self, ttl: timedelta) -> list[Upload]:
        with Session(self.engine) as session:
            cutoff = utcnow() - ttl
            return list(session.exec(select(Upload).where(col(Upload.updated_at) < cutoff)))
