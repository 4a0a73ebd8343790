"""What a manifest push or delete changed, handed to ``ManifestService``'s ``on_event`` hooks
inside the transaction that makes the change (hub.events queues webhook deliveries there, so
an event is queued exactly when its change commits)."""

from __future__ import annotations

from dataclasses import dataclass

PUSHED = "pushed"  # a manifest new to the repository was stored (by tag or by digest)
TAGGED = "tagged"  # a tag was created or moved onto a manifest the repository already had
DELETED = "deleted"  # a manifest (with every tag on it) or a single tag was deleted


@dataclass(frozen=True)
class ManifestEvent:
    kind: str  # PUSHED | TAGGED | DELETED
    repository: str
    repository_id: int
    digest: str
    media_type: str | None
    tag: str | None = None  # the tag pushed, moved or deleted
    tags: tuple[str, ...] = ()  # a digest delete: the tags that went with the manifest
    actor: str | None = None  # who did it; None when anonymous (HUB_AUTH=none)
