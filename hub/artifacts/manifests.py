"""Manifest service: checked on push, stored byte-exact, found by tag or digest."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.artifacts import repositories
from hub.artifacts.blobs import claim, linked, record
from hub.artifacts.changes import DELETED, PUSHED, TAGGED, ManifestEvent
from hub.artifacts.modules import ModuleAnalyzer
from hub.db.models import Manifest as ManifestRow
from hub.db.models import (
    ManifestReference,
    Repository,
    RepositoryBlob,
    Tag,
    WasmModule,
    utcnow,
)
from hub.oci import manifest as oci_manifest
from hub.oci.digest import Digest, InvalidDigest, is_digest
from hub.oci.errors import (
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestTooLarge,
    ManifestUnknown,
    Unsupported,
)
from hub.storage import BlobNotFound, Storage
from hub.storage.paths import blob_key

CACHE_BYTES = 64 * 1024 * 1024


class ContentCache:
    """A small LRU of manifest bytes by digest, bounded in total bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        with self._lock:
            if key in self._items or len(value) > self.limit:
                return
            self._items[key] = value
            self._size += len(value)
            while self._size > self.limit:
                _, dropped = self._items.popitem(last=False)
                self._size -= len(dropped)


@dataclass(frozen=True)
class StoredManifest:
    digest: Digest
    media_type: str
    size: int
    content: bytes
    subject: str | None


def _lookup_statements() -> tuple[Any, Any]:
    """GET by tag and by digest: (digest, media type, size, subject) of one manifest."""
    columns = select(
        col(ManifestRow.digest),
        col(ManifestRow.media_type),
        col(ManifestRow.size),
        col(ManifestRow.subject_digest),
    ).join(Repository, col(Repository.id) == col(ManifestRow.repository_id))
    name = col(Repository.name) == bindparam("name")
    by_tag = columns.join(
        Tag,
        (col(Tag.repository_id) == col(ManifestRow.repository_id))
        & (col(Tag.manifest_digest) == col(ManifestRow.digest)),
    ).where(name, col(Tag.name) == bindparam("reference"))
    by_digest = columns.where(name, col(ManifestRow.digest) == bindparam("reference"))
    return by_tag, by_digest


