"""Authentication for the registry API.

``HUB_AUTH=none`` is an open registry. ``required`` (the default) asks for HTTP Basic
credentials of a user made with ``wasm-hub user create``; wasme and oras both answer a Basic
challenge (FORMATS.md section 2). Verified credentials are remembered briefly, keyed by a
keyed hash, so scrypt does not run on every request of a push.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.auth.passwords import verify_password
from hub.config import Settings
from hub.db.models import User
from hub.oci.errors import Unauthorized

CACHE_SECONDS = 60


@dataclass(frozen=True)
class Identity:
    username: str | None  # None: anonymous on an open registry


class AccessService:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._cache: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.settings.auth == "none"

    def challenge(self) -> Unauthorized:
        return Unauthorized(
            None,
            "authentication required: sign in with a hub user's name and password",
            headers={"WWW-Authenticate": 'Basic realm="wasm-hub"'},
        )

    def authenticate(self, authorization: str | None) -> Identity:
        """Raise Unauthorized (with the challenge) unless the credentials are good."""
        if self.open:
            return Identity(None)
        if not authorization or not authorization.lower().startswith("basic "):
            raise self.challenge()
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise self.challenge() from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise self.challenge()
        cache_key = hmac.new(
            self.settings.secret_key.encode(), decoded.encode(), hashlib.sha256
        ).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit and hit[1] > now:
            return Identity(hit[0])
        with Session(self.engine) as session:
            user = session.exec(select(User).where(User.username == username)).first()
        hashed = user.password_hash if user else None
        if user is None or not hashed or not verify_password(password, hashed):
            raise self.challenge()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (user.username, now + CACHE_SECONDS)
        return Identity(user.username)

    def user(self, username: str) -> User | None:
        with Session(self.engine) as session:
            return session.exec(select(User).where(User.username == username)).first()
