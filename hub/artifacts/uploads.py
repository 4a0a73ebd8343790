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
from hub.artifacts.blobs import BlobInfo, link
from hub.db.models import Upload, utcnow
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
    def __init__(self, engine: Engine, storage: Storage) -> None:
        self.engine = engine
        self.storage = storage

    def start(self, name: str) -> Upload:
        with Session(self.engine) as session:
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            upload = Upload(id=str(uuid.uuid4()), repository_id=repo.id)
            session.add(upload)
            session.commit()
            session.refresh(upload)
            return upload

    def get(self, name: str, upload_id: str) -> Upload:
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            upload = session.get(Upload, upload_id)
            if upload is None or upload.repository_id != repo.id:
                raise BlobUploadUnknown({"session": upload_id}, f"upload {upload_id} is not known")
            return upload

    def append(
        self, name: str, upload_id: str, chunks: Iterable[bytes], start: int | None = None
    ) -> Upload:
        """Store one more segment. ``start`` is the Content-Range start when the client sent one;
        it must equal the bytes received so far, or the chunk is out of order (416)."""
        upload = self.get(name, upload_id)
        if start is not None and start != upload.size:
            raise RangeInvalid(
                {"received": upload.size, "range_start": start},
                f"chunk starts at byte {start} but {upload.size} bytes were received so far",
                headers=self.progress_headers(name, upload),
            )
        key = upload_segment_key(upload.id, upload.segments)
        written = self.storage.write(key, chunks)
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

    def monolithic(self, name: str, digest: Digest, body: Iterable[bytes]) -> BlobInfo:
        """POST ?digest= with the whole body (spec: "Single POST"): no session is needed, so
        none is written; the bytes go straight to the blob's key through the digest check,
        then one transaction creates the repository if new and links the blob."""
        hasher = digest.hasher()
        size = self.storage.write(
            blob_key(digest), _hashing(body, hasher), _verifier(digest, hasher)
        )
        with Session(self.engine) as session:
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            link(session, repo.id, digest, size)
            session.commit()
        return BlobInfo(digest, size)

    def complete(
        self, name: str, upload_id: str, digest: Digest, body: Iterable[bytes] | None
    ) -> BlobInfo:
        upload = self.get(name, upload_id)
        hasher = digest.hasher()
        check = _verifier(digest, hasher)
        try:
            if upload.segments == 0:
                # Monolithic: the body goes straight to the blob's key, hashed on the way.
                size = self.storage.write(blob_key(digest), _hashing(body or (), hasher), check)
            else:
                if body is not None:
                    upload = self.append(name, upload_id, body)
                segments = (
                    chunk
                    for n in range(upload.segments)
                    for chunk in self.storage.read(upload_segment_key(upload.id, n))
                )
                size = self.storage.write(blob_key(digest), _hashing(segments, hasher), check)
        except DigestInvalid:
            # Nothing half-written: the session goes, and the blob never became visible.
            self.cancel(name, upload_id)
            raise
        with Session(self.engine) as session:
            link(session, upload.repository_id, digest, size)
            stored = session.get(Upload, upload.id)
            if stored is not None:
                session.delete(stored)
            session.commit()
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
