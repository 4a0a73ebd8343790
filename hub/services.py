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
from hub.artifacts.stars import StarService
from hub.artifacts.uploads import UploadService
from hub.auth.access import AccessService
from hub.auth.accounts import AccountService
from hub.auth.oauth import OAuthService
from hub.auth.sessions import SessionStore, resolve_secret
from hub.auth.signin import SigninService
from hub.auth.trusted import TrustedPublishing
from hub.config import Settings
from hub.events.delivery import DeliveryQueue, DeliveryWorker
from hub.events.webhooks import WebhookService
from hub.limits.quotas import QuotaService
from hub.playground.service import PlaygroundService
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
    sessions: SessionStore
    signin: SigninService
    oauth: OAuthService
    trusted: TrustedPublishing
    webhooks: WebhookService
    deliveries: DeliveryWorker
    playground: PlaygroundService  # filter playground and the load check at push
    stars: StarService
    quotas: QuotaService

    @classmethod
    def build(cls, settings: Settings, engine: Engine, storage: Storage) -> Services:
        # Sessions must verify on every replica and after restarts: one secret, kept in the DB.
        settings = resolve_secret(settings, engine)
        search = open_search(engine)
        access = AccessService(engine, settings)
        webhooks = WebhookService(engine, access, settings)
        built = cls(
            settings=settings,
            engine=engine,
            storage=storage,
            blobs=BlobService(engine, storage, settings.gc_grace_seconds),
            uploads=UploadService(
                engine,
                storage,
                settings.max_blob_bytes,
                secret=settings.secret_key,
                ttl_seconds=settings.upload_ttl_seconds,
            ),
            # Every push and delete re-indexes its repository in the same transaction, and
            # queues its webhook deliveries there too.
            manifests=ManifestService(
                engine,
                storage,
                settings.max_manifest_bytes,
                on_change=[search.index],
                on_event=[webhooks.enqueue],
            ),
            catalog=CatalogService(engine),
            access=access,
            accounts=AccountService(engine),
            details=DetailsService(engine, on_change=[search.index]),
            pulls=PullCounter(engine),
            search=search,
            sessions=SessionStore(engine, settings),
            signin=SigninService(engine, settings),
            oauth=OAuthService(settings),
            trusted=TrustedPublishing(engine, settings, access.issuer),
            webhooks=webhooks,
            deliveries=DeliveryWorker(DeliveryQueue(engine, settings), settings),
            playground=PlaygroundService(settings, DetailsService(engine), storage),
            stars=StarService(engine),
            quotas=QuotaService(engine),
        )
        if settings.playground_load_check:
            built.manifests.analyzer.load_check = built.playground.load_check
        return built


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
