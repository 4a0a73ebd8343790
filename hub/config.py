"""Settings, read once from the environment (``HUB_*``); no I/O at import time."""

from __future__ import annotations

import os
import secrets
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
class Settings:
    database_url: str = "sqlite:///./data/hub.db"
    storage_url: str = "file://./data/blobs"
    s3_endpoint_url: str | None = None
    s3_redirect: bool = False
    s3_region: str = "us-east-1"
    base_url: str = "http://127.0.0.1:5000"
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    auth: str = "required"
    max_manifest_bytes: int = 4 * 1024 * 1024
    # Uploads untouched this long are abandoned; `wasm-hub gc` removes them.
    upload_ttl_seconds: int = 24 * 3600
    # How often batched pull counts are written (hub.artifacts.pulls).
    pull_flush_seconds: float = 5.0
    # Operations (hub.observability): log line format; a request body that stalls this long,
    # or averages under the minimum rate once it has taken this long, is refused with 408.
    log_format: str = "text"
    body_timeout_seconds: float = 60.0
    body_min_bytes_per_second: float = 1024.0
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
        if self.body_timeout_seconds <= 0:
            raise ConfigError("HUB_BODY_TIMEOUT_SECONDS must be a positive number of seconds")
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
        for var, attr in (
            ("HUB_BODY_TIMEOUT_SECONDS", "body_timeout_seconds"),
            ("HUB_BODY_MIN_BYTES_PER_SECOND", "body_min_bytes_per_second"),
        ):
            if env.get(var):
                try:
                    kwargs[attr] = float(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not a number") from None
        numbers: dict[str, tuple[str, type]] = {
            "HUB_GC_INTERVAL_SECONDS": ("gc_interval_seconds", float),
            "HUB_GC_GRACE_SECONDS": ("gc_grace_seconds", float),
            "HUB_MAX_BLOB_BYTES": ("max_blob_bytes", int),
            "HUB_RATE_LIMIT_ADDRESS": ("rate_limit_address", int),
            "HUB_RATE_LIMIT_TOKEN": ("rate_limit_token", int),
            "HUB_RATE_LIMIT_WINDOW_SECONDS": ("rate_limit_window_seconds", int),
        }
        for var, (attr, kind) in numbers.items():
            if env.get(var):
                try:
                    value = kind(env[var])
                except ValueError:
                    raise ConfigError(f"{var}={env[var]!r} is not a {kind.__name__}") from None
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