class ManifestService:
    def __init__(
        self,
        engine: Engine,
        storage: Storage,
        max_bytes: int,
        on_change: list[Callable[[Session, int], None]] | None = None,
        on_event: list[Callable[[Session, ManifestEvent], None]] | None = None,
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.max_bytes = max_bytes
        self.analyzer = ModuleAnalyzer(storage)
        # Called with (session, repository id) inside the transaction of every push/delete.
        self.on_change = on_change or []
        # Called with what changed (hub.artifacts.changes), in the same transaction.
        self.on_event = on_event or []
        # Content by digest never changes, so this cache can never be stale, on any replica.
        self._cache = ContentCache(CACHE_BYTES)
        self._by_tag, self._by_digest = _lookup_statements()

    def _parse(self, raw: bytes, content_type: str) -> oci_manifest.Manifest:
        if len(raw) > self.max_bytes:
            raise ManifestTooLarge(
                {"size": len(raw), "limit": self.max_bytes},
                f"manifest is {len(raw)} bytes; this registry accepts at most {self.max_bytes}",
            )
        try:
            return oci_manifest.parse(raw, content_type)
        except oci_manifest.UnsupportedManifest as exc:
            raise Unsupported({"mediaType": content_type}, str(exc)) from None
        except oci_manifest.ManifestError as exc:
            raise ManifestInvalid(None, str(exc)) from None

    def put(
        self, name: str, reference: str, raw: bytes, content_type: str, actor: str | None = None
    ) -> StoredManifest:
        parsed = self._parse(raw, content_type)
        if is_digest(reference):
            try:
                expected = Digest.parse(reference)
            except InvalidDigest as exc:
                raise DigestInvalid({"digest": reference}, str(exc)) from None
            digest = Digest.of(raw, expected.algorithm)
            if digest != expected:
                raise DigestInvalid(
                    {"expected": reference, "actual": str(digest)},
                    f"manifest body has digest {digest}, not {reference}",
                )
        else:
            digest = Digest.of(raw)
        with Session(self.engine) as session:
            existing = repositories.find(session, name)
            self._check_references(session, existing.id if existing else None, parsed)
        # Read and judge the module before anything is written: a refusal leaves no trace.
        analysis = self.analyzer.analyze(parsed, digest)
        # Claim, then bytes, then the rows that make them servable (hub.artifacts.blobs.claim):
        # a gc run can neither remove these bytes after they are written nor leave a row
        # pointing at missing bytes.
        if analysis.extracted is not None:
            extracted = Digest.of(analysis.extracted)
            claim(self.engine, extracted, len(analysis.extracted))
            self.storage.write(blob_key(extracted), [analysis.extracted])
        claim(self.engine, digest, len(raw))
        self.storage.write(blob_key(digest), [raw])
        with Session(self.engine) as session:
            repo = repositories.ensure(session, name)
            assert repo.id is not None
            self._hold_references(session, repo.id, parsed)
            record(session, digest, len(raw))
            if analysis.extracted is not None:
                record(session, extracted, len(analysis.extracted))
            row = session.exec(
                select(ManifestRow).where(
                    ManifestRow.repository_id == repo.id, ManifestRow.digest == str(digest)
                )
            ).first()
            created = row is None
            if row is None:
                row = self._insert(session, repo.id, digest, parsed)
            if analysis.module is not None and session.get(WasmModule, str(digest)) is None:
                try:
                    with session.begin_nested():
                        session.add(analysis.module)
                except IntegrityError:
                    pass  # the same manifest analysed concurrently: same facts
            for key, value in analysis.metadata.items():
                setattr(repo, key, value)
            repo.updated_at = utcnow()
            session.add(repo)
            tag = None if is_digest(reference) else reference
            moved = False
            if tag is not None:
                moved = self._tag(session, repo.id, tag, digest)
            self._changed(session, repo.id)
            if created or moved:
                kind = PUSHED if created else TAGGED
                self._emit(
                    session,
                    ManifestEvent(
                        kind, name, repo.id, str(digest), parsed.media_type, tag, actor=actor
                    ),
                )
            session.commit()
        subject = str(parsed.subject.digest) if parsed.subject else None
        return StoredManifest(digest, parsed.media_type, len(raw), raw, subject)

    def _changed(self, session: Session, repository_id: int | None) -> None:
        """Run the change hooks (e.g. the search index) inside the caller's transaction."""
        assert repository_id is not None
        for hook in self.on_change:
            hook(session, repository_id)

    def _emit(self, session: Session, event: ManifestEvent) -> None:
        for hook in self.on_event:
            hook(session, event)

    def _hold_references(
        self, session: Session, repository_id: int, parsed: oci_manifest.Manifest
    ) -> None:
        """Re-check, inside the transaction that stores the manifest, that every blob it names
        is still linked, and touch those links. The UPDATE takes each link's row lock (the
        single writer's lock on SQLite): a gc run deleting the link either finished first
        (the manifest is refused here, nothing stored) or waits and then sees a fresh link it
        must keep. Sorted, so two pushes sharing layers lock in the same order."""
        now = utcnow()
        for ref in sorted({str(d.digest) for d in parsed.blobs}):
            touched = session.execute(
                update(RepositoryBlob)
                .where(
                    col(RepositoryBlob.repository_id) == repository_id,
                    col(RepositoryBlob.digest) == ref,
                )
                .values(touched_at=now)
            )
            if touched.rowcount != 1:  # type: ignore[attr-defined]
                raise ManifestBlobUnknown(
                    {"digest": ref}, f"blob {ref} is not in this repository; push it first"
                )

    def _check_references(
        self, session: Session, repository_id: int | None, parsed: oci_manifest.Manifest
    ) -> None:
        wanted = [str(d.digest) for d in parsed.blobs]
        have = linked(session, repository_id, wanted) if repository_id is not None else set()
        missing = set(wanted) - have
        if missing:
            first = sorted(missing)[0]
            raise ManifestBlobUnknown(
                {"digest": first}, f"blob {first} is not in this repository; push it first"
            )
        children = [str(d.digest) for d in parsed.manifests]
        if children and repository_id is None:
            raise ManifestBlobUnknown(
                {"digest": children[0]},
                f"manifest {children[0]} listed in the index is not in this repository",
            )
        if children:
            known = set(
                session.exec(
                    select(ManifestRow.digest).where(
                        ManifestRow.repository_id == repository_id,
                        col(ManifestRow.digest).in_(children),
                    )
                )
            )
            absent = sorted(set(children) - known)
            if absent:
                raise ManifestBlobUnknown(
                    {"digest": absent[0]},
                    f"manifest {absent[0]} listed in the index is not in this repository",
                )

    def _insert(
        self, session: Session, repository_id: int, digest: Digest, parsed: oci_manifest.Manifest
    ) -> ManifestRow:
        try:
            with session.begin_nested():
                row = ManifestRow(
                    repository_id=repository_id,
                    digest=str(digest),
                    media_type=parsed.media_type,
                    size=len(parsed.raw),
                    artifact_type=parsed.artifact_type,
                    subject_digest=str(parsed.subject.digest) if parsed.subject else None,
                    annotations=json.dumps(parsed.annotations),
                )
                session.add(row)
                session.flush()
                assert row.id is not None
                refs = {str(d.digest): "blob" for d in parsed.blobs}
                refs.update({str(d.digest): "manifest" for d in parsed.manifests})
                for ref, kind in refs.items():
                    session.add(ManifestReference(manifest_id=row.id, digest=ref, kind=kind))
                session.flush()
        except IntegrityError:
            # Pushed concurrently by another replica: same digest, same content.
            found = session.exec(
                select(ManifestRow).where(
                    ManifestRow.repository_id == repository_id, ManifestRow.digest == str(digest)
                )
            ).first()
            assert found is not None
            return found
        return row

    def _tag(self, session: Session, repository_id: int, name: str, digest: Digest) -> bool:
        """Point the tag at ``digest``; True when that changed anything."""
        tag = session.exec(
            select(Tag).where(Tag.repository_id == repository_id, Tag.name == name)
        ).first()
        if tag is None:
            try:
                with session.begin_nested():
                    session.add(
                        Tag(repository_id=repository_id, name=name, manifest_digest=str(digest))
                    )
                return True
            except IntegrityError:
                tag = session.exec(
                    select(Tag).where(Tag.repository_id == repository_id, Tag.name == name)
                ).one()
        moved = tag.manifest_digest != str(digest)
        tag.manifest_digest = str(digest)
        tag.updated_at = utcnow()
        session.add(tag)
        return moved

    def _resolve(self, session: Session, name: str, reference: str) -> ManifestRow:
        repo = repositories.get(session, name)
        if is_digest(reference):
            digest = reference
        else:
            tag = session.exec(
                select(Tag).where(Tag.repository_id == repo.id, Tag.name == reference)
            ).first()
            if tag is None:
                raise ManifestUnknown({"tag": reference}, f"tag {reference!r} is not in {name}")
            digest = tag.manifest_digest
        row = session.exec(
            select(ManifestRow).where(
                ManifestRow.repository_id == repo.id, ManifestRow.digest == digest
            )
        ).first()
        if row is None:
            raise ManifestUnknown({"digest": digest}, f"manifest {digest} is not in {name}")
        return row

    def _lookup(self, name: str, reference: str) -> tuple[str, str, int, str | None]:
        """The hot path (every pull starts here): one round trip on a pooled connection, for
        the four columns a GET answers with; repository, tag and manifest joined. A plain
        Core statement, built once: the ORM's session and entity loading cost ~7x more."""
        by_digest = is_digest(reference)
        query = self._by_digest if by_digest else self._by_tag
        with self.engine.connect() as conn:
            row = conn.execute(query, {"name": name, "reference": reference}).first()
        if row is None:
            with Session(self.engine) as session:
                # Say precisely what is unknown: the repository, or the manifest in it.
                repositories.get(session, name)
            detail = {"digest" if by_digest else "tag": reference}
            raise ManifestUnknown(detail, f"manifest {reference!r} is not in {name}")
        return row[0], row[1], row[2], row[3]

    def get(self, name: str, reference: str) -> StoredManifest:
        found, media_type, size, subject = self._lookup(name, reference)
        digest = Digest.parse(found)
        content = self._cache.get(found)
        if content is None:
            try:
                content = b"".join(self.storage.read(blob_key(digest)))
            except BlobNotFound:
                raise ManifestUnknown({"digest": found}, "manifest content is missing") from None
            self._cache.put(found, content)
        return StoredManifest(digest, media_type, size, content, subject)

    def delete(self, name: str, reference: str, actor: str | None = None) -> None:
        """By digest: the manifest and every tag on it. By tag: only the tag."""
        with Session(self.engine) as session:
            repo = repositories.get(session, name)
            if not is_digest(reference):
                tag = session.exec(
                    select(Tag).where(Tag.repository_id == repo.id, Tag.name == reference)
                ).first()
                if tag is None:
                    raise ManifestUnknown({"tag": reference}, f"tag {reference!r} is not in {name}")
                target = tag.manifest_digest
                session.delete(tag)
                self._changed(session, repo.id)
                media_type = session.exec(
                    select(ManifestRow.media_type).where(
                        ManifestRow.repository_id == repo.id, ManifestRow.digest == target
                    )
                ).first()
                assert repo.id is not None
                event = ManifestEvent(
                    DELETED, name, repo.id, target, media_type, reference, actor=actor
                )
                self._emit(session, event)
                session.commit()
                return
            row = self._resolve(session, name, reference)
            tags = tuple(
                session.exec(
                    select(Tag.name)
                    .where(Tag.repository_id == repo.id, Tag.manifest_digest == row.digest)
                    .order_by(col(Tag.name))
                )
            )
            session.execute(
                delete(Tag).where(
                    col(Tag.repository_id) == repo.id, col(Tag.manifest_digest) == row.digest
                )
            )
            session.execute(
                delete(ManifestReference).where(col(ManifestReference.manifest_id) == row.id)
            )
            session.delete(row)
            self._changed(session, repo.id)
            assert repo.id is not None
            self._emit(
                session,
                ManifestEvent(
                    DELETED, name, repo.id, row.digest, row.media_type, tags=tags, actor=actor
                ),
            )
            session.commit()
