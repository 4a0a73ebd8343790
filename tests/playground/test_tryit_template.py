"""The "Try it" template renders with either context the repository page may give it, and
escapes what it prints. The tab in a real browser is tested with the web pages."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import jinja2

TEMPLATES = Path(__file__).resolve().parents[2] / "hub" / "web" / "templates"


def render(**context: object) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.Undefined
    )
    return env.get_template("_tryit.html").render(**context)


def test_renders_from_repository_and_tags() -> None:
    html = render(repository="acme/auth", tags=["v2", "v1"], ref="v1", csrf_token="tok")
    assert 'data-repository="acme/auth"' in html and 'data-csrf="tok"' in html
    assert '<option value="v2">v2</option>' in html
    assert '<option value="v1" selected>v1</option>' in html
    # A non-empty default: the AssemblyScript SDK traps on an empty configuration.
    assert ">{}</textarea>" in html
    assert '<script src="/static/tryit.js" defer></script>' in html


def test_renders_from_the_repository_pages_context() -> None:
    info = SimpleNamespace(tags=[SimpleNamespace(name="latest")])
    html = render(repo=SimpleNamespace(name="acme/<b>x"), info=info)
    assert 'data-repository="acme/&lt;b&gt;x"' in html
    assert '<option value="latest">latest</option>' in html
    assert "<b>x" not in html


def test_no_tags_no_form() -> None:
    html = render(repository="acme/empty", tags=[])
    assert "No tags yet" in html and "tryit-form" not in html
