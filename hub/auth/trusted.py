"""Trusted publishing (issue 4), as on PyPI: a CI job proves who it is with its OIDC token
(GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_URL``, GitLab's ``id_tokens``, ...) and gets a
short-lived registry token that may push one repository, with no long-lived secret in CI.

Repository (or namespace) owners add rules: issuer, audience, and claims that must be equal,
e.g. GitHub Actions ``{"repository": "acme/filter", "workflow_ref":
"acme/filter/.github/workflows/release.yml@refs/heads/main"}``. The issuer must be one the
operator allows (HUB_TRUSTED_ISSUERS). The token's signature is checked against the JWKS named
by the issuer's discovery document (``<issuer>/.well-known/openid-configuration``).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.auth.accounts import audit
from hub.auth.jwks import json_object, signing_key
from hub.auth.tokens import Access, TokenIssuer
from hub.config import Settings
from hub.db.models import TrustedPublisher, UsedCiToken, utcnow
from hub.oci.reference import valid_name

TOKEN_SECONDS = 900  # long enough for a push, short enough not to matter if it leaks
DISCOVERY_SECONDS = 3600
HTTP_TIMEOUT = 10.0
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
MAX_RULES = 20


class TrustError(ValueError):
    """A rule that cannot be added, or a CI token that buys nothing; the message says why."""


class Refused(TrustError):
    """The CI token is not accepted (unknown issuer, bad signature, expired, no rule)."""


@dataclass(frozen=True)
class Exchanged:
    token: str
    repository: str
    expires_in: int
    publisher_id: int


def rule_json(rule: TrustedPublisher) -> dict[str, Any]:
    return {
        "id": rule.id,
        "repository": rule.repository,
        "issuer": rule.issuer,
        "audience": rule.audience,
        "claims": json.loads(rule.claims),
        "created_by": rule.created_by,
    }


class TrustedPublishing:
    def __init__(self, engine: Engine, settings: Settings, issuer: TokenIssuer) -> None:
        self.engine = engine
        self.allowed = frozenset(settings.trusted_issuers)
        self.issuer = issuer
        self._discovery: dict[str, tuple[str, float]] = {}  # issuer -> (jwks_uri, until)
        self._jwks: dict[str, dict[str, Any]] = {}

    # -- rules -----------------------------------------------------------------------------

    def rules(self, repository: str) -> list[TrustedPublisher]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(TrustedPublisher)
                    .where(TrustedPublisher.repository == repository)
                    .order_by(col(TrustedPublisher.id))
                )
            )

    def add(
        self, repository: str, issuer: str, audience: str, claims: Any, actor: str | None
    ) -> TrustedPublisher:
        issuer = issuer.rstrip("/")
        if not valid_name(repository):
            raise TrustError(f"{repository!r} is not a repository name")
        if issuer not in self.allowed:
            allowed = ", ".join(sorted(self.allowed)) or "none configured"
            raise TrustError(
                f"issuer {issuer!r} is not trusted by this hub (HUB_TRUSTED_ISSUERS: {allowed})"
            )
        if not audience or len(audience) > 255:
            raise TrustError("audience is required (at most 255 characters)")
        if (
            not isinstance(claims, dict)
            or not claims
            or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in claims.items())
        ):
            # Without claims, every job of every project at that issuer could push here.
            raise TrustError(
                'claims must be a non-empty object of strings, e.g. {"repository": '
                '"acme/filter", "workflow_ref": "acme/filter/.github/workflows/release.yml@'
                'refs/heads/main"}'
            )
        if any(k in ("iss", "aud", "exp", "iat", "nbf") for k in claims):
            raise TrustError("iss, aud and the time claims are checked already; leave them out")
        with Session(self.engine) as session:
            existing = session.exec(
                select(TrustedPublisher).where(TrustedPublisher.repository == repository)
            ).all()
            if len(existing) >= MAX_RULES:
                raise TrustError(f"a repository has at most {MAX_RULES} trusted publishers")
            rule = TrustedPublisher(
                repository=repository,
                issuer=issuer,
                audience=audience,
                claims=json.dumps(claims, sort_keys=True),
                created_by=actor or "",
            )
            session.add(rule)
            audit(
                session,
                actor,
                "trusted-publisher.add",
                repository.split("/", 1)[0],
                repository,
                issuer=issuer,
                claims=claims,
            )
            session.commit()
            session.refresh(rule)
            return rule

    def remove(self, repository: str, rule_id: int, actor: str | None) -> bool:
        with Session(self.engine) as session:
            rule = session.get(TrustedPublisher, rule_id)
            if rule is None or rule.repository != repository:
                return False
            session.delete(rule)
            audit(
                session,
                actor,
                "trusted-publisher.remove",
                repository.split("/", 1)[0],
                repository,
                id=rule_id,
            )
            session.commit()
            return True

    # -- the exchange ----------------------------------------------------------------------

    def exchange(self, ci_token: str, repository: str | None = None) -> Exchanged:
        """A registry token pushing the one repository a rule matching ``ci_token`` names."""
        try:
            unverified = jwt.decode(ci_token, options={"verify_signature": False})
            header = jwt.get_unverified_header(ci_token)
        except jwt.PyJWTError:
            raise Refused("the token is not a JWT") from None
        issuer = str(unverified.get("iss") or "").rstrip("/")
        if issuer not in self.allowed:
            raise Refused(f"tokens from issuer {issuer!r} are not trusted by this hub")
        key = self._key(issuer, header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                ci_token,
                key,
                algorithms=ALGORITHMS,
                issuer=str(unverified.get("iss")),
                leeway=30,
                options={"verify_aud": False, "require": ["iss", "exp", "iat", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Refused("the token has expired; request a fresh one from the CI") from None
        except jwt.PyJWTError as exc:
            raise Refused(f"the token is not valid: {exc}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        with Session(self.engine) as session:
            candidates = session.exec(
                select(TrustedPublisher).where(TrustedPublisher.issuer == issuer)
            ).all()
        matched = [
            rule
            for rule in candidates
            if rule.audience in audiences
            and all(str(claims.get(k)) == v for k, v in json.loads(rule.claims).items())
            and (repository is None or rule.repository == repository)
        ]
        if not matched:
            raise Refused(
                "no trusted publisher matches this token's audience and claims"
                + (f" for {repository!r}" if repository else "")
            )
        if len({r.repository for r in matched}) > 1:
            names = ", ".join(sorted({r.repository for r in matched}))
            raise TrustError(f"this token may publish several repositories ({names}); name one")
        rule = matched[0]
        assert rule.id is not None
        subject = f"trusted-publisher:{rule.id}"
        with Session(self.engine) as session:
            self._spend(session, issuer, claims)
            audit(
                session,
                subject,
                "trusted-publisher.exchange",
                rule.repository.split("/", 1)[0],
                rule.repository,
                issuer=issuer,
                subject=str(claims.get("sub") or ""),
            )
            try:
                session.commit()
            except IntegrityError:  # exchanged at the same moment elsewhere
                raise Refused("this token was already exchanged; request a fresh one") from None
        token = self.issuer.issue(
            subject,
            [Access("repository", rule.repository, ("pull", "push"))],
            seconds=TOKEN_SECONDS,
        )
        return Exchanged(token, rule.repository, TOKEN_SECONDS, rule.id)

    def _spend(self, session: Session, issuer: str, claims: dict[str, Any]) -> None:
        """Each CI token buys one registry token: its jti is remembered until it expires."""
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise Refused("the token has no jti claim, so it could be replayed; refused")
        key = hashlib.sha256(f"{issuer}\0{jti}".encode()).hexdigest()
        now = utcnow()
        session.execute(delete(UsedCiToken).where(col(UsedCiToken.expires_at) < now))
        if session.get(UsedCiToken, key) is not None:
            raise Refused("this token was already exchanged; request a fresh one")
        expires = datetime.fromtimestamp(int(claims["exp"]) + 60, UTC)
        session.add(UsedCiToken(key=key, expires_at=expires))

    # -- the issuer's keys -----------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            r = httpx.get(url, timeout=HTTP_TIMEOUT)
        except httpx.HTTPError as exc:
            raise Refused(f"could not reach the token's issuer: {exc}") from None
        return json_object(r, url, "the token's issuer", Refused)

    def _jwks_uri(self, issuer: str) -> str:
        hit = self._discovery.get(issuer)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        doc = self._get_json(f"{issuer}/.well-known/openid-configuration")
        if str(doc.get("issuer", "")).rstrip("/") != issuer or not isinstance(
            doc.get("jwks_uri"), str
        ):
            raise Refused("the issuer's discovery document does not name it or its keys")
        self._discovery[issuer] = (doc["jwks_uri"], time.monotonic() + DISCOVERY_SECONDS)
        return str(doc["jwks_uri"])

    def _key(self, issuer: str, kid: str | None) -> Any:
        uri = self._jwks_uri(issuer)
        for attempt in range(2):  # refetch once: the issuer may have rotated its keys
            if attempt or uri not in self._jwks:
                self._jwks[uri] = self._get_json(uri)
            key = signing_key(self._jwks[uri], kid, "the issuer's", Refused)
            if key is not None:
                return key
        raise Refused("the token is signed with a key its issuer does not publish")
