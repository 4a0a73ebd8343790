"""Rendering without a server: README sanitising, the template filters, and the tag page's
"Loads in a proxy-wasm 0.2.x host" line (the playground adds ``load_check`` to module facts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from hub.web.markdown import render_markdown
from hub.web.templating import ago, compact, filesize, query, shortdigest, templates


def test_readme_is_sanitised() -> None:
    html = str(
        render_markdown(
            "# Title\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
            '<img src="x" onerror="alert(1)"> <a href="https://example.com">ok</a>\n\n'
            "| a | b |\n|---|--:|\n| 1 | 2 |\n"
        )
    )
    assert "<h1>Title</h1>" in html
    assert "<script" not in html and "onerror" not in html and 'href="javascript' not in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert '<td style="text-align:right">2</td>' in html


def test_filters() -> None:
    assert filesize(512) == "512 B" and filesize(16975) == "16.6 KiB"
    assert filesize(5 * 1024**3) == "5.0 GiB"
    now = datetime(2026, 11, 26, tzinfo=UTC)
    assert ago(now - timedelta(seconds=5), now) == "just now"
    assert ago(now - timedelta(minutes=1), now) == "1 minute ago"
    assert ago((now - timedelta(days=3)).replace(tzinfo=None), now) == "3 days ago"
    assert compact(999) == "999" and compact(1200) == "1.2k" and compact(3_000_000) == "3M"
    assert shortdigest("sha256:" + "ab" * 32) == "sha256:abababababab"
    assert query({"q": "x", "abi": None}, page=2) == "q=x&page=2"


def tag_context(facts: dict[str, Any] | None) -> dict[str, Any]:
    now = datetime.now(UTC)
    repo = SimpleNamespace(name="acme/f", private=False)
    tag = SimpleNamespace(
        name="v1", digest="sha256:" + "0" * 64, media_type="m", size=10, pushed_at=now, pulls=7
    )
    return {
        "repo": repo,
        "namespace": "acme",
        "ns_kind": "org",
        "tag": tag,
        "facts": facts,
        "load_check": (facts or {}).get("load_check"),
        "descriptors": [],
        "manifest_json": "{}",
        "referrers": [],
        "pulls": [],
        "digest_pull": "h/acme/f@sha256:0",
        "hub_host": "h",
        "viewer": None,
        "q": "",
    }


FACTS = {
    "variant": "cncf",
    "abi_versions": ["v0.2.0"],
    "root_ids": [],
    "runtime_type": "",
    "toolchain": "Rust 1.78",
    "size": 100,
    "sha256": "0" * 64,
    "exports": [],
    "imports": [],
}


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        ({"ok": True, "reason": "ran proxy_on_vm_start"}, "Loads in a proxy-wasm 0.2.x host: yes"),
        ({"ok": False, "reason": "imports env.missing"}, "Loads in a proxy-wasm 0.2.x host: no"),
        (None, None),
    ],
)
def test_load_check_line(check: dict[str, Any] | None, expected: str | None) -> None:
    facts = {**FACTS, **({"load_check": check} if check else {})}
    html = templates.env.get_template("tag.html").render(tag_context(facts))
    if expected is None:
        assert "Loads in a proxy-wasm" not in html
    else:
        assert expected in html and check is not None and check["reason"] in html


def test_tag_page_shows_the_tags_own_pulls() -> None:
    html = templates.env.get_template("tag.html").render(tag_context(FACTS))
    assert "<dt>Pulls</dt><dd>7</dd>" in html
