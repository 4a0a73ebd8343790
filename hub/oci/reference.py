"""Repository names and tags (distribution-spec spec.md, "Pulling manifests")."""

from __future__ import annotations

import re

# <name>: path components of [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* joined by "/".
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
# Docker's limit on a whole repository name; longer names break clients' reference parsing.
MAX_NAME_LENGTH = 255


def valid_name(name: str) -> bool:
    return len(name) <= MAX_NAME_LENGTH and NAME_RE.match(name) is not None


def valid_tag(tag: str) -> bool:
    return TAG_RE.match(tag) is not None
