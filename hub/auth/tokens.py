"""Registry bearer tokens (distribution docs/spec/auth/token.md, jwt.md): ES256 JWTs signed
with a key made on first start and kept in the database, so every replica signs and verifies
with the same key. The JWKS is published for anyone who wants to verify them."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.db.models import SigningKey

TOKEN_SECONDS = 300  # the spec asks for at least 60
REFRESH_SECONDS = 30 * 24 * 3600


class InvalidToken(Exception):
    """The bearer token is not one this hub issued, or it expired."""


@dataclass(frozen=True)
class Access:
    type: str
    name: str
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def _kid(public: ec.EllipticCurvePublicKey) -> str:
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b32encode(hashlib.sha256(der).digest()[:15]).decode().rstrip("=")


class TokenIssuer:
    def __init__(self, engine: Engine, issuer: str, service: str) -> None:
        self.engine = engine
        self.issuer = issuer
        self.service = service
        self._key, self.kid = self._load_or_create()
        self.public_key = self._key.public_key()

    def _load_or_create(self) -> tuple[ec.EllipticCurvePrivateKey, str]:
        with Session(self.engine) as session:
            row = session.exec(select(SigningKey).order_by(col(SigningKey.created_at))).first()
            if row is None:
                key = ec.generate_private_key(ec.SECP256R1())
                pem = key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode()
                try:
                    session.add(SigningKey(kid=_kid(key.public_key()), private_pem=pem))
                    session.commit()
                except IntegrityError:  # another replica made it first: use that one
                    session.rollback()
                row = session.exec(select(SigningKey).order_by(col(SigningKey.created_at))).first()
            assert row is not None
            loaded = serialization.load_pem_private_key(row.private_pem.encode(), None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            return loaded, row.kid

    def issue(self, subject: str, access: list[Access], seconds: int = TOKEN_SECONDS) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + seconds,
            "nbf": now - 5,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
            "access": [a.to_json() for a in access],
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def issue_refresh(self, subject: str) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": f"{self.service}/refresh",
            "exp": now + REFRESH_SECONDS,
            "iat": now,
            "jti": secrets.token_urlsafe(16),
        }
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def _decode(self, token: str, audience: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                audience=audience,
                issuer=self.issuer,
                leeway=10,
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return claims

    def verify(self, token: str) -> tuple[str, dict[str, set[str]]]:
        """(subject, {repository name: actions}) of a registry token."""
        subject, granted, _ = self.verify_expiring(token)
        return subject, granted

    def verify_expiring(self, token: str) -> tuple[str, dict[str, set[str]], int]:
        """verify(), plus the token's expiry (unix seconds)."""
        claims = self._decode(token, self.service)
        granted: dict[str, set[str]] = {}
        for item in claims.get("access") or []:
            if isinstance(item, dict):
                key = f"{item.get('type')}:{item.get('name')}"
                granted.setdefault(key, set()).update(item.get("actions") or [])
        return str(claims.get("sub") or ""), granted, int(claims.get("exp") or 0)

    def verify_refresh(self, token: str) -> str:
        return str(self._decode(token, f"{self.service}/refresh").get("sub") or "")

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.public_key))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        return {"keys": [jwk]}
