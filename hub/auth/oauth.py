"""Sign-in with GitHub (OAuth 2.0) and any OpenID Connect provider: the authorization-code
flow with PKCE (RFC 7636, S256), state, and for OIDC a nonce and a verified ID token.

``start`` builds the provider's authorization URL and the flow's secrets (state, nonce, PKCE
verifier), which travel in a short-lived signed cookie (hub.api.signin), not in server memory,
so any replica can finish the flow. ``finish`` checks the callback against them, redeems the
code, and says who signed in as an ``ExternalIdentity`` keyed by (issuer, subject).

authlib builds the URLs and token requests (authlib.oauth2.rfc6749.parameters, rfc7636);
httpx talks to the provider; PyJWT checks the ID token against the provider's JWKS (OpenID
Connect Core 1.0 section 3.1.3.7).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from hub.auth.jwks import json_object, signing_key
from hub.auth.signin import ExternalIdentity
from hub.config import OidcProviderSettings, Settings

DISCOVERY_SECONDS = 3600
HTTP_TIMEOUT = 10.0
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


class SigninFailed(Exception):
    """The provider's answer cannot sign anyone in; the message is for the person."""


class UnknownProvider(SigninFailed):
    pass


@dataclass(frozen=True)
class Started:
    url: str  # where to send the browser
    flow: dict[str, str]  # what the callback must match: keep it in a signed cookie


