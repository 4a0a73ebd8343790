"""One place decides access (issue 4): who is asking (anonymous, a user by password or API
token, or a registry bearer token) and what they may do to a repository.

Rules, in order:
- ``HUB_AUTH=none``: an open registry; everyone may do everything.
- A public repository may be pulled by anyone, anonymous included.
- A user may do everything in their personal namespace; in an organisation, owners may pull,
  push and delete, maintainers pull and push, readers pull. Admins may do everything.
- Nobody but an admin pushes into a namespace that does not exist: personal namespaces are made
  with the user (solo-io/wasm#156: pushing to a missing namespace must not be a surprise).
- An API token narrows that to its scopes (pull / push / admin) and, optionally, one namespace.
- A bearer token grants exactly the access it lists (issued by the same rules).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from hub.auth import api_tokens
from hub.auth.passwords import verify_password
from hub.auth.tokens import Access, InvalidToken, TokenIssuer
from hub.config import Settings
from hub.db.models import ApiToken, Membership, Namespace, Repository, User, utcnow
from hub.oci.errors import Denied, NameUnknown, Unauthorized

CACHE_SECONDS = 60
ALL = frozenset({"pull", "push", "delete"})
ROLE_ACTIONS = {
    "owner": ALL | {"admin"},
    "maintainer": frozenset({"pull", "push"}),
    "reader": frozenset({"pull"}),
}
ROLES = tuple(ROLE_ACTIONS)


@dataclass(frozen=True)
class Identity:
    user_id: int | None = None
    username: str | None = None
    is_admin: bool = False
    # An API token's limits: actions it allows, and the one namespace it is bound to.
    token_actions: frozenset[str] | None = None
    token_namespace: str | None = None
    # A registry bearer token: exactly what it grants ("repository:<name>" -> actions).
    granted: dict[str, set[str]] | None = field(default=None, hash=False, compare=False)
    # ... and when it expires (unix seconds): a token bought with it must not outlive it.
    expires_at: int | None = None

    @property
    def anonymous(self) -> bool:
        return self.username is None


ANONYMOUS = Identity()


def _looks_like_jwt(secret: str) -> bool:
    # A JWS compact serialization: base64url header ("eyJ" is '{"'), payload and signature.
    return secret.startswith("eyJ") and secret.count(".") == 2


def namespace_of(repository: str) -> str:
    return repository.split("/", 1)[0]


class AccessService:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        host = settings.base_url.split("://", 1)[-1].rstrip("/")
        self.service = host
        self.realm = f"{settings.base_url}/auth/token"
        self.issuer = TokenIssuer(engine, settings.base_url, host)
        self._cache: dict[bytes, tuple[Identity, float]] = {}
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return self.settings.auth == "none"

    # -- who is asking ---------------------------------------------------------------------

    def challenge(self, scope: str | None = None, error: str | None = None) -> Unauthorized:
        """401 with the token spec's Bearer challenge (wasme, oras, docker and skopeo all
        follow it to /auth/token; Basic credentials sent directly are accepted as well)."""
        parts = [f'realm="{self.realm}"', f'service="{self.service}"']
        if scope:
            parts.append(f'scope="{scope}"')
        if error:
            parts.append(f'error="{error}"')
        return Unauthorized(
            {"scope": scope} if scope else None,
            "authentication required: sign in with a hub user and an API token or password"
            if error is None
            else "the token does not grant this operation",
            headers={"WWW-Authenticate": "Bearer " + ",".join(parts)},
        )

    def authenticate(self, authorization: str | None) -> Identity:
        """The caller. No credentials: ANONYMOUS. Bad credentials: Unauthorized."""
        if self.open or not authorization:
            return ANONYMOUS
        scheme, _, value = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            identity = self._login_registry_token(value.strip())
            if identity is None:
                raise self.challenge(error="invalid_token")
            return identity
        if scheme == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise self.challenge() from None
            username, sep, secret = decoded.partition(":")
            if not sep:
                raise self.challenge()
            identity = self.login(username, secret)
            if identity is None:
                raise self.challenge()
            return identity
        raise self.challenge()

    def login(self, username: str, secret: str) -> Identity | None:
        """A user by password or API token (docker/oras/skopeo/wasme send either as the
        password); None when neither matches. Verified password logins are remembered briefly,
        keyed by a keyed hash, so scrypt does not run on every request of a push."""
        if "\0" in username or "\0" in secret:
            # No user has a NUL in their name or secret, and PostgreSQL refuses it in a query.
            return None
        cache_key = hmac.new(
            self.settings.secret_key.encode(), f"{username}\0{secret}".encode(), hashlib.sha256
        ).digest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit and hit[1] > now:
            return hit[0]
        if api_tokens.parse_prefix(secret) is not None:
            # Tokens are checked every time (one indexed query, a SHA-256): a revoked token
            # must stop working at once.
            return self._login_token(username, secret)
        if _looks_like_jwt(secret):
            return self._login_registry_token(secret)
        identity = self._login_password(username, secret)
        if identity is not None:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[cache_key] = (identity, now + CACHE_SECONDS)
        return identity

    def _login_token(self, username: str, secret: str) -> Identity | None:
        prefix = api_tokens.parse_prefix(secret)
        if prefix is None:
            return None
        with Session(self.engine) as session:
            rows = session.exec(
                select(ApiToken, User)
                .join(User, col(User.id) == col(ApiToken.user_id))
                .where(col(ApiToken.prefix) == prefix)
            ).all()
            for token, user in rows:
                if not api_tokens.matches(secret, token.secret_hash):
                    continue
                # Any username works with a token, as on Docker Hub and GitHub; the token
                # names its user.
                if not api_tokens.usable(token.expires_at, token.revoked_at, utcnow()):
                    return None
                session.execute(
                    update(ApiToken)
                    .where(col(ApiToken.id) == token.id)
                    .values(last_used_at=utcnow())
                )
                session.commit()
                return Identity(
                    user_id=user.id,
                    username=user.username,
                    is_admin=user.is_admin,
                    token_actions=api_tokens.actions_for(token.scopes),
                    token_namespace=token.namespace,
                )
        return None

    def _login_registry_token(self, secret: str) -> Identity | None:
        """The caller a registry token stands for: sent as a Bearer header, or as the password
        with any username (what `docker login` / `oras login -u __token__ -p $TOKEN` send when
        CI holds a trusted-publishing token, hub.auth.trusted). It grants exactly what the
        token grants, until it expires. None when the token does not verify."""
        try:
            subject, granted, expires_at = self.issuer.verify_expiring(secret)
        except InvalidToken:
            return None
        user = self.user(subject) if subject else None
        return Identity(
            user_id=user.id if user else None,
            username=subject or None,
            is_admin=bool(user and user.is_admin),
            granted=granted,
            expires_at=expires_at,
        )

    def _login_password(self, username: str, secret: str) -> Identity | None:
        user = self.user(username)
        if user is None or user.is_robot or not user.password_hash:
            return None
        if not verify_password(secret, user.password_hash):
            return None
        return Identity(user_id=user.id, username=user.username, is_admin=user.is_admin)

    def user_by_id(self, user_id: int) -> User | None:
        with Session(self.engine) as session:
            return session.get(User, user_id)

    def user(self, username: str) -> User | None:
        with Session(self.engine) as session:
            return session.exec(select(User).where(User.username == username)).first()

    # -- what they may do ------------------------------------------------------------------

    def actions(self, identity: Identity, repository: str) -> frozenset[str]:
        """Everything ``identity`` may do to ``repository`` (which may not exist yet)."""
        if self.open:
            return ALL
        if identity.granted is not None:
            return frozenset(identity.granted.get(f"repository:{repository}", set()))
        with Session(self.engine) as session:
            allowed = set(self._role_actions(session, identity, repository))
        if identity.token_actions is not None:
            allowed &= identity.token_actions
        if identity.token_namespace and namespace_of(repository) != identity.token_namespace:
            allowed &= self._public_pull(repository)
        return frozenset(allowed - {"admin"})

    def _public_pull(self, repository: str) -> frozenset[str]:
        with Session(self.engine) as session:
            repo = session.exec(select(Repository).where(Repository.name == repository)).first()
        return frozenset({"pull"}) if repo is not None and not repo.private else frozenset()

    def _role_actions(
        self, session: Session, identity: Identity, repository: str
    ) -> frozenset[str]:
        repo = session.exec(select(Repository).where(Repository.name == repository)).first()
        allowed: set[str] = set()
        if repo is not None and not repo.private:
            allowed.add("pull")
        if identity.user_id is None:
            return frozenset(allowed)
        if identity.is_admin:
            return ALL | {"admin"}
        own = self.namespace_actions(session, identity, namespace_of(repository))
        return frozenset(allowed | own)

    def namespace_actions(self, session: Session, identity: Identity, name: str) -> frozenset[str]:
        """What a signed-in user may do in a namespace by owning it or by a role in it."""
        ns = session.exec(select(Namespace).where(Namespace.name == name)).first()
        if ns is None or identity.user_id is None:
            return frozenset()
        if identity.is_admin or (ns.kind == "user" and ns.owner_id == identity.user_id):
            return ALL | {"admin"}
        member = session.get(Membership, (ns.id, identity.user_id))
        return ROLE_ACTIONS.get(member.role, frozenset()) if member else frozenset()

    def roles_in(self, identity: Identity, name: str) -> frozenset[str]:
        """namespace_actions() in its own session (the user's own rights, no token limits)."""
        with Session(self.engine) as session:
            return self.namespace_actions(session, identity, name)

    def administers(self, identity: Identity, namespace: str) -> bool:
        """May ``identity`` manage ``namespace`` (members, robots, visibility, audit log,
        publishers, webhooks)? The one owner check; API-token limits apply."""
        return "admin" in self.manages_namespace(identity, namespace)

    def manages_namespace(self, identity: Identity, name: str) -> frozenset[str]:
        """What ``identity`` may do in namespace ``name`` through the JSON API, with an API
        token's limits applied; "admin" in it means managing the namespace (e.g. its webhooks,
        hub.events). Registry bearer tokens are for /v2 only and manage nothing."""
        if self.open:
            return ALL | {"admin"}
        if identity.user_id is None or identity.granted is not None:
            return frozenset()
        with Session(self.engine) as session:
            allowed = set(self.namespace_actions(session, identity, name))
        if identity.token_actions is not None:
            allowed &= identity.token_actions
        if identity.token_namespace and identity.token_namespace != name:
            allowed = set()
        return frozenset(allowed)

    def administered_namespaces(self, identity: Identity) -> list[Namespace]:
        """The namespaces ``identity`` owns: their own and the organisations they own."""
        if identity.user_id is None:
            return []
        with Session(self.engine) as session:
            rows = session.exec(
                select(Namespace)
                .join(
                    Membership,
                    (col(Membership.namespace_id) == col(Namespace.id))
                    & (col(Membership.user_id) == identity.user_id),
                    isouter=True,
                )
                .where(
                    (col(Namespace.owner_id) == identity.user_id)
                    | (col(Membership.role) == "owner")
                )
                .order_by(col(Namespace.kind).desc(), col(Namespace.name))
            ).all()
            return list(rows)

    def authorize(self, identity: Identity, repository: str, action: str) -> None:
        """Raise unless ``identity`` may do ``action``; the error never tells an outsider
        whether a private repository exists."""
        allowed = self.actions(identity, repository)
        if action in allowed:
            return
        scope = f"repository:{repository}:{'pull,push' if action == 'push' else action}"
        if identity.anonymous:
            raise self.challenge(scope)
        if identity.granted is not None:
            raise self.challenge(scope, error="insufficient_scope")
        if "pull" not in allowed:
            hint = (
                f"; pushes go to your own namespace or an organisation you maintain, and "
                f"{namespace_of(repository)!r} is neither"
                if action == "push"
                else ""
            )
            raise NameUnknown({"name": repository}, f"repository {repository!r} is not known{hint}")
        raise Denied({"action": action}, f"you may not {action} {repository}")

    def visible_namespaces(self, identity: Identity) -> set[int] | None:
        """Namespaces whose private repositories ``identity`` may see; None: all of them."""
        if self.open or identity.is_admin:
            return None
        if identity.user_id is None:
            return set()
        with Session(self.engine) as session:
            owned = session.exec(
                select(Namespace.id).where(col(Namespace.owner_id) == identity.user_id)
            ).all()
            member = session.exec(
                select(Membership.namespace_id).where(col(Membership.user_id) == identity.user_id)
            ).all()
        ids = {i for i in [*owned, *member] if i is not None}
        if identity.token_namespace:
            with Session(self.engine) as session:
                ns = session.exec(
                    select(Namespace.id).where(Namespace.name == identity.token_namespace)
                ).first()
            ids &= {ns} if ns is not None else set()
        return ids

    def grant(self, identity: Identity, scopes: list[tuple[str, str, set[str]]]) -> list[Access]:
        """The token endpoint: asked ∩ allowed, per scope; partial access is not an error."""
        granted: list[Access] = []
        for kind, name, wanted in scopes:
            if kind == "repository":
                have = self.actions(identity, name)
                if "*" in wanted:
                    wanted = set(have)
                actions = tuple(sorted(wanted & have))
            elif (
                kind == "registry"
                and name == "catalog"
                and not identity.anonymous
                # a registry token (as a password) grants the catalog only if it says so
                and (identity.granted is None or "registry:catalog" in identity.granted)
            ):
                actions = ("*",)
            else:
                actions = ()
            granted.append(Access(kind, name, actions))
        return granted
