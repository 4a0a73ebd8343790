"""Shared fixtures: live servers on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.postgres import fresh_database
from tests.support.server import HubServer, migrate

# `real_filter`: a proxy-wasm filter built from source (AssemblyScript, FORMATS.md section 5).
# `oidc_provider`: a real OpenID Provider (node oidc-provider) on 127.0.0.1 for sign-in tests.
pytest_plugins = ["tests.support.wasm_build", "tests.support.oidc_provider"]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubServer]:
    """A `wasm-hub serve` with HUB_AUTH=none, once per database backend."""
    workdir = tmp_path_factory.mktemp(f"hub-{request.param}")
    env: dict[str, str] = {}
    if request.param == "postgresql":
        env["HUB_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        migrate(env, workdir)
    with HubServer(workdir, env) as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """With CI=true a skip is a failure: a missing service or an unmet condition must be loud."""
    report = yield
    if os.environ.get("CI") == "true" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {report.longrepr}"
    return report
