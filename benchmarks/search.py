"""Search latency on 10,000 repositories, SQLite and PostgreSQL side by side.

    .venv/bin/python benchmarks/search.py [--repos 10000] [--backends sqlite,postgresql]

Seeds each database through the real index path (SQLModel rows + ``search.index()`` in the
same session, as a push does): repositories with names, descriptions, keywords and READMEs of
a few hundred words drawn from a Zipf-weighted vocabulary, spread over a few hundred
namespaces, 5% of them private, 40% with tags, manifests and Wasm module facts. Then runs
one fixed mix of ~300 queries (single terms, two terms, prefixes, exact names, facet
filters, browsing with each sort order) in-process against ``Search.query`` and reports
p50/p95/p99 per backend and per kind of query. Target: p95 < 50 ms on both.

SQLite lives in a temporary directory; PostgreSQL is a fresh database on 127.0.0.1:5432
(tests/support/postgres.py), dropped afterwards. Results: benchmarks/results/<date>-search.md
and .json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import RESULTS, environment_info, today  # noqa: E402

from hub.db.engine import make_engine  # noqa: E402
from hub.db.migrate import upgrade  # noqa: E402
from hub.db.models import Manifest, Namespace, Repository, Tag, WasmModule  # noqa: E402
from hub.search import Search, SearchQuery, open_search  # noqa: E402
from tests.support.postgres import fresh_database  # noqa: E402

SEED = 20261126
TARGET_P95_MS = 50.0
KINDS = ("single", "two", "prefix", "exact", "facet", "browse")

DOMAIN = """
envoy istio proxy wasm filter header headers auth jwt oauth oidc token ratelimit rate limit
quota cache caching cors csrf waf firewall geoip ip allowlist denylist redirect rewrite route
routing canary traffic split mirror shadow retry timeout circuit breaker metrics prometheus
stats tracing opentelemetry zipkin jaeger logging access log audit grpc http http2 websocket
graphql json xml protobuf transcoder compression gzip brotli decompress body request response
inject injection sanitize validation schema openapi swagger apikey basic hmac signature mtls
tls certificate spiffe identity tenant multitenant billing metering usage throttle backoff
lua rust tinygo assemblyscript cpp sdk abi plugin module extension gateway ingress egress
mesh sidecar ambient consul gloo kong apisix nginx coraza modsecurity owasp bot detection
anomaly fraud pii masking redact dlp compliance gdpr locale i18n country language cookie
session sticky affinity loadbalance hash consistent fault inject delay abort chaos test
""".split()

GENERAL = """
the of and to a in is it you that he was for on are with as his they be at one have this from
or had by hot word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her
long make thing see him two has look more day could go come did number sound no most people
my over know water than call first who may down side been now find any new work part take get
place made live where after back little only round man year came show every good me give our
under name very through just form sentence great think say help low line differ turn cause
much mean before move right boy old too same tell does set three want air well also play small
end put home read hand port large spell add even land here must big high such follow act why
ask men change went light kind off need house picture try us again animal point mother world
near build self earth father head stand own page should country found answer school grow study
still learn plant cover food sun four between state keep eye never last let thought city tree
cross farm hard start might story saw far sea draw left late run while press close night real
life few north open seem together next white children begin got walk example ease paper group
always music those both mark often letter until mile river car feet care second book carry
took science eat room friend began idea fish mountain stop once base hear horse cut sure watch
color face wood main enough plain girl usual young ready above ever red list though feel talk
bird soon body dog family direct pose leave song measure door product black short numeral
class wind question happen complete ship area half rock order fire south problem piece told
knew pass since top whole king space heard best hour better true during hundred five remember
step early hold west ground interest reach fast verb sing listen six table travel less morning
ten simple several vowel toward war lay against pattern slow center love person money serve
appear road map rain rule govern pull cold notice voice unit power town fine certain fly fall
lead cry dark machine note wait plan figure star box noun field rest correct able pound done
beauty drive stood contain front teach week final gave green oh quick develop ocean warm free
minute strong special mind behind clear tail produce fact street inch multiply nothing course
stay wheel full force blue object decide surface deep moon island foot system busy record boat
common gold possible plane stead dry wonder laugh thousand ago ran check game shape equate miss
brought heat snow tire bring yes distant fill east paint language among grand ball yet wave
drop heart present heavy dance engine position arm wide sail material size vary settle speak
weight general ice matter circle pair include divide syllable felt perhaps pick sudden count
square reason length represent art subject region energy hunt probable bed brother egg ride
cell believe fraction forest sit race window store summer train sleep prove lone leg exercise
wall catch mount wish sky board joy winter sat written wild instrument kept glass grass cow job
edge sign visit past soft fun bright gas weather month million bear finish happy hope flower
""".split()

VARIANTS = ["compat", "wasme-oci", "cncf", "wasm-to-oci"]
ABIS = [
    "proxy_abi_version_0_1_0",
    "proxy_abi_version_0_2_0",
    "proxy_abi_version_0_2_1",
    "v0-4689a30309abf31aee9ae36e73d34b1bb182685f",
    "v0-541b2c1155fffb15ccde92b8324f3e38f7339ba6",
    "v0-097b7f2e4cc1fb490cc1943d0d633655ac3c522f",
]
TOOLCHAINS = [
    "rustc 1.74.0",
    "rustc 1.78.0",
    "rustc 1.82.0",
    "tinygo 0.30.0",
    "tinygo 0.33.0",
    "emscripten 3.1.45",
    "assemblyscript 0.27.0",
    "clang 17.0.6",
]


class Corpus:
    """Deterministic fake catalog text: Zipf-weighted general words, domain words on top."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.general_weights = [1 / (rank + 1) for rank in range(len(GENERAL))]
        self.domain_weights = [1 / math.sqrt(rank + 1) for rank in range(len(DOMAIN))]

    def general(self, n: int) -> list[str]:
        return self.rng.choices(GENERAL, self.general_weights, k=n)

    def domain(self, n: int) -> list[str]:
        return self.rng.choices(DOMAIN, self.domain_weights, k=n)

    def sentence(self, n: int) -> str:
        words = [w if self.rng.random() < 0.8 else self.domain(1)[0] for w in self.general(n)]
        return " ".join(words).capitalize() + "."

    def readme(self) -> str:
        parts, size = [], self.rng.randint(150, 450)
        while size > 0:
            n = min(size, self.rng.randint(8, 20))
            parts.append(self.sentence(n))
            size -= n
        return f"# {' '.join(self.domain(2))}\n\n" + " ".join(parts)


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir}/search-bench.db"
    else:
        with fresh_database("hub_bench_search") as url:
            yield url


