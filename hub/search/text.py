"""Turning text into search terms, the same way for documents and queries on every backend.

Both sides go through ``tokens``: runs of letters and digits, lower-cased; everything else
(``/ - _ . :``, quotes, brackets, FTS operators) separates. Feeding the databases only these
space-joined runs means neither FTS5's tokenizer nor PostgreSQL's parser ever sees syntax: a
user's ``a AND (`` or ``"`` cannot become a query error, and PostgreSQL cannot swallow
``acme/add-header`` whole as one "file path" lexeme, which it otherwise does.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+")
# A query is at most this many terms; longer ones are cut, which bounds the work per query.
MAX_TERMS = 16
# A one-letter prefix matches nearly every document and cannot narrow anything; the last
# term is a prefix from two letters on (which SQLite's FTS5 prefix index covers, up to four).
MIN_PREFIX = 2
# PostgreSQL refuses a tsvector over 1 MB and positions stop at 16,383; a push must never
# fail on a long README, so only its head is indexed.
MAX_FIELD_CHARS = 64_000


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def normalize(text: str) -> str:
    """The indexed form of a field: its tokens joined by single spaces."""
    return " ".join(tokens(text[:MAX_FIELD_CHARS]))


def phrases(q: str) -> list[list[str]]:
    """A query as phrases: each blank- or slash-separated word of ``q`` becomes the phrase of
    its tokens (``add-header`` -> ``add header``, adjacent and in order), and every phrase must
    match (AND). The last token of the last phrase is matched as a prefix, so results follow
    the user's typing. No tokens at all means browse."""
    found: list[list[str]] = []
    budget = MAX_TERMS
    # "/" separates words like a blank: a full name "ns/name" is two words found in two
    # fields (namespace and name), not one phrase.
    for word in q.replace("/", " ").split():
        terms = tokens(word)[:budget]
        if terms:
            found.append(terms)
            budget -= len(terms)
        if budget <= 0:
            break
    return found


def is_prefix(phrases: list[list[str]]) -> bool:
    """Whether the very last term is matched as a prefix."""
    return bool(phrases) and len(phrases[-1][-1]) >= MIN_PREFIX


def exact_name(q: str) -> str:
    """The form of ``q`` compared with repository names for the exact-match boost. NUL can
    be in no name, and PostgreSQL refuses it in any text parameter."""
    return q.replace("\x00", "").strip().lower()
