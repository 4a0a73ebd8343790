"""The service container the app's lifespan builds once and handlers read from app.state."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from starlette.requests import Request

from hub.artifacts.blobs import BlobService
from hub.artifacts.catalog import CatalogService
from hub.artifacts.details import DetailsService
from hub.artifacts.manifests import ManifestService
from hub.artifacts.pulls import PullCounter
from hub.artifacts.uploads import UploadService
from hub.auth.access import AccessService
from hub.config import Settings
from hub.storage import Storage


@dataclass
class Services:
    settings: Settings
    engine: Engine
    storage: Storage
    blobs: BlobService
    uploads: UploadService
    manifests: ManifestService
    catalog: CatalogService
    access: AccessService
    details: DetailsService
    pulls: PullCounter

    @classmethod
    def build(cls, settings: Settings, engine: Engine, storage: Storage) -> Services:
        return cls(
            settings=settings,
            engine=engine,
            storage=storage,
            blobs=BlobService(engine, storage),
            uploads=UploadService(engine, storage),
            manifests=ManifestService(engine, storage, settings.max_manifest_bytes),
            catalog=CatalogService(engine),
            access=AccessService(engine, settings),
            details=DetailsService(engine),
            pulls=PullCounter(engine),
        )


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
