"""README rendering: CommonMark (markdown-it-py) with tables and strikethrough, then sanitised
by nh3 (ammonia's allow-list), because READMEs come from whoever pushed the filter. Raw HTML in
the README is allowed through markdown-it and then cut down to the safe subset."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

TAGS = {
    *("a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt"),
    *("em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p"),
    *("pre", "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th"),
    *("thead", "tr", "ul"),
}
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},  # language-xyz from fenced blocks
    "td": {"align", "style"},  # markdown-it aligns columns with style="text-align:..."
    "th": {"align", "style"},
    "ol": {"start"},
}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


@lru_cache(maxsize=256)
def render_markdown(text: str) -> Markup:
    """Sanitised HTML for a README; cached by text, as a page view re-renders the same one."""
    html = _parser().render(text)
    clean = nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    return Markup(clean)
