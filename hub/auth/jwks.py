"""What sign-in (hub.auth.oauth) and trusted publishing (hub.auth.trusted) both do with an
OpenID provider's documents: read a JSON object from its answer and pick the signing key
out of its JWKS. Each caller fetches on its own (one async, one not) and names the other
side ("the sign-in provider", "the token's issuer") and the exception in its own terms."""

from __future__ import annotations

from typing import Any

import httpx
import jwt


def json_object(r: httpx.Response, url: str, who: str, error: type[Exception]) -> dict[str, Any]:
    """The JSON object `who` answered from `url`, or `error` saying what was wrong."""
    if r.status_code != 200:
        raise error(f"{who} answered {r.status_code} for {url}")
    try:
        body = r.json()
    except ValueError:
        raise error(f"{who} sent no JSON from {url}") from None
    if not isinstance(body, dict):
        raise error(f"{who} sent no JSON object from {url}")
    return body


def signing_key(
    jwks: dict[str, Any], kid: str | None, whose: str, error: type[Exception]
) -> Any | None:
    """The key `kid` names in the set (the first one when the token names none), or None
    when the set lacks it; `error` when `whose` JWKS cannot be read at all."""
    try:
        keys = jwt.PyJWKSet.from_dict(jwks).keys
    except jwt.PyJWTError as exc:
        raise error(f"{whose} JWKS is not usable: {exc}") from None
    for key in keys:
        if kid is None or key.key_id == kid:
            return key.key
    return None
