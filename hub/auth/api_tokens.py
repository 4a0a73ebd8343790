"""Personal and robot API tokens: ``whub_<prefix>_<secret>``. The prefix finds the row; only a
SHA-256 of the whole token is stored (tokens carry 256 bits of randomness, so a slow password
hash would add nothing but latency to every request)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

SCOPES = ("pull", "push", "admin")
# What each token scope lets through (a push needs to read too; admin may also delete).
SCOPE_ACTIONS = {
    "pull": frozenset({"pull"}),
    "push": frozenset({"pull", "push"}),
    "admin": frozenset({"pull", "push", "delete", "admin"}),
}
PREFIX = "whub_"


@dataclass(frozen=True)
class NewToken:
    plaintext: str
    prefix: str
    secret_hash: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate() -> NewToken:
    prefix = secrets.token_hex(4)
    plaintext = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return NewToken(plaintext, prefix, digest(plaintext))


def parse_prefix(token: str) -> str | None:
    """The lookup prefix of something shaped like one of our tokens, else None."""
    if not token.startswith(PREFIX):
        return None
    prefix, sep, _ = token[len(PREFIX) :].partition("_")
    return prefix if sep and len(prefix) == 8 else None


def matches(token: str, secret_hash: str) -> bool:
    return hmac.compare_digest(digest(token), secret_hash)


def actions_for(scopes: str) -> frozenset[str]:
    allowed: set[str] = set()
    for scope in scopes.split(","):
        allowed |= SCOPE_ACTIONS.get(scope.strip(), frozenset())
    return frozenset(allowed)


def usable(expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    if revoked_at is not None:
        return False
    if expires_at is None:
        return True
    if expires_at.tzinfo is None:  # SQLite returns naive datetimes; they were stored as UTC
        expires_at = expires_at.replace(tzinfo=now.tzinfo)
    return expires_at > now
