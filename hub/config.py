"""Settings, read once from the environment (``HUB_*``); no I/O at import time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

AUTH_MODES = ("required", "none")
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is wrong; the message names the setting and the valid choices."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


@dataclass(frozen=True)
class OidcProviderSettings:
    """One OpenID Connect provider for browser sign-in (HUB_OIDC_<NAME>_*)."""

    name: str
    discovery_url: str
    client_id: str
    client_secret: str = field(default="", repr=False)
    scope: str = "openid profile email"
    title: str = ""


def _oidc_providers(env: Mapping[str, str]) -> tuple[OidcProviderSettings, ...]:
    found: list[OidcProviderSettings] = []
    for raw in env.get("HUB_OIDC_PROVIDERS", "").split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if not name.replace("-", "").isalnum() or name in ("local", "github"):
            raise ConfigError(
                f"HUB_OIDC_PROVIDERS: {name!r} is not a usable provider name (letters, digits "
                "and dashes; 'local' and 'github' are taken)"
            )
        prefix = f"HUB_OIDC_{name.upper().replace('-', '_')}_"
        for required in ("DISCOVERY_URL", "CLIENT_ID"):
            if not env.get(prefix + required):
                raise ConfigError(f"{prefix}{required} must be set for OIDC provider {name!r}")
        found.append(
            OidcProviderSettings(
                name=name,
                discovery_url=env[prefix + "DISCOVERY_URL"],
                client_id=env[prefix + "CLIENT_ID"],
                client_secret=env.get(prefix + "CLIENT_SECRET", ""),
                scope=env.get(prefix + "SCOPE") or "openid profile email",
                title=env.get(prefix + "TITLE") or name.title(),
            )
        )
    return tuple(found)


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///./data/hub.db"
    storage_url: str = "file://./data/blobs"
    s3_endpoint_url: str | None = None
    s3_redirect: bool = False
    s3_region: str = "us-east-1"
    base_url: str = "http://127.0.0.1:5000"
    # Signs browser sessions and keys credential caches. Empty: a random secret made on first
    # start and kept in the database (hub.auth.sessions.resolve_secret), shared by replicas.
    secret_key: str = field(default="", repr=False)
    auth: str = "required"
    max_manifest_bytes: int = 4 * 1024 * 1024
    # Uploads untouched this long are abandoned; `wasm-hub gc` removes them.
    upload_ttl_seconds: int = 24 * 3600
    # How often batched pull counts are written (hub.artifacts.pulls).
    pull_flush_seconds: float = 5.0
    # Sign-in (hub.auth.sessions, hub.auth.signin): browser session lifetime, sign-in attempts
    # allowed per minute per client address and per username.
    session_max_age_seconds: int = 14 * 24 * 3600
    signin_rate_per_minute: int = 10
    oidc_providers: tuple[OidcProviderSettings, ...] = ()
    github_client_id: str = ""
    github_client_secret: str = field(default="", repr=False)
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"
    # Trusted publishing (hub.auth.trusted): CI OIDC issuers whose tokens may be exchanged.
    trusted_issuers: tuple[str, ...] = ()
    # Webhooks (hub.events): loopback, link-local and private targets are refused unless
    # allowed, so the hub cannot be made to probe its own network (SSRF).
    webhook_allow_private: bool = False
    webhook_max_attempts: int = 8  # attempts per delivery before it is marked failed
    webhook_retry_seconds: float = 10.0  # first retry delay; doubles per attempt
    webhook_poll_seconds: float = 1.0  # how often each replica looks for due deliveries
    # Filter playground (hub.playground): sandbox processes per hub process, the limits of
    # one run, runs per caller per minute, and whether pushes get a load check.
    playground_workers: int = 2
    playground_cpu_ms: int = 100
    playground_memory_mb: int = 64
    playground_timeout_seconds: float = 5.0
    playground_rate_per_minute: int = 30
    playground_load_check: bool = True
    # Operations (hub.observability): log line format; a request body that stalls this long,
    # or averages under the minimum rate once it has taken this long, is refused with 408.
    log_format: str = "text"
    body_timeout_seconds: float = 60.0
    body_min_bytes_per_second: float = 1024.0
    # Largest request header section (hub.http_limits); 431 past it.
    max_header_bytes: int = 64 * 1024
    # Reliability (hub.artifacts.gc, hub.limits): README "Operations: garbage collection,
    # fsck, limits".
    gc_interval_seconds: float = 0.0  # 0: no scheduled gc; run `wasm-hub gc`
    gc_grace_seconds: float = 3600.0
    max_blob_bytes: int = 1024**3  # 0: no limit
    rate_limit_address: int = 0  # requests per window per client address; 0: off
    rate_limit_token: int = 0  # requests per window per credential; 0: off
    rate_limit_window_seconds: int = 60
    redis_url: str | None = None
    redis_prefix: str = "wasm-hub:"  # keys of this hub in a shared Redis

    def __post_init__(self) -> None:
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"HUB_LOG_FORMAT={self.log_format!r} is not valid; choose one of {LOG_FORMATS}"
            )
        if self.max_header_bytes < 4096:
            raise ConfigError("HUB_MAX_HEADER_BYTES must be at least 4096")
        if self.body_timeout_seconds <= 0:
            raise ConfigError("HUB_BODY_TIMEOUT_SECONDS must be a positive number of seconds")
        if self.webhook_max_attempts < 1 or self.webhook_poll_seconds <= 0:
            raise ConfigError(
                "HUB_WEBHOOK_MAX_ATTEMPTS must be at least 1 and HUB_WEBHOOK_POLL_SECONDS positive"
            )
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"HUB_AUTH={self.auth!r} is not valid; choose one of {AUTH_MODES}")
        if self.rate_limit_window_seconds < 1:
            raise ConfigError("HUB_RATE_LIMIT_WINDOW_SECONDS must be at least 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        kwargs: dict[str, object] = {}
        plain = {
            "HUB_DATABASE_URL": "database_url",
            "HUB_STORAGE_URL": "storage_url",
            "HUB_S3_ENDPOINT_URL": "s3_endpoint_url",
            "HUB_S3_REGION": "s3_region",
            "HUB_BASE_URL": "base_url",
            "HUB_SECRET_KEY": "secret_key",
            "HUB_AUTH": "auth",
            "HUB_GITHUB_CLIENT_ID": "github_client_id",
            "HUB_GITHUB_CLIENT_SECRET": "github_client_secret",
            "HUB_GITHUB_URL": "github_url",
            "HUB_GITHUB_API_URL": "github_api_url",
            "HUB_LOG_FORMAT": "log_format",
        }
        for var, attr in plain.items():
            if env.get(var):
                kwargs[attr] = env[var]
        if "HUB_S3_REDIRECT" in env:
            kwargs["s3_redirect"] = _bool("HUB_S3_REDIRECT", env["HUB_S3_REDIRECT"])
        if env.get("HUB_MAX_MANIFEST_BYTES"):
            kwargs["max_manifest_bytes"] = int(env["HUB_MAX_MANIFEST_BYTES"])
        if env.get("HUB_PULL_FLUSH_SECONDS"):
            kwargs["pull_flush_seconds"] = float(env["HUB_PULL_FLUSH_SECONDS"])
        if env.get("HUB_SESSION_MAX_AGE_SECONDS"):
            kwargs["session_max_age_seconds"] = int(env["HUB_SESSION_MAX_AGE_SECONDS"])
        if env.get("HUB_SIGNIN_RATE_PER_MINUTE"):
            kwargs["signin_rate_per_minute"] = int(env["HUB_SIGNIN_RATE_PER_MINUTE"])
        kwargs["oidc_providers"] = _oidc_providers(env)
        issuers = env.get("HUB_TRUSTED_ISSUERS", "")
        kwargs["trusted_issuers"] = tuple(
            i.strip().rstrip("/") for i in issuers.split(",") if i.strip()
        )
        for url in ("github_url", "github_api_url"):
            if url in kwargs:
                kwargs[url] = str(kwargs[url]).rstrip("/")
        if "HUB_WEBHOOK_ALLOW_PRIVATE" in env:
            kwargs["webhook_allow_private"] = _bool(
                "HUB_WEBHOOK_ALLOW_PRIVATE", env["HUB_WEBHOOK_ALLOW_PRIVATE"]
            )
        for var, attr, kind in (
            ("HUB_WEBHOOK_MAX_ATTEMPTS", "webhook_max_attempts", int),
            ("HUB_WEBHOOK_RETRY_SECONDS", "webhook_retry_seconds", float),
            ("HUB_WEBHOOK_POLL_SECONDS", "webhook_poll_seconds", float),
        ):
            if env.get(var):
                try:
                    kwargs[attr] = kind(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not a number") from None
        kwargs.update(_playground(env))
        for var, attr in (
            ("HUB_BODY_TIMEOUT_SECONDS", "body_timeout_seconds"),
            ("HUB_BODY_MIN_BYTES_PER_SECOND", "body_min_bytes_per_second"),
        ):
            if env.get(var):
                try:
                    kwargs[attr] = float(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not a number") from None
        if env.get("HUB_MAX_HEADER_BYTES"):
            try:
                kwargs["max_header_bytes"] = int(env["HUB_MAX_HEADER_BYTES"])
            except ValueError:
                raise ConfigError("HUB_MAX_HEADER_BYTES must be a number of bytes") from None
        numbers: dict[str, tuple[str, type[int] | type[float]]] = {
            "HUB_GC_INTERVAL_SECONDS": ("gc_interval_seconds", float),
            "HUB_GC_GRACE_SECONDS": ("gc_grace_seconds", float),
            "HUB_MAX_BLOB_BYTES": ("max_blob_bytes", int),
            "HUB_RATE_LIMIT_ADDRESS": ("rate_limit_address", int),
            "HUB_RATE_LIMIT_TOKEN": ("rate_limit_token", int),
            "HUB_RATE_LIMIT_WINDOW_SECONDS": ("rate_limit_window_seconds", int),
        }
        for var, (attr, convert) in numbers.items():
            if env.get(var):
                try:
                    value = convert(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not a {convert.__name__}") from None
                if value < 0:
                    raise ConfigError(f"{var}={env[var]!r} must not be negative")
                kwargs[attr] = value
        if env.get("HUB_REDIS_URL"):
            kwargs["redis_url"] = env["HUB_REDIS_URL"]
        if env.get("HUB_REDIS_PREFIX"):
            kwargs["redis_prefix"] = env["HUB_REDIS_PREFIX"]
        if "base_url" in kwargs:
            kwargs["base_url"] = str(kwargs["base_url"]).rstrip("/")
        return cls(**kwargs)  # type: ignore[arg-type]


def _playground(env: Mapping[str, str]) -> dict[str, object]:
    """HUB_PLAYGROUND_* settings (hub.playground); each must be a positive number."""
    found: dict[str, object] = {}
    numbers: dict[str, tuple[str, type]] = {
        "HUB_PLAYGROUND_WORKERS": ("playground_workers", int),
        "HUB_PLAYGROUND_CPU_MS": ("playground_cpu_ms", int),
        "HUB_PLAYGROUND_MEMORY_MB": ("playground_memory_mb", int),
        "HUB_PLAYGROUND_TIMEOUT": ("playground_timeout_seconds", float),
        "HUB_PLAYGROUND_RATE": ("playground_rate_per_minute", int),
    }
    for var, (attr, kind) in numbers.items():
        raw = env.get(var)
        if not raw:
            continue
        try:
            value = kind(raw)
        except ValueError:
            value = 0
        if value <= 0:
            raise ConfigError(f"{var}={raw!r} is not valid; give a positive {kind.__name__}")
        found[attr] = value
    if "HUB_PLAYGROUND_LOAD_CHECK" in env:
        found["playground_load_check"] = _bool(
            "HUB_PLAYGROUND_LOAD_CHECK", env["HUB_PLAYGROUND_LOAD_CHECK"]
        )
    return found