class OAuthService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._oidc = {p.name: p for p in settings.oidc_providers}
        self._discovery: dict[str, tuple[dict[str, Any], float]] = {}
        self._jwks: dict[str, dict[str, Any]] = {}

    def known(self, name: str) -> bool:
        return name in self._oidc or (name == "github" and bool(self.settings.github_client_id))

    def redirect_uri(self, name: str) -> str:
        return f"{self.settings.base_url}/signin/{name}/callback"

    # -- the provider's documents ----------------------------------------------------------

    async def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                r = await client.get(url, **kwargs)
        except httpx.HTTPError as exc:
            raise SigninFailed(f"could not reach the sign-in provider: {exc}") from None
        return json_object(r, url, "the sign-in provider", SigninFailed)

    async def discovery(self, provider: OidcProviderSettings) -> dict[str, Any]:
        hit = self._discovery.get(provider.name)
        if hit and hit[1] > time.monotonic():
            return hit[0]
        doc = await self._get_json(provider.discovery_url)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(key), str):
                raise SigninFailed(f"the provider's discovery document has no {key}")
        self._discovery[provider.name] = (doc, time.monotonic() + DISCOVERY_SECONDS)
        return doc

    async def _signing_key(self, jwks_uri: str, kid: str | None) -> Any:
        for attempt in range(2):  # refetch once: the provider may have rotated its keys
            if attempt or jwks_uri not in self._jwks:
                self._jwks[jwks_uri] = await self._get_json(jwks_uri)
            key = signing_key(self._jwks[jwks_uri], kid, "the provider's", SigninFailed)
            if key is not None:
                return key
        raise SigninFailed("the ID token is signed with a key the provider does not publish")

    # -- the flow --------------------------------------------------------------------------

    async def start(self, name: str) -> Started:
        state = generate_token(32)
        verifier = generate_token(64)
        challenge = create_s256_code_challenge(verifier)
        flow = {"provider": name, "state": state, "verifier": verifier}
        if name in self._oidc:
            provider = self._oidc[name]
            doc = await self.discovery(provider)
            nonce = generate_token(32)
            flow["nonce"] = nonce
            url = prepare_grant_uri(
                doc["authorization_endpoint"],
                provider.client_id,
                "code",
                redirect_uri=self.redirect_uri(name),
                scope=provider.scope,
                state=state,
                nonce=nonce,
                code_challenge=challenge,
                code_challenge_method="S256",
            )
            return Started(url, flow)
        if self.known(name):  # GitHub (docs.github.com: "Authorizing OAuth apps", PKCE)
            url = prepare_grant_uri(
                f"{self.settings.github_url}/login/oauth/authorize",
                self.settings.github_client_id,
                "code",
                redirect_uri=self.redirect_uri(name),
                scope="read:user user:email",
                state=state,
                code_challenge=challenge,
                code_challenge_method="S256",
                allow_signup="true",
            )
            return Started(url, flow)
        raise UnknownProvider(f"there is no sign-in provider called {name!r}")

    async def finish(
        self, name: str, params: dict[str, str], flow: dict[str, str] | None
    ) -> ExternalIdentity:
        """Who signed in, from the callback's query ``params`` and the flow cookie."""
        if not self.known(name):
            raise UnknownProvider(f"there is no sign-in provider called {name!r}")
        if params.get("error"):
            reason = params.get("error_description") or params["error"]
            raise SigninFailed(f"the provider did not sign you in: {reason}")
        if flow is None or flow.get("provider") != name:
            raise SigninFailed("the sign-in took too long or was not started here; try again")
        # RFC 6749 section 10.12: the state ties the callback to the browser that started it.
        if not params.get("state") or params["state"] != flow.get("state"):
            raise SigninFailed("the sign-in state does not match; start the sign-in again")
        code = params.get("code")
        if not code:
            raise SigninFailed("the provider sent no authorization code")
        if name in self._oidc:
            return await self._finish_oidc(self._oidc[name], params, flow, code)
        return await self._finish_github(flow, code)

    async def _redeem(
        self,
        endpoint: str,
        client_id: str,
        secret: str,
        body: dict[str, str],
        secret_in_body: bool = False,
    ) -> dict[str, Any]:
        # client_secret_basic (RFC 6749 section 2.3.1, the OIDC default); GitHub documents
        # client_id and client_secret as form parameters; a public client sends its id only.
        auth = httpx.BasicAuth(client_id, secret) if secret and not secret_in_body else None
        if auth is None:
            body = {**body, "client_id": client_id}
            if secret:
                body["client_secret"] = secret
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                r = await client.post(
                    endpoint,
                    content=urlencode(body),
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    headers={
                        "Accept": "application/json",
                        "Content-Type": "application/x-www-form-urlencoded",
                    },
                )
        except httpx.HTTPError as exc:
            raise SigninFailed(f"could not reach the sign-in provider: {exc}") from None
        try:
            token = r.json()
        except ValueError:
            token = {}
        if r.status_code != 200 or not isinstance(token, dict) or "error" in token:
            error = token.get("error_description") or token.get("error") if token else None
            raise SigninFailed(f"the provider refused the code: {error or r.status_code}")
        return token

    async def _finish_oidc(
        self,
        provider: OidcProviderSettings,
        params: dict[str, str],
        flow: dict[str, str],
        code: str,
    ) -> ExternalIdentity:
        doc = await self.discovery(provider)
        issuer = doc["issuer"]
        # RFC 9207: when the provider names itself in the callback, it must be this one.
        if "iss" in params and params["iss"] != issuer:
            raise SigninFailed("the callback came from a different provider; try again")
        token = await self._redeem(
            doc["token_endpoint"],
            provider.client_id,
            provider.client_secret,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri(provider.name),
                "code_verifier": flow["verifier"],
            },
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SigninFailed("the provider sent no ID token")
        try:
            header = jwt.get_unverified_header(id_token)
            key = await self._signing_key(doc["jwks_uri"], header.get("kid"))
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=ID_TOKEN_ALGORITHMS,
                audience=provider.client_id,
                issuer=issuer,
                leeway=30,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise SigninFailed(f"the ID token is not valid: {exc}") from None
        if claims.get("nonce") != flow.get("nonce"):
            raise SigninFailed("the ID token's nonce does not match; start the sign-in again")
        subject = str(claims["sub"])
        if not claims.get("preferred_username") and isinstance(doc.get("userinfo_endpoint"), str):
            access = token.get("access_token")
            if isinstance(access, str):
                info = await self._get_json(
                    doc["userinfo_endpoint"], headers={"Authorization": f"Bearer {access}"}
                )
                if str(info.get("sub")) == subject:  # Core 5.3.2: must be the same person
                    claims = {**info, **claims}
        preferred = (
            claims.get("preferred_username")
            or claims.get("nickname")
            or str(claims.get("email") or "").split("@")[0]
            or subject
        )
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        return ExternalIdentity(provider.name, issuer, subject, str(preferred), email)

    async def _finish_github(self, flow: dict[str, str], code: str) -> ExternalIdentity:
        token = await self._redeem(
            f"{self.settings.github_url}/login/oauth/access_token",
            self.settings.github_client_id,
            self.settings.github_client_secret,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri("github"),
                "code_verifier": flow["verifier"],
            },
            secret_in_body=True,
        )
        access = token.get("access_token")
        if not isinstance(access, str):
            raise SigninFailed("GitHub sent no access token")
        user = await self._get_json(
            f"{self.settings.github_api_url}/user",
            headers={
                "Authorization": f"Bearer {access}",
                "Accept": "application/vnd.github+json",
            },
        )
        if not isinstance(user.get("id"), int) or not isinstance(user.get("login"), str):
            raise SigninFailed("GitHub did not say who you are")
        email = user.get("email") if isinstance(user.get("email"), str) else None
        # The numeric id never changes; the login can be renamed.
        return ExternalIdentity(
            "github", self.settings.github_url, str(user["id"]), user["login"], email
        )
