"""The races gc must win or lose cleanly, played out deterministically on both databases with
the real schema: a writer holds a row, gc must wait for it and then keep what the writer
touched; gc holds a row while deleting bytes, a claim() must wait until they are gone. And the
lease lets one holder at a time run."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col

from hub.artifacts import gc
from hub.artifacts.blobs import claim
from hub.db.models import Blob, Namespace, Repository, RepositoryBlob, utcnow
from hub.oci.digest import Digest
from hub.storage.memory import MemoryStorage
from hub.storage.paths import blob_key
from tests.support.databases import engine_fixture

DIGEST = Digest.of(b"layer")
OLD = timedelta(hours=2)
GRACE = timedelta(hours=1)


engine = engine_fixture("gc_race")


def seed(engine: Engine, storage: MemoryStorage) -> int:
    """An old, unreferenced link to an old blob: exactly what gc removes."""
    storage.write(blob_key(DIGEST), [b"layer"])
    past = utcnow() - OLD
    with Session(engine) as session:
        ns = Namespace(name="acme")
        session.add(ns)
        session.flush()
        repo = Repository(name="acme/filter", namespace_id=ns.id)
        session.add(repo)
        session.add(Blob(digest=str(DIGEST), size=5, created_at=past, touched_at=past))
        session.flush()
        assert repo.id is not None
        session.add(
            RepositoryBlob(
                repository_id=repo.id, digest=str(DIGEST), created_at=past, touched_at=past
            )
        )
        session.commit()
        return repo.id


def in_background(fn: object) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()))  # type: ignore[operator]
    thread.start()
    return thread, out


def test_a_manifest_push_holding_the_link_wins(engine: Engine) -> None:
    storage = MemoryStorage()
    repository_id = seed(engine, storage)
    with Session(engine) as writer:
        # What ManifestService._hold_references does inside the manifest's transaction.
        writer.execute(
            update(RepositoryBlob)
            .where(col(RepositoryBlob.repository_id) == repository_id)
            .values(touched_at=utcnow())
        )
        thread, out = in_background(lambda: gc.collect(engine, storage, GRACE, GRACE))
        time.sleep(0.5)
        assert thread.is_alive(), "gc did not wait for the writer's row"
        writer.commit()
    thread.join(30)
    report = out[0]
    assert isinstance(report, gc.Report)
    assert report.links == 0 and report.blobs == 0
    with Session(engine) as session:
        assert session.get(RepositoryBlob, (repository_id, str(DIGEST))) is not None
    assert storage.exists(blob_key(DIGEST))


def test_without_a_writer_gc_removes_link_row_and_bytes(engine: Engine) -> None:
    storage = MemoryStorage()
    repository_id = seed(engine, storage)
    assert gc.collect(engine, storage, GRACE, GRACE, dry_run=True).links == 1
    report = gc.collect(engine, storage, GRACE, GRACE)
    assert (report.links, report.blobs, report.bytes) == (1, 1, 5)
    with Session(engine) as session:
        assert session.get(RepositoryBlob, (repository_id, str(DIGEST))) is None
        assert session.get(Blob, str(DIGEST)) is None
    assert not storage.exists(blob_key(DIGEST))


def test_a_claim_waits_until_gc_has_deleted_the_bytes(engine: Engine) -> None:
    storage = MemoryStorage()
    seed(engine, storage)
    with Session(engine) as collector:
        collector.execute(delete(RepositoryBlob))
        # gc's blob step: the row's DELETE holds it while the bytes go.
        collector.execute(delete(Blob).where(col(Blob.digest) == str(DIGEST)))
        thread, _ = in_background(lambda: claim(engine, DIGEST, 5))
        time.sleep(0.5)
        assert thread.is_alive(), "claim() did not wait for gc's row"
        storage.delete(blob_key(DIGEST))
        collector.commit()
    thread.join(30)
    # The claim came after: a fresh row, which no gc removes within the grace period, and
    # the bytes the uploader now writes stay.
    storage.write(blob_key(DIGEST), [b"layer"])
    assert gc.collect(engine, storage, GRACE, GRACE).blobs == 0
    assert storage.exists(blob_key(DIGEST))


def test_one_lease_holder_at_a_time(engine: Engine) -> None:
    ttl = timedelta(seconds=60)
    assert gc.acquire(engine, "gc", "a", ttl) is not None
    assert gc.acquire(engine, "gc", "b", ttl) is None
    assert gc.acquire(engine, "gc", "a", ttl) is not None  # renewal
    gc.release(engine, "gc", "a")
    assert gc.acquire(engine, "gc", "b", ttl) is not None
    # An expired lease (its holder died) passes to the next one.
    assert gc.acquire(engine, "gc", "c", timedelta(seconds=-1)) is None
    with Session(engine) as session:
        session.execute(update(gc.Lease).values(expires_at=utcnow() - ttl))
        session.commit()
    assert gc.acquire(engine, "gc", "c", ttl) is not None
