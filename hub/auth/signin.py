"""Signing people in (issue 4): the providers a sign-in page offers, local password checks,
rate limits on attempts, users found or made from an OAuth/OIDC identity, and the audit trail.

The sign-in page (hub/web) shows a button per provider, linking to ``GET /signin/{name}``
(hub.api.signin), and the local form posting to ``POST /signin/local``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.auth.accounts import audit, normalise
from hub.auth.passwords import hash_password, verify_password
from hub.config import Settings
from hub.db.models import IdentityLink, Namespace, SigninAttempt, User, utcnow
from hub.oci.reference import valid_name

WINDOW = timedelta(minutes=1)
# Compared against when the user does not exist, so a wrong username costs the same time as a
# wrong password and does not reveal which accounts exist.
_DUMMY_HASH = hash_password("not a password")


@dataclass(frozen=True)
class Provider:
    """A way to sign in that the sign-in page links to: ``GET /signin/{name}``."""

    name: str
    title: str
    kind: str  # "github" | "oidc"


def providers(settings: Settings) -> list[Provider]:
    """The configured external providers, in settings order (GitHub first when set)."""
    found: list[Provider] = []
    if settings.github_client_id:
        found.append(Provider("github", "GitHub", "github"))
    found.extend(Provider(p.name, p.title, "oidc") for p in settings.oidc_providers)
    return found


@dataclass(frozen=True)
class ExternalIdentity:
    """Who a provider says signed in: (issuer, subject) is the stable key."""

    provider: str
    issuer: str
    subject: str
    preferred_username: str
    email: str | None = None


class SigninService:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.limit = settings.signin_rate_per_minute

    # -- local passwords -------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> User | None:
        """The user, when ``password`` is theirs. Robots and OAuth-only users have none.
        API tokens are not accepted here: a browser session is a password (or provider)
        sign-in."""
        with Session(self.engine) as session:
            user = session.exec(select(User).where(User.username == username)).first()
        usable = user is not None and not user.is_robot and bool(user.password_hash)
        encoded = user.password_hash if usable and user and user.password_hash else _DUMMY_HASH
        if not verify_password(password, encoded) or not usable:
            return None
        return user

    # -- rate limits -----------------------------------------------------------------------

    def retry_after(self, address: str, username: str) -> int | None:
        """Seconds to wait when this address made, or this username failed, ``limit``
        attempts in the last minute; None when the attempt may go ahead."""
        now = utcnow()
        with Session(self.engine) as session:
            for key in (f"addr:{address}", f"user:{username.lower()}"):
                count, oldest = session.execute(
                    select(func.count(), func.min(SigninAttempt.created_at)).where(
                        SigninAttempt.key == key, col(SigninAttempt.created_at) > now - WINDOW
                    )
                ).one()
                if count >= self.limit and oldest is not None:
                    if oldest.tzinfo is None:  # SQLite hands back naive UTC datetimes
                        oldest = oldest.replace(tzinfo=now.tzinfo)
                    return max(1, math.ceil((oldest + WINDOW - now).total_seconds()))
        return None

    def record_attempt(self, address: str, username: str, failed: bool) -> None:
        """Count an attempt against the address and, when it failed, the username."""
        now = utcnow()
        with Session(self.engine) as session:
            session.execute(
                delete(SigninAttempt).where(col(SigninAttempt.created_at) < now - 2 * WINDOW)
            )
            session.add(SigninAttempt(key=f"addr:{address}", created_at=now))
            if failed:
                session.add(SigninAttempt(key=f"user:{username.lower()}", created_at=now))
            session.commit()

    # -- external identities ---------------------------------------------------------------

    def user_for(self, found: ExternalIdentity) -> tuple[User, bool]:
        """The user linked to (issuer, subject), or a new one with a personal namespace named
        after their preferred username (clashes get -2, -3 ...). True when created."""
        with Session(self.engine) as session:
            user = session.exec(
                select(User)
                .join(IdentityLink, col(IdentityLink.user_id) == col(User.id))
                .where(IdentityLink.issuer == found.issuer, IdentityLink.subject == found.subject)
            ).first()
            if user is not None:
                return user, False
        for _ in range(5):  # two first sign-ins racing for one name: the loser takes the next
            try:
                return self._create_linked(found), True
            except IntegrityError:
                with Session(self.engine) as session:
                    user = session.exec(
                        select(User)
                        .join(IdentityLink, col(IdentityLink.user_id) == col(User.id))
                        .where(
                            IdentityLink.issuer == found.issuer,
                            IdentityLink.subject == found.subject,
                        )
                    ).first()
                if user is not None:
                    return user, False
        raise RuntimeError("could not create a user for this sign-in; try again")

    def _create_linked(self, found: ExternalIdentity) -> User:
        base = normalise(found.preferred_username)[:48].strip("._-")
        if not base or not valid_name(base):
            base = normalise(f"{found.provider}-user")
        with Session(self.engine) as session:
            username = base
            n = 1
            while (
                session.exec(select(User.id).where(User.username == username)).first()
                or session.exec(select(Namespace.id).where(Namespace.name == username)).first()
            ):
                n += 1
                username = f"{base}-{n}"
            user = User(username=username, email=found.email)
            session.add(user)
            session.flush()
            assert user.id is not None
            session.add(Namespace(name=username, kind="user", owner_id=user.id))
            session.add(
                IdentityLink(
                    issuer=found.issuer,
                    subject=found.subject,
                    user_id=user.id,
                    provider=found.provider,
                )
            )
            audit(session, username, "user.create", username, username, provider=found.provider)
            session.commit()
            session.refresh(user)
            return user

    # -- the audit trail -------------------------------------------------------------------

    def record(self, user: User | None, username: str, action: str, detail: dict[str, Any]) -> None:
        """A sign-in or sign-out event, filed under the user's personal namespace (also for
        failed attempts on an existing user, so they can see them)."""
        with Session(self.engine) as session:
            if user is None:
                user = session.exec(select(User).where(User.username == username)).first()
            namespace = ""
            if user is not None and user.id is not None:
                ns = session.exec(
                    select(Namespace.name).where(
                        Namespace.owner_id == user.id, Namespace.kind == "user"
                    )
                ).first()
                namespace = ns or ""
            audit(session, username[:64], action, namespace, username[:512], **detail)
            session.commit()
