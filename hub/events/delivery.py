"""Sending queued webhook deliveries: every replica runs one ``DeliveryWorker`` (hub.app's
lifespan), and they share the ``webhook_deliveries`` table as their queue.

Claiming: a replica takes a due row with a conditional UPDATE that sets a lease (a random token
and an expiry) only where the row is still pending and unleased (or its lease has expired).
On PostgreSQL a concurrent UPDATE of the same row waits and then re-checks the WHERE clause
under READ COMMITTED, so exactly one replica's UPDATE matches; SQLite has a single writer.
The result is written only where the lease token still matches, so a replica that stalled
past its lease cannot overwrite the row another replica has since claimed. A replica that
dies mid-send leaves a lease that expires, and the delivery is sent again (at least once;
receivers deduplicate by the CloudEvent id).

Retries: any answer but 2xx, a refused target, a timeout or a network error is retried after
``HUB_WEBHOOK_RETRY_SECONDS * 2**(attempt-1)`` (jittered, at most an hour), up to
``HUB_WEBHOOK_MAX_ATTEMPTS`` attempts; then the delivery is ``failed``. Redirects are not
followed (a redirect could point anywhere, including inside the hub's network).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import anyio.to_thread
import httpx
from sqlalchemy import Engine, delete, or_, update
from sqlmodel import Session, col, select

from hub.config import Settings
from hub.db.models import Webhook, WebhookAttempt, WebhookDelivery, utcnow
from hub.events import targets
from hub.events.events import CONTENT_TYPE, SIGNATURE_HEADER, sign

log = logging.getLogger("hub.events")

LEASE = timedelta(seconds=60)  # well above TIMEOUT: a live sender never loses its lease
TIMEOUT = 10.0
BATCH = 16
MAX_DELAY = 3600.0
MAX_ERROR = 1024
KEEP = timedelta(days=30)  # finished deliveries (and their log) are kept this long
PRUNE_EVERY = 3600.0
USER_AGENT = "wasm-hub-webhooks/1"


@dataclass(frozen=True)
class Claimed:
    id: int
    token: str
    attempt: int  # the number of the attempt about to be made, from 1
    url: str
    secret: str
    body: str
    event_id: str
    event_type: str


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff(attempt: int, base: float) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
    delay = min(base * 2 ** (attempt - 1), MAX_DELAY)
    return delay * random.uniform(0.9, 1.1)  # replicas retrying together drift apart


class DeliveryQueue:
    """The queue's database side (blocking; the worker calls it in a thread)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def claim(self, limit: int = BATCH) -> list[Claimed]:
        now = utcnow()
        claimable = (
            col(WebhookDelivery.state) == "pending",
            col(WebhookDelivery.next_attempt_at) <= now,
            or_(col(WebhookDelivery.lease_until).is_(None), col(WebhookDelivery.lease_until) < now),
        )
        with Session(self.engine) as session:
            due = session.exec(
                select(WebhookDelivery.id)
                .where(*claimable)
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(limit)
            ).all()
        claimed: list[Claimed] = []
        for delivery_id in due:
            token = uuid.uuid4().hex
            with Session(self.engine) as session:
                result = session.execute(
                    update(WebhookDelivery)
                    .where(col(WebhookDelivery.id) == delivery_id, *claimable)
                    .values(lease_token=token, lease_until=now + LEASE)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    session.rollback()  # another replica took it first
                    continue
                row, hook = session.exec(
                    select(WebhookDelivery, Webhook)
                    .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
                    .where(WebhookDelivery.id == delivery_id)
                ).one()
                session.commit()
                claimed.append(
                    Claimed(
                        delivery_id or 0,
                        token,
                        row.attempts + 1,
                        hook.url,
                        hook.secret,
                        row.body,
                        row.event_id,
                        row.event_type,
                    )
                )
        return claimed

    def record(self, claimed: Claimed, outcome: Outcome) -> str | None:
        """Write the attempt's result; the delivery's new state, or None when the lease was
        lost (the webhook was deleted, or the lease expired and another replica took it)."""
        now = utcnow()
        values: dict[str, object] = {
            "attempts": claimed.attempt,
            "lease_token": None,
            "lease_until": None,
            "last_status_code": outcome.status_code,
            "last_error": outcome.error[:MAX_ERROR],
        }
        if outcome.ok:
            values.update(state="succeeded", finished_at=now)
        elif claimed.attempt >= self.settings.webhook_max_attempts:
            values.update(state="failed", finished_at=now)
        else:
            delay = backoff(claimed.attempt, self.settings.webhook_retry_seconds)
            values.update(state="pending", next_attempt_at=now + timedelta(seconds=delay))
        with Session(self.engine) as session:
            result = session.execute(
                update(WebhookDelivery)
                .where(
                    col(WebhookDelivery.id) == claimed.id,
                    col(WebhookDelivery.lease_token) == claimed.token,
                )
                .values(**values)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                return None
            session.add(
                WebhookAttempt(
                    delivery_id=claimed.id,
                    attempt=claimed.attempt,
                    status_code=outcome.status_code,
                    error=outcome.error[:MAX_ERROR],
                    duration_ms=outcome.duration_ms,
                )
            )
            session.commit()
        return str(values["state"])

    def release(self, claims: list[Claimed]) -> None:
        """Give back claims not sent (shutting down), so another replica need not wait for
        the lease to expire."""
        with Session(self.engine) as session:
            for claimed in claims:
                session.execute(
                    update(WebhookDelivery)
                    .where(
                        col(WebhookDelivery.id) == claimed.id,
                        col(WebhookDelivery.lease_token) == claimed.token,
                    )
                    .values(lease_token=None, lease_until=None)
                )
            session.commit()

    def prune(self, keep: timedelta = KEEP) -> None:
        """Forget finished deliveries older than ``keep``, with their log."""
        old = select(WebhookDelivery.id).where(
            col(WebhookDelivery.finished_at).is_not(None),
            col(WebhookDelivery.finished_at) < utcnow() - keep,
        )
        with Session(self.engine) as session:
            session.execute(delete(WebhookAttempt).where(col(WebhookAttempt.delivery_id).in_(old)))
            session.execute(delete(WebhookDelivery).where(col(WebhookDelivery.id).in_(old)))
            session.commit()


async def send(client: httpx.AsyncClient, claimed: Claimed, allow_private: bool) -> Outcome:
    """One attempt: resolve and check the target, POST the signed CloudEvent to the checked
    address, and read (then drop) at most 64 KiB of the answer."""
    started = time.monotonic()
    status: int | None = None
    error = ""
    try:
        target = targets.parse(claimed.url)
        addresses = await anyio.to_thread.run_sync(targets.resolve, target, allow_private)
        url = httpx.URL(claimed.url)
        body = claimed.body.encode()
        headers = {
            "Host": url.netloc.decode("ascii"),
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(claimed.secret, body),
            "X-Hub-Delivery": str(claimed.id),
            "X-Hub-Delivery-Attempt": str(claimed.attempt),
        }
        # Connect to the address just checked; TLS still verifies the certificate for the
        # name in the URL (httpcore's sni_hostname extension).
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        for n, address in enumerate(addresses, start=1):
            request = client.build_request(
                "POST", url.copy_with(host=address), content=body, headers=headers
            )
            request.extensions.update(extensions)
            try:
                response = await client.send(request, stream=True)
                break
            except httpx.ConnectError:
                if n == len(addresses):
                    raise
        try:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > 65536:
                    break
        finally:
            await response.aclose()
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status} {response.reason_phrase}".strip()
            if response.is_redirect:
                error += f" to {response.headers.get('location', '?')} (redirects are not followed)"
    except targets.TargetRefused as exc:
        error = str(exc)
    except httpx.TimeoutException:
        error = f"no answer within {TIMEOUT:g} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return Outcome(status, error, int((time.monotonic() - started) * 1000))


class DeliveryWorker:
    def __init__(self, queue: DeliveryQueue, settings: Settings) -> None:
        self.queue = queue
        self.settings = settings
        self._inflight: dict[int, Claimed] = {}

    async def run(self) -> None:
        """Until cancelled: claim due deliveries, send them concurrently, record each."""
        client = httpx.AsyncClient(
            timeout=TIMEOUT,
            follow_redirects=False,
            # Proxies from the environment would connect on our behalf, past the address check.
            trust_env=False,
        )
        pruned = 0.0
        try:
            while True:
                try:
                    claimed = await anyio.to_thread.run_sync(self.queue.claim, BATCH)
                    if time.monotonic() - pruned > PRUNE_EVERY:
                        await anyio.to_thread.run_sync(self.queue.prune)
                        pruned = time.monotonic()
                except Exception:  # the database may be restarting: try again later
                    log.exception("could not read the webhook delivery queue")
                    claimed = []
                if claimed:
                    await asyncio.gather(*(self._deliver(client, c) for c in claimed))
                else:
                    await asyncio.sleep(self.settings.webhook_poll_seconds)
        finally:
            await client.aclose()

    async def _deliver(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        self._inflight[claimed.id] = claimed
        try:
            outcome = await send(client, claimed, self.settings.webhook_allow_private)
            await anyio.to_thread.run_sync(self.queue.record, claimed, outcome)
        except Exception:  # its lease expires and it is sent again
            log.exception("could not record webhook delivery %s", claimed.id)
        # Not reached when cancelled (shutdown): then release() gives the claim back.
        self._inflight.pop(claimed.id, None)

    def release(self) -> None:
        """After ``run`` is cancelled: give back what was claimed but not recorded."""
        claims, self._inflight = list(self._inflight.values()), {}
        if claims:
            self.queue.release(claims)
