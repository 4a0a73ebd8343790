"""Jinja2 through starlette's templating: one environment for the process, the filters the
pages share (sizes, relative times, short digests) and the context every page gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from hub.web.markdown import render_markdown

TEMPLATES = Path(__file__).resolve().parent / "templates"
# DESIGN.md: static/ is a top-level folder of the project, served at /static.
STATIC = Path(__file__).resolve().parents[2] / "static"


def filesize(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover - the loop returns


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def isotime(value: datetime | None) -> str:
    return "" if value is None else aware(value).isoformat().replace("+00:00", "Z")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - aware(value)).total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("year", 31_536_000), ("month", 2_592_000), ("day", 86_400)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"  # pragma: no cover - the loop returns


def compact(value: int | None) -> str:
    """1234 -> 1.2k, as counts show on cards."""
    n = int(value or 0)
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1_000_000:.1f}M".replace(".0M", "M")


def shortdigest(value: str | None) -> str:
    if not value:
        return ""
    algorithm, _, hex_ = value.partition(":")
    return f"{algorithm}:{hex_[:12]}" if hex_ else value[:12]


def query(params: dict[str, Any], **changes: Any) -> str:
    """The query string of ``params`` with ``changes`` applied (None drops a key)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        # Templates ship with the code: no per-render stat() of every file.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        filesize=filesize,
        ago=ago,
        isotime=isotime,
        compact=compact,
        shortdigest=shortdigest,
        markdown=render_markdown,
    )
    env.globals["qs"] = query
    return env


templates = Jinja2Templates(env=_environment())


def template_exists(name: str) -> bool:
    return (TEMPLATES / name).is_file()


def registry_host(base_url: str) -> str:
    """host[:port] of HUB_BASE_URL, as image references (oras pull HOST/...) start."""
    return urlsplit(base_url).netloc or base_url


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    # Pages differ per viewer (private repositories, the signed-in header): never cache them
    # in shared caches.
    response.headers["Cache-Control"] = "private, no-cache"
    return response
