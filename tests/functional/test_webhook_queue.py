"""The delivery queue on both databases: concurrent claimers (each with its own engine, as
separate replicas have) never take the same delivery twice; a lease that expires lets another
replica take over and the stalled one cannot overwrite its result; and, by default, a webhook
aimed at the hub's own network is refused at creation and at delivery."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from hub.auth.access import AccessService, Identity
from hub.config import Settings
from hub.db.engine import make_engine
from hub.db.models import Namespace, Webhook, WebhookAttempt, WebhookDelivery, utcnow
from hub.events.delivery import Claimed, DeliveryQueue, Outcome, send
from hub.events.events import ping_event
from hub.events.webhooks import WebhookError, WebhookService
from tests.support.databases import BACKENDS, database_url, open_engine
from tests.support.receiver import Receiver

SETTINGS = Settings(
    database_url="unused", storage_url="memory://", webhook_max_attempts=3, auth="none"
)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path, "queue") as found:
        yield found


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    with open_engine(url) as found:
        yield found


def queue_events(engine: Engine, count: int, target: str = "http://127.0.0.1:9/") -> int:
    with Session(engine) as session:
        ns = Namespace(name="team")
        session.add(ns)
        session.flush()
        assert ns.id is not None
        hook = Webhook(namespace_id=ns.id, url=target, secret="s" * 32)
        session.add(hook)
        session.flush()
        assert hook.id is not None
        for _ in range(count):
            event = ping_event("http://hub.test", "team", hook.id, None)
            session.add(
                WebhookDelivery(
                    webhook_id=hook.id, event_id=event.id, event_type=event.type, body=event.body
                )
            )
        session.commit()
        return hook.id


def test_concurrent_claimers_never_share_a_delivery(engine: Engine, url: str) -> None:
    queue_events(engine, 40)
    claimed: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def replica() -> None:
        own = make_engine(url)  # a replica has its own connections
        queue = DeliveryQueue(own, SETTINGS)
        barrier.wait()
        try:
            while batch := queue.claim(5):
                for c in batch:
                    assert queue.record(c, Outcome(204, "", 1)) == "succeeded"
                with lock:
                    claimed.extend(c.id for c in batch)
        finally:
            own.dispose()

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(claimed) == 40 and set(Counter(claimed).values()) == {1}
    with Session(engine) as session:
        rows = session.exec(select(WebhookDelivery)).all()
        assert {(r.state, r.attempts, r.lease_token) for r in rows} == {("succeeded", 1, None)}
        assert len(session.exec(select(WebhookAttempt)).all()) == 40


def test_expired_lease_moves_to_another_replica(engine: Engine) -> None:
    queue_events(engine, 1)
    first, second = DeliveryQueue(engine, SETTINGS), DeliveryQueue(engine, SETTINGS)
    [stalled] = first.claim()
    assert second.claim() == []  # leased
    with Session(engine) as session:  # the first replica hangs past its lease
        session.execute(update(WebhookDelivery).values(lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    [taken] = second.claim()
    assert taken.id == stalled.id and taken.token != stalled.token and taken.attempt == 1
    assert first.record(stalled, Outcome(204, "", 5)) is None  # its lease is gone
    assert second.record(taken, Outcome(500, "HTTP 500", 5)) == "pending"
    with Session(engine) as session:
        row = session.exec(select(WebhookDelivery)).one()
        assert row.attempts == 1 and row.last_status_code == 500
        # Retried later: the next attempt is not due yet.
        assert second.claim() == []
        session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        session.commit()
    [again] = first.claim()
    assert again.attempt == 2
    first.release([again])  # shutting down: given back at once, not after the lease
    [third] = second.claim()
    assert third.attempt == 2
    assert second.record(third, Outcome(None, "refused", 1)) == "pending"
    with Session(engine) as session:
        session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        session.commit()
    [last] = second.claim()
    assert second.record(last, Outcome(502, "HTTP 502", 1)) == "failed"  # 3 = max attempts
    assert second.claim() == []
    with Session(engine) as session:
        attempts = session.exec(select(WebhookAttempt).order_by(col(WebhookAttempt.id))).all()
        assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, None), (3, 502)]


def test_internal_targets_are_refused_by_default(engine: Engine) -> None:
    settings = Settings(database_url="unused", storage_url="memory://")  # the defaults
    webhooks = WebhookService(engine, AccessService(engine, settings), settings)
    with Session(engine) as session:
        session.add(Namespace(name="team"))
        session.commit()
    admin = Identity(user_id=1, username="root", is_admin=True)
    for target, word in [
        ("http://127.0.0.1:9/x", "loopback"),
        ("http://localhost/x", "loopback"),
        ("http://10.1.2.3/x", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/x", "loopback"),
        ("http://[::ffff:127.0.0.1]/x", "loopback"),
        ("http://100.64.0.1/x", "non-public"),
    ]:
        with pytest.raises(WebhookError, match=word) as info:
            webhooks.create(admin, "team", target)
        assert "HUB_WEBHOOK_ALLOW_PRIVATE" in str(info.value)
    assert webhooks.create(admin, "team", "https://93.184.215.14/hook").webhook.id


def test_delivery_checks_the_address_again() -> None:
    """A name that resolves to loopback (DNS can change after creation) is not contacted."""
    with Receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        claimed = Claimed(1, "t", 1, f"http://localhost:{port}/x", "s", "{}", "e", "t")

        async def attempt(allow: bool) -> Outcome:
            async with httpx.AsyncClient(trust_env=False) as client:
                return await send(client, claimed, allow)

        refused = asyncio.run(attempt(False))
        assert refused.status_code is None and "loopback" in refused.error
        assert receiver.on("/x") == []
        allowed = asyncio.run(attempt(True))
        assert allowed.status_code == 204 and allowed.ok
        [got] = receiver.on("/x")
        assert got.headers["host"] == f"localhost:{port}"  # the name, though we dialled the IP
