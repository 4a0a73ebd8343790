"""Webhooks: a namespace's owners subscribe URLs to its events; every push, tag and delete
queues one delivery per matching webhook, in the transaction of the change itself.

Who may manage them is hub.auth.access's decision (``manages_namespace``: owners of a personal
namespace, organisation owners, admins; an API token needs the admin scope)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from hub.artifacts.changes import ManifestEvent
from hub.auth.access import AccessService, Identity
from hub.auth.accounts import audit
from hub.config import Settings
from hub.db.models import Namespace, Repository, Webhook, WebhookAttempt, WebhookDelivery
from hub.events import targets
from hub.events.events import Event, artifact_event, parse_types, ping_event

MAX_PER_NAMESPACE = 20
MIN_SECRET = 16


class WebhookError(ValueError):
    """A webhook request that cannot be honoured; the message says why."""


class Missing(WebhookError):
    """No such namespace (that the caller may see) or webhook."""


class Denied(WebhookError):
    """The caller sees the namespace but does not own it."""


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str  # shown once, in the answer to the request that made it


@dataclass(frozen=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def subscribed(webhook: Webhook, event_type: str) -> bool:
    return not webhook.events or event_type in webhook.events.split(",")


class WebhookService:
    def __init__(self, engine: Engine, access: AccessService, settings: Settings) -> None:
        self.engine = engine
        self.access = access
        self.settings = settings

    # -- management (the API) --------------------------------------------------------------

    def _namespace(self, session: Session, identity: Identity, name: str) -> Namespace:
        allowed = self.access.manages_namespace(identity, name)
        ns = session.exec(select(Namespace).where(Namespace.name == name)).first()
        if ns is None or not allowed:
            # Outsiders learn nothing about namespaces they have no part in.
            raise Missing(f"no namespace {name!r} that you manage")
        if "admin" not in allowed:
            raise Denied(
                f"only owners of {name!r} manage its webhooks (an API token needs the admin scope)"
            )
        return ns

    def _webhook(self, session: Session, ns: Namespace, webhook_id: int) -> Webhook:
        found = session.get(Webhook, webhook_id)
        if found is None or found.namespace_id != ns.id:
            raise Missing(f"no webhook {webhook_id} in {ns.name!r}")
        return found

    def create(
        self,
        identity: Identity,
        namespace: str,
        url: str,
        events: object = None,
        secret: str | None = None,
    ) -> CreatedWebhook:
        try:
            targets.check_url(url, self.settings.webhook_allow_private)
        except targets.TargetRefused as exc:
            raise WebhookError(str(exc)) from None
        try:
            types = parse_types(events)
        except ValueError as exc:
            raise WebhookError(str(exc)) from None
        if secret is not None and len(secret) < MIN_SECRET:
            raise WebhookError(f"a secret must be at least {MIN_SECRET} characters")
        secret = secret or secrets.token_urlsafe(32)
        with Session(self.engine) as session:
            ns = self._namespace(session, identity, namespace)
            count = len(session.exec(select(Webhook.id).where(Webhook.namespace_id == ns.id)).all())
            if count >= MAX_PER_NAMESPACE:
                raise WebhookError(
                    f"{namespace!r} already has {count} webhooks, the most a namespace may have"
                )
            assert ns.id is not None
            hook = Webhook(
                namespace_id=ns.id,
                url=url,
                secret=secret,
                events=",".join(types),
                created_by=identity.username or "",
            )
            session.add(hook)
            audit(session, identity.username, "webhook.create", namespace, url)
            session.commit()
            session.refresh(hook)
            return CreatedWebhook(hook, secret)

    def all(self, identity: Identity, namespace: str) -> list[Webhook]:
        with Session(self.engine) as session:
            ns = self._namespace(session, identity, namespace)
            return list(
                session.exec(
                    select(Webhook).where(Webhook.namespace_id == ns.id).order_by(col(Webhook.id))
                )
            )

    def get(self, identity: Identity, namespace: str, webhook_id: int) -> Webhook:
        with Session(self.engine) as session:
            return self._webhook(session, self._namespace(session, identity, namespace), webhook_id)

    def delete(self, identity: Identity, namespace: str, webhook_id: int) -> None:
        """The webhook, its queued deliveries and their log. A delivery a worker is sending
        right now finds its row gone and records nothing."""
        with Session(self.engine) as session:
            ns = self._namespace(session, identity, namespace)
            hook = self._webhook(session, ns, webhook_id)
            ids = select(WebhookDelivery.id).where(WebhookDelivery.webhook_id == hook.id)
            session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(ids)))
            session.execute(
                delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == hook.id)
            )
            session.delete(hook)
            audit(session, identity.username, "webhook.delete", namespace, hook.url)
            session.commit()

    def deliveries(
        self, identity: Identity, namespace: str, webhook_id: int, limit: int
    ) -> list[DeliveryLog]:
        """The newest deliveries first, each with its attempts in order."""
        with Session(self.engine) as session:
            ns = self._namespace(session, identity, namespace)
            hook = self._webhook(session, ns, webhook_id)
            rows = list(
                session.exec(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.webhook_id == hook.id)
                    .order_by(col(WebhookDelivery.id).desc())
                    .limit(limit)
                )
            )
            attempts: dict[int, list[WebhookAttempt]] = {r.id: [] for r in rows if r.id}
            if attempts:
                for attempt in session.exec(
                    select(WebhookAttempt)
                    .where(col(WebhookAttempt.delivery_id).in_(list(attempts)))
                    .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.attempt))
                ):
                    attempts[attempt.delivery_id].append(attempt)
            return [DeliveryLog(r, attempts.get(r.id or 0, [])) for r in rows]

    def send_test(self, identity: Identity, namespace: str, webhook_id: int) -> WebhookDelivery:
        """Queue a ``io.wasmhub.webhook.test`` event for this webhook alone."""
        with Session(self.engine) as session:
            ns = self._namespace(session, identity, namespace)
            hook = self._webhook(session, ns, webhook_id)
            assert hook.id is not None
            event = ping_event(self.settings.base_url, namespace, hook.id, identity.username)
            row = _queue(session, hook.id, event)
            session.commit()
            session.refresh(row)
            return row

    # -- the ManifestService hook ------------------------------------------------------------

    def enqueue(self, session: Session, change: ManifestEvent) -> None:
        """Queue the change for every active webhook of the repository's namespace that
        subscribes to it, inside the change's own transaction (a rolled-back push queues
        nothing; a committed one is never lost to a restart)."""
        namespace_id = (
            select(Repository.namespace_id)
            .where(Repository.id == change.repository_id)
            .scalar_subquery()
        )
        hooks = session.exec(
            select(Webhook).where(
                col(Webhook.namespace_id) == namespace_id, col(Webhook.active).is_(True)
            )
        ).all()
        if not hooks:
            return
        event = artifact_event(change, self.settings.base_url)
        for hook in hooks:
            if hook.id is not None and subscribed(hook, event.type):
                _queue(session, hook.id, event)


def _queue(session: Session, webhook_id: int, event: Event) -> WebhookDelivery:
    row = WebhookDelivery(
        webhook_id=webhook_id, event_id=event.id, event_type=event.type, body=event.body
    )
    session.add(row)
    return row
