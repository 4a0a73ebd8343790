"""The Search contract, run against SQLite FTS5 and PostgreSQL full text alike."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update
from sqlmodel import Session, col, select

from hub.db.models import Namespace, Repository
from tests.search.conftest import Catalog, Module

LOREM = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "


def test_exact_name_ranks_first_even_when_others_mention_the_term_more(catalog: Catalog) -> None:
    catalog.add("acme/ratelimit", description="Local limits")
    catalog.add(
        "big/ratelimit-plus",
        description="ratelimit with ratelimit extras",
        keywords="ratelimit,quota",
        readme="ratelimit " * 50,
        stars=5000,
        pulls=10_000_000,
    )
    catalog.add("other/quota", keywords="ratelimit", readme="ratelimit " * 80, pulls=1_000_000)

    result = catalog.query("ratelimit")
    assert [h.repository for h in result.results][0] == "acme/ratelimit"
    assert result.results[0].exact
    assert not any(h.exact for h in result.results[1:])
    assert result.total == 3
    # The full name counts too, whatever the case and surrounding blanks.
    assert catalog.names("  ACME/RateLimit ")[0] == "acme/ratelimit"
    assert catalog.names("big/ratelimit-plus")[0] == "big/ratelimit-plus"


def test_description_keyword_and_readme_hits_are_found(catalog: Catalog) -> None:
    catalog.add("acme/a", description="Injects a correlation header into requests")
    catalog.add("acme/b", keywords="observability,correlation")
    catalog.add("acme/c", readme=LOREM + "how correlation ids flow " + LOREM)
    catalog.add("acme/d", description="unrelated")

    assert sorted(catalog.names("correlation")) == ["acme/a", "acme/b", "acme/c"]
    assert catalog.names("observability") == ["acme/b"]
    assert catalog.names("flow") == ["acme/c"]
    assert catalog.names("acme", per_page=10) == ["acme/a", "acme/b", "acme/c", "acme/d"]


def test_field_order_name_keywords_description_readme(catalog: Catalog) -> None:
    # Same popularity everywhere: only where the word occurs decides.
    catalog.add("acme/readme-only", readme=("jwt " * 40) + LOREM)
    catalog.add("acme/in-description", description="Validates a jwt")
    catalog.add("acme/in-keywords", keywords="auth,jwt")
    catalog.add("acme/jwt-auth", description="tokens")

    assert catalog.names("jwt") == [
        "acme/jwt-auth",
        "acme/in-keywords",
        "acme/in-description",
        "acme/readme-only",
    ]
    scores = [h.score for h in catalog.query("jwt").results]
    assert scores == sorted(scores, reverse=True)


def test_multi_word_queries_need_every_word_and_rank_by_field(catalog: Catalog) -> None:
    catalog.add("acme/header-filter", keywords="envoy")
    catalog.add("acme/other", description="a header", readme="envoy " * 30)
    catalog.add("acme/third", description="a header")

    assert catalog.names("header envoy") == ["acme/header-filter", "acme/other"]


def test_popularity_orders_equally_relevant_results(catalog: Catalog) -> None:
    catalog.add("acme/cache-a", keywords="cache", pulls=10)
    catalog.add("acme/cache-b", keywords="cache", pulls=50_000)
    catalog.add("acme/cache-c", keywords="cache", stars=300)
    assert catalog.names("cache") == ["acme/cache-c", "acme/cache-b", "acme/cache-a"]


@pytest.mark.parametrize("q", ["add-hea", "add-he", "add-header", "ADD-HEADER", "add hea", "add"])
def test_prefix_of_the_last_word_matches(catalog: Catalog, q: str) -> None:
    catalog.add("acme/add-header", description="Adds a response header")
    catalog.add("acme/addition", description="nothing to see")
    assert catalog.names(q)[0] == "acme/add-header"


def test_phrases_keep_their_words_together(catalog: Catalog) -> None:
    catalog.add("acme/add-header")
    catalog.add("acme/header-add")
    assert catalog.names("add-header") == ["acme/add-header"]
    assert sorted(catalog.names("add header")) == ["acme/add-header", "acme/header-add"]


def test_a_one_letter_last_word_is_a_word_not_a_prefix(catalog: Catalog) -> None:
    catalog.add("acme/x", description="x marks the spot")
    catalog.add("acme/xylophone")
    assert catalog.names("x") == ["acme/x"]


HOSTILE = [
    "a AND (",
    '"',
    '""',
    "*",
    "NEAR",
    "NEAR(a b)",
    "-x",
    "a OR b",
    "NOT a",
    "name:foo",
    "{name}: foo",
    "^foo",
    "foo)",
    "'",
    "'; DROP TABLE repositories; --",
    "\\",
    "%",
    "_",
    "a & b | !c <-> d:*",
    "ünïcödé",
    "日本語",
    "🙂",
    "\x00",
    "x" * 256,
    "a " * 100,
]


@pytest.mark.parametrize("q", HOSTILE)
def test_no_query_text_is_an_error(catalog: Catalog, q: str) -> None:
    catalog.add("acme/near-cache", description="NEAR the edge; foo bar")
    catalog.add("intl/日本語-filter", description="Größe café ünïcödé 日本語")
    result = catalog.query(q)
    assert result.total >= 0
    for sort in ("stars", "pulls", "updated"):
        catalog.query(q, sort=sort)


def test_operators_are_plain_words(catalog: Catalog) -> None:
    catalog.add("acme/near-cache", description="NEAR the edge; foo bar")
    catalog.add("intl/unicode", description="Größe café ünïcödé 日本語")
    assert catalog.names("NEAR") == ["acme/near-cache"]
    assert catalog.names('"foo bar"') == ["acme/near-cache"]
    assert catalog.names("café") == ["intl/unicode"]
    assert catalog.names("ÜNÏCÖDÉ") == ["intl/unicode"]
    assert catalog.names("日本語") == ["intl/unicode"]
    assert catalog.names("foo AND (") == []  # "and" is a word here, and nowhere in the text
    assert catalog.names("*") == ["acme/near-cache", "intl/unicode"]  # no words: browse


FACETED = [
    ("acme/a", (Module("v1", "compat", "proxy_abi_version_0_2_1,v0-4689a3", "rustc 1.78.0"),)),
    ("acme/b", (Module("v1", "wasme-oci", "proxy_abi_version_0_2_1", "tinygo 0.30.0"),)),
    ("acme/c", (Module("v1", "compat", "v0-4689a3", "tinygo 0.30.0"),)),
    ("solo/d", (Module("v1", "compat", "proxy_abi_version_0_2_1", "rustc 1.78.0"),)),
    ("solo/e", ()),
]


def seed_faceted(catalog: Catalog) -> None:
    for name, modules in FACETED:
        catalog.add(name, keywords="filter", modules=modules)


def test_facets_count_the_whole_match_set(catalog: Catalog) -> None:
    seed_faceted(catalog)
    result = catalog.query("filter", per_page=1)
    assert result.total == 5
    assert len(result.results) == 1
    assert result.facets == {
        "abi": {"proxy_abi_version_0_2_1": 3, "v0-4689a3": 2},
        "variant": {"compat": 3, "wasme-oci": 1},
        "namespace": {"acme": 3, "solo": 2},
        "toolchain": {"rustc 1.78.0": 2, "tinygo 0.30.0": 2},
        "loads": {},  # none of these modules was load-checked
    }
    assert catalog.query().facets == result.facets  # browsing counts the same catalog


def test_filters_combine_with_and(catalog: Catalog) -> None:
    seed_faceted(catalog)
    # abi matches any one of a module's ABI versions
    assert catalog.names(abi="v0-4689a3") == ["acme/a", "acme/c"]
    assert catalog.names(abi="proxy_abi_version_0_2_1", variant="compat") == ["acme/a", "solo/d"]
    assert catalog.names(abi="proxy_abi_version_0_2_1", variant="compat", namespace="solo") == [
        "solo/d"
    ]
    assert catalog.names(toolchain="tinygo 0.30.0", variant="compat") == ["acme/c"]
    assert catalog.names(namespace="solo") == ["solo/d", "solo/e"]
    assert catalog.names(variant="cncf") == []
    assert catalog.names("filter", namespace="nobody") == []

    filtered = catalog.query("filter", variant="compat")
    assert filtered.total == 3
    assert filtered.facets["variant"] == {"compat": 3}
    assert filtered.facets["namespace"] == {"acme": 2, "solo": 1}
    assert filtered.facets["abi"] == {"proxy_abi_version_0_2_1": 2, "v0-4689a3": 2}


def test_loads_filters_and_counts_the_load_check(catalog: Catalog) -> None:
    # The load check at push (WasmModule.facts["load_check"]["ok"]) of the latest tag only.
    catalog.add("acme/loads", keywords="filter", modules=(Module("v1", loads=True),))
    catalog.add("acme/broken", keywords="filter", modules=(Module("v1", loads=False),))
    catalog.add("acme/busy", keywords="filter", modules=(Module("v1", loads=None),))
    catalog.add("acme/old", keywords="filter", modules=(Module("v1"),))  # before the check
    catalog.add(
        "acme/fixed",
        keywords="filter",
        modules=(Module("v1", loads=False, pushed=1), Module("v2", loads=True, pushed=2)),
    )
    catalog.add(
        "solo/indexed", keywords="other", modules=(Module("v1", loads=True, index_manifest=True),)
    )
    catalog.add("solo/bare", keywords="filter")

    assert catalog.names(loads="yes") == ["acme/fixed", "acme/loads", "solo/indexed"]
    assert catalog.names(loads="no") == ["acme/broken"]
    assert catalog.names("filter", loads="yes") == ["acme/fixed", "acme/loads"]
    assert catalog.names(loads="yes", namespace="solo") == ["solo/indexed"]
    assert catalog.names(loads="no", namespace="solo") == []

    # Unchecked (null) and module-less repositories count under neither value.
    assert catalog.query(per_page=1).facets["loads"] == {"yes": 3, "no": 1}
    assert catalog.query("filter").facets["loads"] == {"yes": 2, "no": 1}
    narrowed = catalog.query(loads="no")
    assert narrowed.total == 1 and narrowed.facets["loads"] == {"no": 1}
    assert narrowed.facets["namespace"] == {"acme": 1}

    hits = {h.repository: h.loads for h in catalog.query(per_page=10).results}
    assert hits == {
        "acme/loads": True,
        "acme/broken": False,
        "acme/busy": None,
        "acme/old": None,
        "acme/fixed": True,
        "solo/indexed": True,
        "solo/bare": None,
    }


def test_results_carry_the_latest_tags_facts(catalog: Catalog) -> None:
    catalog.add(
        "acme/moved",
        description="d",
        keywords="a, b",
        stars=3,
        pulls=7,
        modules=(
            Module("v1", "wasme-oci", "proxy_abi_version_0_1_0", "tinygo 0.30.0", pushed=1),
            Module("v2", "compat", "proxy_abi_version_0_2_1,v0-abc", "rustc 1.82.0", pushed=2),
        ),
    )
    catalog.add("acme/indexed", modules=(Module("latest", "cncf", index_manifest=True),))
    catalog.add("acme/bare")

    hits = {h.repository: h for h in catalog.query(per_page=10).results}
    moved = hits["acme/moved"]
    assert (moved.namespace, moved.description, moved.keywords) == ("acme", "d", ["a", "b"])
    assert (moved.stars, moved.pulls) == (3, 7)
    assert moved.latest_tag == "v2"
    assert moved.variant == "compat"
    assert moved.abi_versions == ["proxy_abi_version_0_2_1", "v0-abc"]
    assert moved.toolchain == "rustc 1.82.0"
    assert moved.updated_at.tzinfo is not None
    assert catalog.names(variant="wasme-oci") == []  # v1's facts are not the latest
    assert hits["acme/indexed"].variant == "cncf"  # from the image index's child
    bare = hits["acme/bare"]
    assert (bare.latest_tag, bare.variant, bare.abi_versions, bare.toolchain) == (
        None,
        None,
        [],
        None,
    )


def test_sort_orders(catalog: Catalog) -> None:
    catalog.add("acme/a", keywords="x", stars=1, pulls=300, updated=3)
    catalog.add("acme/b", keywords="x", stars=30, pulls=1, updated=1)
    catalog.add("acme/c", keywords="x", stars=2, pulls=20, updated=9)
    assert catalog.names("x", sort="stars") == ["acme/b", "acme/c", "acme/a"]
    assert catalog.names("x", sort="pulls") == ["acme/a", "acme/c", "acme/b"]
    assert catalog.names("x", sort="updated") == ["acme/c", "acme/a", "acme/b"]
    assert catalog.names(sort="stars") == ["acme/b", "acme/c", "acme/a"]
    # relevance without q: popularity, 1 + 0.1 ln(1 + pulls) + 0.2 ln(1 + stars)
    assert catalog.names() == ["acme/b", "acme/a", "acme/c"]


def test_pages_partition_the_results(catalog: Catalog) -> None:
    for i in range(23):
        catalog.add(f"acme/item-{i:02d}", description="paged", pulls=i)
    pages = [catalog.query("paged", page=p, per_page=10) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [23, 23, 23, 23]
    assert [len(p.results) for p in pages] == [10, 10, 3, 0]
    names = [h.repository for p in pages for h in p.results]
    assert names == [f"acme/item-{i:02d}" for i in range(22, -1, -1)]
    assert pages[3].facets == pages[0].facets


def test_private_repositories_only_for_those_who_may_see_them(catalog: Catalog) -> None:
    catalog.add("acme/open", keywords="auth")
    closed = catalog.add("acme/closed", keywords="auth", private=True)
    catalog.add("secret/closed", keywords="auth", private=True)
    assert catalog.names("auth") == ["acme/open"]
    assert catalog.names(namespace="secret") == []
    assert catalog.query().facets["namespace"] == {"acme": 1}
    assert catalog.query().total == 1
    # As AccessService.visible_namespaces answers: ids of namespaces, or None for everything.
    with Session(catalog.engine) as session:
        secret = session.exec(select(Namespace.id).where(Namespace.name == "secret")).one()
    assert catalog.names("auth", visible_namespaces=frozenset({secret})) == [
        "acme/open",
        "secret/closed",
    ]
    everything = catalog.query("auth", visible_namespaces=None).results
    assert {h.repository: h.private for h in everything} == {
        "acme/open": False,
        "acme/closed": True,
        "secret/closed": True,
    }
    # Visibility is copied when indexed: changing it is a change to re-index.
    with Session(catalog.engine) as session:
        session.execute(
            update(Repository).where(col(Repository.id) == closed).values(private=False)
        )
        catalog.search.index(session, closed)
        session.commit()
    assert catalog.names("auth") == ["acme/closed", "acme/open"]
    assert not any(h.private for h in catalog.query("auth").results)


def test_popularity_changes_need_no_reindex(catalog: Catalog) -> None:
    catalog.add("acme/a", keywords="x", pulls=5)
    catalog.add("acme/b", keywords="x", pulls=10)
    assert catalog.names("x", sort="pulls") == ["acme/b", "acme/a"]
    # What the batched pull counter does: an additive UPDATE, no index() call.
    with Session(catalog.engine) as session:
        session.execute(
            update(Repository)
            .where(col(Repository.name) == "acme/a")
            .values(pulls=col(Repository.pulls) + 100, stars=4)
        )
        session.commit()
    assert catalog.names("x", sort="pulls") == ["acme/a", "acme/b"]
    hit = catalog.query("x", sort="pulls").results[0]
    assert (hit.pulls, hit.stars) == (105, 4)


def test_reindex_replaces_the_document(catalog: Catalog) -> None:
    repo_id = catalog.add("acme/thing", description="old words")
    with Session(catalog.engine) as session:
        repo = session.get(Repository, repo_id)
        assert repo is not None
        repo.description = "new words"
        session.add(repo)
        catalog.search.index(session, repo_id)  # flushes the pending change itself
        session.commit()
    assert catalog.names("old") == []
    assert catalog.names("new") == ["acme/thing"]
    assert catalog.query("words").total == 1


def test_removed_repository_disappears(catalog: Catalog) -> None:
    keep = catalog.add("acme/keep", keywords="gone")
    drop = catalog.add("acme/drop", keywords="gone")
    with Session(catalog.engine) as session:
        catalog.search.remove(session, drop)
        session.commit()
    assert catalog.names("gone") == ["acme/keep"]
    assert catalog.query().total == 1
    # Indexing a repository that no longer exists removes it too (a delete path may call
    # index() after deleting the row).
    with Session(catalog.engine) as session:
        session.execute(
            text("DELETE FROM search_documents WHERE repository_id = :id"), {"id": keep}
        )
        repo = session.get(Repository, keep)
        session.delete(repo)
        catalog.search.index(session, keep)
        session.commit()
    assert catalog.names("gone") == []


def test_deleting_the_repository_row_drops_its_facts(catalog: Catalog) -> None:
    repo_id = catalog.add("acme/cascade", keywords="orphan")
    with Session(catalog.engine) as session:
        session.delete(session.get(Repository, repo_id))
        session.commit()  # no remove(): ON DELETE CASCADE keeps search consistent
    assert catalog.names("orphan") == []
    assert catalog.query().total == 0


def test_index_is_part_of_the_callers_transaction(catalog: Catalog) -> None:
    catalog.add("acme/kept", description="stable")
    with Session(catalog.engine) as session:
        catalog.stage(session, "acme/rolled-back", description="phantom")
        repo = session.exec(select(Repository).where(Repository.name == "acme/kept")).one()
        repo.description = "changed"
        session.add(repo)
        assert repo.id is not None
        catalog.search.index(session, repo.id)
        session.rollback()
    assert catalog.names("phantom") == []
    assert catalog.names("changed") == []
    assert catalog.names("stable") == ["acme/kept"]
    assert catalog.query().total == 1