def seed(engine: Engine, search: Search, repos: int, rng: random.Random) -> dict[str, Any]:
    corpus = Corpus(rng)
    now = datetime.now(UTC)
    started = time.perf_counter()
    namespaces: list[Namespace] = []
    names: list[str] = []
    with Session(engine) as session:
        seen_ns: set[str] = set()
        while len(namespaces) < max(10, repos // 25):
            ns_name = "-".join(corpus.general(1) + corpus.domain(1))
            if ns_name in seen_ns:
                ns_name += str(len(seen_ns))
            seen_ns.add(ns_name)
            ns = Namespace(name=ns_name)
            session.add(ns)
            namespaces.append(ns)
        session.flush()
        seen: set[str] = set()
        index_seconds = 0.0
        for i in range(repos):
            ns = rng.choice(namespaces)
            short = "-".join(corpus.domain(rng.randint(1, 3)))
            name = f"{ns.name}/{short}"
            if name in seen:
                name = f"{name}-{i}"
            seen.add(name)
            names.append(name)
            repo = Repository(
                name=name,
                namespace_id=ns.id,
                description=corpus.sentence(rng.randint(8, 20)),
                keywords=",".join(sorted(set(corpus.domain(rng.randint(2, 5))))),
                readme=corpus.readme(),
                stars=int(rng.paretovariate(1.2)) - 1,
                pulls=int(rng.lognormvariate(5, 2.5)),
                updated_at=now - timedelta(days=rng.uniform(0, 730)),
                private=rng.random() < 0.05,
            )
            session.add(repo)
            session.flush()
            assert repo.id is not None
            if i % 5 < 2:  # 40%: pushed modules with tags
                for t in range(rng.randint(1, 3)):
                    digest = f"sha256:{rng.getrandbits(256):064x}"
                    session.add(
                        Manifest(
                            repository_id=repo.id,
                            digest=digest,
                            media_type="application/vnd.oci.image.manifest.v1+json",
                            size=rng.randint(300, 900),
                        )
                    )
                    session.add(
                        Tag(
                            repository_id=repo.id,
                            name=f"v0.{t}.{rng.randint(0, 9)}",
                            manifest_digest=digest,
                            updated_at=now - timedelta(days=rng.uniform(0, 730)),
                        )
                    )
                    session.add(
                        WasmModule(
                            manifest_digest=digest,
                            variant=rng.choice(VARIANTS),
                            layer_digest=f"sha256:{rng.getrandbits(256):064x}",
                            module_sha256=f"{rng.getrandbits(256):064x}",
                            module_size=rng.randint(10_000, 3_000_000),
                            abi_versions=",".join(rng.sample(ABIS, rng.randint(1, 2))),
                            toolchain=rng.choice(TOOLCHAINS),
                        )
                    )
            t0 = time.perf_counter()
            search.index(session, repo.id)
            index_seconds += time.perf_counter() - t0
            if i % 500 == 499:
                session.commit()
        session.commit()
    return {
        "repositories": repos,
        "namespaces": len(namespaces),
        "seed_seconds": round(time.perf_counter() - started, 1),
        "index_ms_per_repository": round(index_seconds / repos * 1000, 2),
        "names": names,
    }


def query_mix(
    rng: random.Random, names: list[str], namespaces: list[str]
) -> list[tuple[str, SearchQuery]]:
    corpus = Corpus(rng)
    mix: list[tuple[str, SearchQuery]] = []

    def word() -> str:
        return (corpus.domain(1) if rng.random() < 0.6 else corpus.general(1))[0]

    for _ in range(70):
        mix.append(("single", SearchQuery(q=word())))
    for _ in range(50):
        mix.append(("two", SearchQuery(q=f"{word()} {word()}")))
    for _ in range(50):
        w = word()
        cut = min(len(w), rng.randint(3, 5))
        q = w[:cut] if rng.random() < 0.5 else f"{word()} {w[:cut]}"
        mix.append(("prefix", SearchQuery(q=q)))
    for _ in range(20):
        name = rng.choice(names)
        mix.append(("exact", SearchQuery(q=name if rng.random() < 0.5 else name.split("/", 1)[1])))
    for _ in range(50):
        filters: dict[str, Any] = {}
        pick = rng.sample(["abi", "variant", "toolchain", "namespace"], rng.randint(1, 2))
        if "abi" in pick:
            filters["abi"] = rng.choice(ABIS)
        if "variant" in pick:
            filters["variant"] = rng.choice(VARIANTS)
        if "toolchain" in pick:
            filters["toolchain"] = rng.choice(TOOLCHAINS)
        if "namespace" in pick:
            filters["namespace"] = rng.choice(namespaces)
        q = word() if rng.random() < 0.5 else ""
        mix.append(("facet", SearchQuery(q=q, sort=rng.choice(["relevance", "stars"]), **filters)))
    for _ in range(60):
        mix.append(
            (
                "browse",
                SearchQuery(
                    sort=rng.choice(["relevance", "stars", "pulls", "updated"]),
                    page=rng.randint(1, 5),
                ),
            )
        )
    rng.shuffle(mix)
    return mix


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "p99": round(percentile(values, 99), 2),
        "max": round(max(values), 2),
        "mean": round(statistics.fmean(values), 2),
    }


