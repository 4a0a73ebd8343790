"""Upload sessions (spec: "Pushing blobs"). State is a database row plus segment objects in
storage, one per PATCH/PUT body, so any replica can continue any upload. Completion streams
the segments in order through the digest and into the blob's key; the blob becomes visible
only after the digest matched."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.artifacts.blobs import BlobInfo, claim, link
from hub.db.models import Upload, utcnow
from hub.limits import sizes
from hub.limits.quotas import QuotaExceeded, QuotaService
from hub.oci.digest import Digest
from hub.oci.errors import BlobUploadUnknown, DigestInvalid, RangeInvalid
from hub.storage import Storage
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


class UploadService:
    def __init__(self, engine: Engine, storage: Storage, max_blob_bytes: int = 0) -> None:
        self.engine = engine
        self.storage = storage
        self.max_blob_bytes = max_blob_bytes
        self.quotas = QuotaService(engine)

    def start(self, name: str) -> Upload:
        # expire_on_commit=False: the row as written is the row to return; no re-read.
        with Session(self.engine, expire_on_commit=False) as session:
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            upload = Upload(id=str(uuid.uuid4()), repository_id=repo.id)
            session.add(upload)
            session.commit()
            return upload

    def get(self, name: str, upload_id: str) -> Upload:
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            upload = session.get(Upload, upload_id)
            if upload is None or upload.repository_id != repo.id:
                raise BlobUploadUnknown({"session": upload_id}, f"upload {upload_id} is not known")
            return upload

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
        if start is not None and start != upload.size:
            raise RangeInvalid(
                {"received": upload.size, "range_start": start},
                f"chunk starts at byte {start} but {upload.size} bytes were received so far",
                headers=self.progress_headers(name, upload),
            )
        if length is not None:
            sizes.check(upload.size + length, self.max_blob_bytes)
            self.quotas.precheck(name, upload.size + length)
        key = upload_segment_key(upload.id, upload.segments)
        limited = sizes.limited(chunks, upload.size, self.max_blob_bytes)
        written = self.storage.write(key, limited)
        return self._advance(name, upload, written, key)

    def _advance(self, name: str, upload: Upload, written: int, key: str) -> Upload:
        with Session(self.engine) as session:
            # Compare-and-set on the segment count: a concurrent PATCH to the same session
            # (a client bug) loses instead of interleaving bytes.
            result = session.execute(
                update(Upload)
                .where(col(Upload.id) == upload.id, col(Upload.segments) == upload.segments)
                .values(
                    size=upload.size + written, segments=upload.segments + 1, updated_at=utcnow()
                )
            )
            session.commit()
            if result.rowcount != 1:  # type: ignore[attr-defined]
                self.storage.delete(key)
                raise RangeInvalid({"session": upload.id}, "another chunk was written concurrently")
        return self.get(name, upload.id)

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
        hasher = digest.hasher()
        check = _verifier(digest, hasher)

        def publish(size: int) -> None:
            check(size)
            claim(self.engine, digest, size)  # see hub.artifacts.blobs.claim

        chunks = sizes.limited(body, 0, self.max_blob_bytes)
        size = self.storage.write(blob_key(digest), _hashing(chunks, hasher), publish)
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
    ) -> BlobInfo:
        """Close the session: verify the digest, publish the bytes at the blob's key, link the
        blob into the repository. Any refusal (digest, size, quota) ends the session and
        leaves nothing a client can see."""
        upload = self.get(name, upload_id)
        hasher = digest.hasher()
        check = _verifier(digest, hasher)

        def publish(size: int) -> None:
            # After every byte is durable in a temporary object, before it becomes visible.
            check(size)
            claim(self.engine, digest, size)

        try:
            declared = upload.size + (length or 0)
            sizes.check(declared, self.max_blob_bytes)
            self.quotas.precheck(name, declared, str(digest))
            if upload.segments == 0:
                # Monolithic: the body goes straight to the blob's key, hashed on the way.
                chunks = sizes.limited(body or (), 0, self.max_blob_bytes)
                size = self.storage.write(blob_key(digest), _hashing(chunks, hasher), publish)
            else:
                if body is not None:
                    upload = self.append(name, upload_id, body, length=length)
                segments = (
                    chunk
                    for n in range(upload.segments)
                    for chunk in self.storage.read(upload_segment_key(upload.id, n))
                )
                size = self.storage.write(blob_key(digest), _hashing(segments, hasher), publish)
            with Session(self.engine) as session:
                link(session, upload.repository_id, digest, size)
                stored = session.get(Upload, upload.id)
                if stored is not None:
                    session.delete(stored)
                session.commit()
        except (DigestInvalid, sizes.BlobTooLarge, QuotaExceeded):
            # Nothing half-written: the session goes; the blob never became linked (bytes
            # published before a quota refusal are unreferenced, and gc removes them).
            self.cancel(name, upload_id)
            raise
        self.storage.delete_prefix(upload_prefix(upload.id))
        return BlobInfo(digest, size)

    def cancel(self, name: str, upload_id: str) -> None:
        upload = self.get(name, upload_id)
        with Session(self.engine) as session:
            stored = session.get(Upload, upload.id)
            if stored is not None:
                session.delete(stored)
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
