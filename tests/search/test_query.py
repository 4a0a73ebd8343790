"""The parts of search with no database: query validation, tokenizing, the backend map."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from hub.config import ConfigError
from hub.search import BACKENDS, InvalidQuery, SearchQuery, open_search, text
from hub.search.postgres import tsquery
from hub.search.sqlite import fts_query


@pytest.mark.parametrize(
    "options, parameter",
    [
        ({"sort": "downloads"}, "sort"),
        ({"page": 0}, "page"),
        ({"page": 10_001}, "page"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"q": "x" * 257}, "q"),
        ({"abi": "a" * 256}, "abi"),
        ({"toolchain": "rustc\x00"}, "toolchain"),
        ({"loads": "true"}, "loads"),
        ({"loads": "YES"}, "loads"),
    ],
)
def test_out_of_range_queries_are_refused(options: dict[str, object], parameter: str) -> None:
    with pytest.raises(InvalidQuery) as raised:
        SearchQuery(**options)  # type: ignore[arg-type]
    assert raised.value.parameter == parameter


def test_defaults() -> None:
    query = SearchQuery()
    assert (query.q, query.sort, query.page, query.per_page, query.offset) == (
        "",
        "relevance",
        1,
        20,
        0,
    )
    assert query.visible_namespaces == frozenset()  # anonymous: public repositories only
    assert SearchQuery(page=3, per_page=7).offset == 14


def test_phrases() -> None:
    assert text.phrases("Add-Header  envoy") == [["add", "header"], ["envoy"]]
    assert text.phrases("acme/add-header") == [["acme"], ["add", "header"]]
    assert text.phrases('a AND ( "x" NEAR(y) -z *') == [
        ["a"],
        ["and"],
        ["x"],
        ["near", "y"],
        ["z"],
    ]
    assert text.phrases("( * \" ' - )") == []
    assert text.phrases("foo_bar v1.2") == [["foo", "bar"], ["v1", "2"]]
    assert sum(len(p) for p in text.phrases("w " * 100)) == text.MAX_TERMS


def test_the_last_word_is_a_prefix_from_two_letters() -> None:
    assert text.is_prefix([["add", "he"]])
    assert not text.is_prefix([["add", "h"]])
    assert not text.is_prefix([])
    assert fts_query([["rate"], ["add", "hea"]]) == '"rate" "add hea"*'
    assert fts_query([["x"]]) == '"x"'
    assert tsquery([["rate"], ["add", "hea"]]) == "'rate' & 'add' <-> 'hea':*"
    assert tsquery([["x"]]) == "'x'"


def test_documents_and_queries_tokenize_alike() -> None:
    assert (
        text.normalize("acme/Add-Header: v1.2 (café) 日本語") == "acme add header v1 2 café 日本語"
    )
    assert text.normalize("x" * (text.MAX_FIELD_CHARS + 10)) == "x" * text.MAX_FIELD_CHARS
    assert text.exact_name("  ACME/Thing\x00 ") == "acme/thing"


def test_backends_follow_the_database_and_fail_loudly_otherwise() -> None:
    assert set(BACKENDS) == {"sqlite", "postgresql"}
    engine = create_engine("sqlite://")
    engine.dialect.name = "mysql"
    with pytest.raises(ConfigError, match="'mysql'.*sqlite, postgresql"):
        open_search(engine)