def run(search: Search, mix: list[tuple[str, SearchQuery]]) -> dict[str, Any]:
    # One unmeasured pass of the same mix first: a serving hub has warm page caches, pooled
    # connections and SQLAlchemy's compiled-statement cache filled.
    for _, query in mix:
        search.query(query)
    timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
    matches: list[int] = []
    for kind, query in mix:
        t0 = time.perf_counter()
        result = search.query(query)
        timings[kind].append((time.perf_counter() - t0) * 1000)
        matches.append(result.total)
    every = [t for kind in KINDS for t in timings[kind]]
    return {
        "all": summary(every),
        "kinds": {kind: summary(values) for kind, values in timings.items() if values},
        "median_total": statistics.median(matches),
    }


def bench(backend: str, repos: int, workdir: Path) -> dict[str, Any]:
    with database(backend, workdir) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            search = open_search(engine)
            print(f"[{backend}] seeding {repos} repositories ...", flush=True)
            seeded = seed(engine, search, repos, random.Random(SEED))
            namespaces = sorted({n.split("/", 1)[0] for n in seeded["names"]})
            mix = query_mix(random.Random(SEED + 1), seeded.pop("names"), namespaces)
            if backend == "postgresql":
                # What autovacuum would have done by now to tables this fresh: statistics. (No
                # VACUUM: search must not depend on a clean visibility map.)
                with engine.begin() as conn:
                    conn.exec_driver_sql("ANALYZE")
            print(
                f"[{backend}] seeded in {seeded['seed_seconds']} s; {len(mix)} queries", flush=True
            )
            load_before = [round(x, 2) for x in os.getloadavg()]
            result = run(search, mix)
            result["loadavg"] = [load_before, [round(x, 2) for x in os.getloadavg()]]
            print(
                f"[{backend}] p50 {result['all']['p50']} ms, p95 {result['all']['p95']} ms",
                flush=True,
            )
            return {**seeded, **result}
        finally:
            engine.dispose()


