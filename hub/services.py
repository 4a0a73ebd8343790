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
from hub.auth.accounts import AccountService
from hub.config import Settings
from hub.search import Search, open_search
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
    accounts: AccountService
    details: DetailsService
    pulls: PullCounter
    search: Search

    @classmethod
    def build(cls, settings: Settings, engine: Engine, storage: Storage) -> Services:
        search = open_search(engine)
        return cls(
            settings=settings,
            engine=engine,
            storage=storage,
            blobs=BlobService(engine, storage, settings.gc_grace_seconds),
            uploads=UploadService(engine, storage, settings.max_blob_bytes),
            # Every push and delete re-indexes its repository in the same transaction.
            manifests=ManifestService(
                engine, storage, settings.max_manifest_bytes, on_change=[search.index]
            ),
            catalog=CatalogService(engine),
            access=AccessService(engine, settings),
            accounts=AccountService(engine),
            details=DetailsService(engine, on_change=[search.index]),
            pulls=PullCounter(engine),
            search=search,
        )


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
