"""Users, their personal namespaces, organisations, memberships, API tokens and the audit log.
Used by the CLI and the JSON API alike."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.auth import api_tokens
from hub.auth.access import ROLES
from hub.auth.passwords import hash_password
from hub.db.models import ApiToken, AuditEvent, Membership, Namespace, User, utcnow
from hub.oci.reference import valid_name


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message says why."""


class Conflict(AccountError):
    """The name is taken."""


class Missing(AccountError):
    """No such user, organisation, member or token."""


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


def normalise(name: str) -> str:
    """A username or organisation name as an OCI namespace component (lower-case; runs of
    other characters become single dashes), e.g. "Jane.Doe" -> "jane.doe", "Ann_ B" -> "ann-b"."""
    lowered = re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower())
    lowered = re.sub(r"[._-]*([._-])[._-]*", r"\1", lowered).strip("._-")
    return lowered


def audit(
    session: Session,
    actor: str | None,
    action: str,
    namespace: str = "",
    target: str = "",
    **detail: Any,
) -> None:
    session.add(
        AuditEvent(
            actor=actor or "",
            action=action,
            namespace=namespace,
            target=target,
            detail=json.dumps(detail),
        )
    )


class AccountService:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _free_namespace(self, session: Session, wanted: str, exact: bool) -> str:
        base = normalise(wanted)
        if not base or not valid_name(base):
            raise AccountError(f"{wanted!r} cannot be made a namespace name")
        candidate, n = base, 1
        while session.exec(select(Namespace).where(Namespace.name == candidate)).first():
            if exact:
                raise Conflict(f"the namespace {candidate!r} is taken")
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def create_user(
        self,
        username: str,
        password: str | None = None,
        email: str | None = None,
        admin: bool = False,
        exact: bool = True,
        robot: bool = False,
    ) -> User:
        """A user and their personal namespace (named after them; with ``exact=False`` a
        clash gets a numbered suffix, as on first OAuth sign-in)."""
        with Session(self.engine) as session:
            if session.exec(select(User).where(User.username == username)).first():
                raise Conflict(f"user {username!r} already exists")
            user = User(
                username=username,
                email=email,
                is_admin=admin,
                is_robot=robot,
                password_hash=hash_password(password) if password else None,
            )
            session.add(user)
            session.flush()
            if not robot:
                ns = self._free_namespace(session, username, exact)
                session.add(Namespace(name=ns, kind="user", owner_id=user.id))
            audit(session, username, "user.create", target=username, admin=admin)
            try:
                session.commit()
            except IntegrityError:
                raise Conflict(f"user {username!r} already exists") from None
            session.refresh(user)
            return user

    def user(self, username: str) -> User:
        with Session(self.engine) as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                raise Missing(f"no user {username!r}")
            return user

    def create_org(self, name: str, owner: str) -> Namespace:
        with Session(self.engine) as session:
            user = session.exec(select(User).where(User.username == owner)).first()
            if user is None:
                raise Missing(f"no user {owner!r}")
            ns = Namespace(name=self._free_namespace(session, name, exact=True), kind="org")
            session.add(ns)
            session.flush()
            assert ns.id is not None and user.id is not None
            session.add(Membership(namespace_id=ns.id, user_id=user.id, role="owner"))
            audit(session, owner, "org.create", ns.name, ns.name)
            session.commit()
            session.refresh(ns)
            return ns

    def _org(self, session: Session, name: str) -> Namespace:
        ns = session.exec(select(Namespace).where(Namespace.name == name)).first()
        if ns is None or ns.kind != "org":
            raise Missing(f"no organisation {name!r}")
        return ns

    def set_member(self, org: str, username: str, role: str | None, actor: str | None) -> None:
        """Give ``username`` a role in ``org``; role None removes them."""
        if role is not None and role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        with Session(self.engine) as session:
            ns = self._org(session, org)
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None:
                raise Missing(f"no user {username!r}")
            member = session.get(Membership, (ns.id, user.id))
            if role is None:
                if member is None:
                    raise Missing(f"{username!r} is not a member of {org!r}")
                session.delete(member)
            elif member is None:
                assert ns.id is not None and user.id is not None
                session.add(Membership(namespace_id=ns.id, user_id=user.id, role=role))
            else:
                member.role = role
                session.add(member)
            audit(session, actor, "role.change", org, username, role=role)
            session.commit()

    def members(self, org: str) -> list[tuple[str, str]]:
        with Session(self.engine) as session:
            ns = self._org(session, org)
            rows = session.exec(
                select(User.username, Membership.role)
                .join(Membership, col(Membership.user_id) == col(User.id))
                .where(Membership.namespace_id == ns.id)
                .order_by(col(User.username))
            ).all()
            return [(u, r) for u, r in rows]

    def create_robot(self, org: str, name: str, scopes: str, actor: str | None) -> CreatedToken:
        """An organisation's robot: a user without a password, a maintainer (or reader) of the
        org, and one token."""
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        if not wanted or any(s not in api_tokens.SCOPES for s in wanted):
            # Checked before the robot user exists: a refused request leaves nothing behind.
            raise AccountError(f"scopes must be some of {', '.join(api_tokens.SCOPES)}")
        username = f"{org}+{normalise(name)}"
        role = "maintainer" if "push" in scopes or "admin" in scopes else "reader"
        self.create_user(username, robot=True)
        self.set_member(org, username, role, actor)
        return self.create_token(username, f"robot {name}", scopes, org, None, actor)

    def create_token(
        self,
        username: str,
        name: str,
        scopes: str,
        namespace: str | None,
        expires_in: timedelta | None,
        actor: str | None,
    ) -> CreatedToken:
        wanted = [s.strip() for s in scopes.split(",") if s.strip()]
        if not wanted or any(s not in api_tokens.SCOPES for s in wanted):
            raise AccountError(f"scopes must be some of {', '.join(api_tokens.SCOPES)}")
        new = api_tokens.generate()
        with Session(self.engine) as session:
            user = session.exec(select(User).where(User.username == username)).first()
            if user is None or user.id is None:
                raise Missing(f"no user {username!r}")
            token = ApiToken(
                user_id=user.id,
                name=name[:128],
                prefix=new.prefix,
                secret_hash=new.secret_hash,
                scopes=",".join(wanted),
                namespace=namespace,
                expires_at=utcnow() + expires_in if expires_in else None,
            )
            session.add(token)
            audit(
                session,
                actor or username,
                "token.create",
                namespace or "",
                name,
                user=username,
                scopes=wanted,
            )
            session.commit()
            session.refresh(token)
            return CreatedToken(token, new.plaintext)

    def tokens(self, username: str) -> list[ApiToken]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(ApiToken)
                    .join(User, col(User.id) == col(ApiToken.user_id))
                    .where(User.username == username)
                    .order_by(col(ApiToken.id))
                )
            )

    def revoke_token(self, username: str, token_id: int, actor: str | None) -> None:
        with Session(self.engine) as session:
            token = session.exec(
                select(ApiToken)
                .join(User, col(User.id) == col(ApiToken.user_id))
                .where(User.username == username, ApiToken.id == token_id)
            ).first()
            if token is None:
                raise Missing(f"no token {token_id} for {username!r}")
            token.revoked_at = utcnow()
            session.add(token)
            audit(session, actor or username, "token.revoke", token.namespace or "", token.name)
            session.commit()

    def audit_log(self, namespace: str, limit: int = 200) -> list[AuditEvent]:
        with Session(self.engine) as session:
            return list(
                session.exec(
                    select(AuditEvent)
                    .where(AuditEvent.namespace == namespace)
                    .order_by(col(AuditEvent.id).desc())
                    .limit(limit)
                )
            )

    def record(
        self, actor: str | None, action: str, namespace: str, target: str, **detail: Any
    ) -> None:
        with Session(self.engine) as session:
            audit(session, actor, action, namespace, target, **detail)
            session.commit()


def expiry(days: int | None) -> timedelta | None:
    return timedelta(days=days) if days else None
