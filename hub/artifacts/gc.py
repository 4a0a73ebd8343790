"""Garbage collection (`wasm-hub gc`): abandoned upload sessions, then stored bytes that no
repository links and no manifest is. Work comes from the database, never a storage walk.

A blob younger than the grace period is kept: it may belong to a push still under way (its
manifest not yet sent), as in distribution's gc, which assumes a quiet registry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub.db.models import Blob, Manifest, RepositoryBlob, Upload, WasmModule, utcnow
from hub.oci.digest import Digest
from hub.storage.paths import blob_key, upload_prefix

if TYPE_CHECKING:
    from hub.services import Services

GRACE = timedelta(hours=1)


@dataclass
class Report:
    uploads: int = 0
    blobs: int = 0
    bytes: int = 0
    dry_run: bool = False

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        return (
            f"{verb} {self.uploads} abandoned uploads and {self.blobs} unreferenced blobs "
            f"({self.bytes} bytes)"
        )


def collect(services: Services, dry_run: bool = False, grace: timedelta = GRACE) -> Report:
    report = Report(dry_run=dry_run)
    ttl = timedelta(seconds=services.settings.upload_ttl_seconds)
    with Session(services.engine) as session:
        for upload in session.exec(select(Upload).where(col(Upload.updated_at) < utcnow() - ttl)):
            report.uploads += 1
            if not dry_run:
                services.storage.delete_prefix(upload_prefix(upload.id))
                session.delete(upload)
        linked = select(RepositoryBlob.digest)
        manifests = select(Manifest.digest)
        # Modules extracted from compat layers are served by their own sha256.
        modules = select(func.concat("sha256:", col(WasmModule.module_sha256)))
        orphans = session.exec(
            select(Blob).where(
                col(Blob.digest).not_in(linked),
                col(Blob.digest).not_in(manifests),
                col(Blob.digest).not_in(modules),
                col(Blob.created_at) < utcnow() - grace,
            )
        ).all()
        for blob in orphans:
            report.blobs += 1
            report.bytes += blob.size
            if not dry_run:
                services.storage.delete(blob_key(Digest.parse(blob.digest)))
                session.delete(blob)
        if not dry_run:
            session.commit()
    return report
