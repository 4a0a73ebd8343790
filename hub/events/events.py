"""The events a hub emits, as CloudEvents 1.0 in structured mode (the JSON event format,
cloudevents/spec json-format.md), and their HMAC-SHA256 signatures. Pure: no I/O.

A delivery is an HTTP POST with ``Content-Type: application/cloudevents+json`` whose body is

    {"specversion": "1.0", "id": "<uuid>", "type": "io.wasmhub.artifact.pushed",
     "source": "<HUB_BASE_URL>/v2/<repository>", "subject": "<repository>:<tag>",
     "time": "<RFC 3339>", "datacontenttype": "application/json",
     "data": {"repository", "namespace", "tag", "tags", "digest", "mediaType", "actor"}}

and ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the exact body, keyed with the webhook's
secret>`` (GitHub's header, so the usual verification code works). The id is the same on every
retry: receivers deduplicate by (source, id) as the CloudEvents spec intends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.artifacts.changes import DELETED, PUSHED, TAGGED, ManifestEvent

PREFIX = "io.wasmhub."
ARTIFACT_TYPES = {
    PUSHED: "io.wasmhub.artifact.pushed",
    TAGGED: "io.wasmhub.artifact.tagged",
    DELETED: "io.wasmhub.artifact.deleted",
}
TEST_TYPE = "io.wasmhub.webhook.test"
# What a webhook may subscribe to (the test event is always sent when asked for).
SUBSCRIBABLE = tuple(ARTIFACT_TYPES.values())
CONTENT_TYPE = "application/cloudevents+json"
SIGNATURE_HEADER = "X-Hub-Signature-256"


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    body: str  # the serialized CloudEvent


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def cloud_event(
    type_: str, source: str, subject: str | None, data: dict[str, Any], event_id: str = ""
) -> Event:
    event_id = event_id or str(uuid.uuid4())
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "type": type_,
        "source": source,
        "time": _now(),
        "datacontenttype": "application/json",
        "data": data,
    }
    if subject:
        envelope["subject"] = subject
    return Event(event_id, type_, json.dumps(envelope, separators=(",", ":"), sort_keys=True))


def artifact_event(change: ManifestEvent, base_url: str) -> Event:
    subject = (
        f"{change.repository}:{change.tag}"
        if change.tag
        else f"{change.repository}@{change.digest}"
    )
    data = {
        "repository": change.repository,
        "namespace": change.repository.split("/", 1)[0],
        "tag": change.tag,
        "tags": list(change.tags),
        "digest": change.digest,
        "mediaType": change.media_type,
        "actor": change.actor,
    }
    return cloud_event(
        ARTIFACT_TYPES[change.kind], f"{base_url}/v2/{change.repository}", subject, data
    )


def ping_event(base_url: str, namespace: str, webhook_id: int, actor: str | None) -> Event:
    data = {"namespace": namespace, "webhook": webhook_id, "actor": actor}
    source = f"{base_url}/api/v1/namespaces/{namespace}/webhooks/{webhook_id}"
    return cloud_event(TEST_TYPE, source, None, data)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_types(raw: object) -> list[str]:
    """A subscription list from the API: full types or their short names (pushed, tagged,
    deleted); empty or missing means every artifact event. Raises ValueError naming the
    choices."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ValueError("events must be a list of event types")
    found: list[str] = []
    for item in raw:
        full = ARTIFACT_TYPES.get(item, item)
        if full not in SUBSCRIBABLE:
            raise ValueError(
                f"unknown event type {item!r}; choose from {', '.join(SUBSCRIBABLE)} "
                f"(or their short names {', '.join(ARTIFACT_TYPES)})"
            )
        if full not in found:
            found.append(full)
    return found