def render(env: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"# Search latency on {next(iter(results.values()))['repositories']:,} repositories"
        f" — {env['date']}",
        "",
        f"`benchmarks/search.py` (commit {env['hub_commit']}"
        f"{', uncommitted changes in hub/' if env['hub_tree_dirty'] else ''}), in-process "
        "`Search.query()` (one thread, no HTTP), after one unmeasured pass of the same mix. "
        f"{env['cpus']} × {env['cpu_model']}, {env['memory_gib']} GiB, Python {env['python']}; "
        f"load average at start {env['loadavg_start']}.",
        "",
        "| backend | queries | p50 ms | p95 ms | p99 ms | max ms | target p95 < 50 ms |",
        "|---|--:|--:|--:|--:|--:|---|",
    ]
    for backend, r in results.items():
        a = r["all"]
        verdict = "PASS" if a["p95"] < TARGET_P95_MS else "FAIL"
        lines.append(
            f"| {backend} | {a['n']} | {a['p50']} | {a['p95']} | {a['p99']} | {a['max']} "
            f"| **{verdict}** |"
        )
    lines += [
        "",
        "Per kind of query:",
        "",
        "| backend | kind | n | p50 ms | p95 ms | p99 ms |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for backend, r in results.items():
        for kind, s in r["kinds"].items():
            lines.append(
                f"| {backend} | {kind} | {s['n']} | {s['p50']} | {s['p95']} | {s['p99']} |"
            )
    lines += [
        "",
        "| backend | namespaces | seed s | index() ms / repository | median matches per query "
        "| load average before → after the queries |",
        "|---|--:|--:|--:|--:|---|",
    ]
    for backend, r in results.items():
        lines.append(
            f"| {backend} | {r['namespaces']} | {r['seed_seconds']} | "
            f"{r['index_ms_per_repository']} | {r['median_total']} "
            f"| {r['loadavg'][0]} → {r['loadavg'][1]} |"
        )
    lines += [
        "",
        "Kinds: `single` one word, `two` two words, `prefix` a word cut to 3-5 letters (alone or "
        "after a word), `exact` a full or short repository name, `facet` abi / variant / "
        "toolchain / namespace filters (with or without a word), `browse` no q, each sort "
        "order, pages 1-5. Every query computes the total and all four facets over the whole "
        "match set. 40% of repositories have 1-3 tags with Wasm module facts; 5% are private "
        "(never returned: the queries are anonymous).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    env = environment_info()
    env.pop("reference", None)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="hub-search-bench-") as tmp:
        for backend in args.backends.split(","):
            results[backend] = bench(backend, args.repos, Path(tmp))
    report = render(env, results)
    print(report)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{today()}-search.md").write_text(report)
        (RESULTS / f"{today()}-search.json").write_text(
            json.dumps({"environment": env, "results": results}, indent=1) + "\n"
        )
    ok = all(r["all"]["p95"] < TARGET_P95_MS for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
