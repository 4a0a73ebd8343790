"""Upload sessions without a row until their first segment (hub.artifacts.uploads): an issued
id expires with the upload TTL, works on another replica sharing the secret and on no other,
and gc removes the tombstones of ended sessions without calling them abandoned."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from hub.artifacts import gc, uploads
from hub.artifacts.uploads import TOMBSTONE, UploadService
from hub.db.models import Upload, utcnow
from hub.oci.digest import Digest
from hub.oci.errors import BlobUploadInvalid, BlobUploadUnknown
from hub.storage.memory import MemoryStorage
from tests.support.databases import open_engine


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    with open_engine(f"sqlite:///{tmp_path}/u.db") as found:
        yield found


def test_an_issued_id_expires_with_the_upload_ttl(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = UploadService(engine, MemoryStorage(), secret="s", ttl_seconds=60)
    upload = service.start("acme/filter")
    assert service.get("acme/filter", upload.id).segments == 0
    later = time.time() + 61
    monkeypatch.setattr(uploads.time, "time", lambda: later)
    with pytest.raises(BlobUploadUnknown):
        service.get("acme/filter", upload.id)


def test_replicas_sharing_the_secret_continue_each_others_uploads(engine: Engine) -> None:
    storage = MemoryStorage()
    one = UploadService(engine, storage, secret="shared")
    two = UploadService(engine, storage, secret="shared")
    stranger = UploadService(engine, storage, secret="another")
    upload = one.start("acme/filter")
    with pytest.raises(BlobUploadUnknown):
        stranger.get("acme/filter", upload.id)
    two.append("acme/filter", upload.id, [b"hello "])  # first segment on the other replica
    one.append("acme/filter", upload.id, [b"world"])  # this one never hashed segment 0
    blob = one.complete("acme/filter", upload.id, Digest.of(b"hello world"), None)
    assert blob.size == 11
    assert b"".join(storage.read(f"blobs/sha256/{blob.digest.hex[:2]}/{blob.digest.hex}")) == (
        b"hello world"
    )
    with pytest.raises(BlobUploadUnknown):
        two.get("acme/filter", upload.id)


def test_gc_removes_tombstones_and_counts_only_abandoned_sessions(engine: Engine) -> None:
    storage = MemoryStorage()
    service = UploadService(engine, storage, secret="s")
    ended = service.start("acme/filter")
    service.cancel("acme/filter", ended.id)
    abandoned = service.start("acme/filter")
    service.append("acme/filter", abandoned.id, [b"partial"])
    with Session(engine) as session:
        rows = {u.id: u.segments for u in session.exec(select(Upload))}
        assert rows == {ended.id: TOMBSTONE, abandoned.id: 1}
        session.execute(update(Upload).values(updated_at=utcnow() - timedelta(days=2)))
        session.commit()
    report = gc.collect(engine, storage, timedelta(hours=1), timedelta(days=1))
    assert report.uploads == 1
    with Session(engine) as session:
        assert session.exec(select(Upload).where(col(Upload.id).is_not(None))).all() == []
    assert list(storage.list_prefix("uploads/")) == []


def test_a_lost_segment_ends_the_upload_with_a_clear_error(engine: Engine) -> None:
    """Segments are not forced to disk: one lost to a power cut must fail the upload cleanly
    (400 BLOB_UPLOAD_INVALID, session gone), never publish a blob or raise a storage error."""
    storage = MemoryStorage()
    service = UploadService(engine, storage, secret="s")
    upload = service.start("acme/filter")
    service.append("acme/filter", upload.id, [b"hello "])
    service.append("acme/filter", upload.id, [b"world"])
    storage.delete(f"uploads/{upload.id}/00000000")
    fresh = UploadService(engine, storage, secret="s")  # after a restart: no hash state kept
    with pytest.raises(BlobUploadInvalid) as refused:
        fresh.complete("acme/filter", upload.id, Digest.of(b"hello world"), None)
    assert "start the upload again" in refused.value.text
    with pytest.raises(BlobUploadUnknown):
        fresh.get("acme/filter", upload.id)
    assert list(storage.list_prefix("blobs/")) == [] and list(storage.list_prefix("uploads/")) == []
