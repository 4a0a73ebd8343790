"""Fixtures and reporting for the OCI distribution-spec conformance port.

``conformance_registry`` is the entry point: with ``OCI_ROOT_URL`` set the
suite talks to that registry, otherwise to the ``live_server`` fixture (a live
``wasm-hub serve`` from ``tests/conftest.py``).

``live_server`` is parametrized (one server per database backend), and a
parametrized fixture cannot be fetched with ``request.getfixturevalue``: the
parameter has to be known at collection time. So the dependency is declared
statically, but only when ``OCI_ROOT_URL`` is unset; with it set, the folder
runs on its own against any registry and ``live_server`` is never requested.
Each ``live_server`` parameter gets the whole suite (fresh data and state),
like one run of the Go binary per registry.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ._support import (
    WARNINGS,
    OCIClient,
    Settings,
    SuiteData,
    build_suite_data,
    set_current_test,
)


@dataclass(frozen=True)
class ConformanceRegistry:
    url: str
    namespace: str
    cross_mount_namespace: str


@pytest.fixture(scope="session")
def oci_settings() -> Settings:
    """All ``OCI_*`` options of the Go suite (see ``Settings`` for each one)."""
    return Settings.from_env()


if os.environ.get("OCI_ROOT_URL"):

    @pytest.fixture(scope="session")
    def _registry_url(oci_settings: Settings) -> str:
        """OCI_ROOT_URL: any registry."""
        return oci_settings.root_url

else:

    @pytest.fixture(scope="session")
    def _registry_url(live_server: Any) -> str:
        """A live `wasm-hub serve` (tests/conftest.py), once per parameter."""
        return str(live_server.url)


@pytest.fixture(scope="session")
def conformance_registry(_registry_url: str, oci_settings: Settings) -> ConformanceRegistry:
    return ConformanceRegistry(
        url=_registry_url.rstrip("/"),
        namespace=oci_settings.namespace,
        cross_mount_namespace=oci_settings.crossmount_namespace,
    )


@pytest.fixture(scope="session")
def oci(conformance_registry: ConformanceRegistry, oci_settings: Settings) -> Iterator[OCIClient]:
    """The reggie-like HTTP client every conformance test uses."""
    client = OCIClient(
        conformance_registry.url,
        conformance_registry.namespace,
        conformance_registry.cross_mount_namespace,
        oci_settings,
    )
    yield client
    client.close()


@pytest.fixture(scope="session")
def suite(conformance_registry: ConformanceRegistry, oci_settings: Settings) -> SuiteData:
    """The test data setup.go builds in ``init()`` (shared by all workflows);
    built afresh for each registry under test."""
    return build_suite_data(oci_settings)


# ---------------------------------------------------------------------------
# Reporting: name the Go spec item of every failure, print Warn() messages,
# and drop the teardown copy Go does not register for the chosen delete order.
# ---------------------------------------------------------------------------


#: Items that apply to one setting of OCI_AUTOMATIC_CROSSMOUNT only; the other is deselected
#: (like the delete-order teardowns) rather than skipped, so a CI run shows no skips.
AUTOMATIC_CROSSMOUNT_ITEMS = {
    "test_cross_mount_without_from_automatic_enabled_201": True,
    "test_cross_mount_without_from_automatic_disabled_202": False,
}


def _inapplicable(settings: Settings, name: str) -> bool:
    """Items whose Go RunOnlyIf condition is known before the run: they are deselected,
    not skipped, so a CI run has no skips (tests/conftest.py turns skips into failures)."""
    automatic = AUTOMATIC_CROSSMOUNT_ITEMS.get(name)
    if automatic is not None:
        return (
            not settings.run_automatic_crossmount_test
            or automatic != settings.automatic_crossmount_enabled
        )
    if name == "test_setup_get_tag_name_from_environment":
        return settings.run_pull_setup  # only when the pull content was pre-loaded
    if name == "test_setup_populate_registry_with_test_tags_no_push":
        return settings.run_content_discovery_setup  # likewise, for discovery
    if name == "test_cross_mount_nonexistent_blob_yields_session_id":
        # Runs only when the registry answered the previous mount with 202 instead of
        # mounting. The hub mounts (201); its fallback to 202 for a blob the source does not
        # hold is tested in tests/functional/test_registry_http.py.
        return not settings.root_url or os.environ.get("CONFORMANCE_TARGET_IS_HUB") == "1"
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = Settings.from_env()
    before = settings.delete_manifest_before_blobs
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    no_registry = pytest.mark.skip(
        reason="set OCI_ROOT_URL, or provide a `live_server` fixture (tests/conftest.py)"
    )
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if (
            info is not None
            and "_registry_url" in info.names_closure
            and "live_server" in info.names_closure
            and "live_server" not in info.name2fixturedefs
        ):
            item.add_marker(no_registry)
        func = getattr(item, "function", None)
        wanted = getattr(func, "oci_delete_manifest_before_blobs", None)
        if _inapplicable(settings, getattr(func, "__name__", "")):
            dropped.append(item)
            continue
        if wanted is not None and wanted != before:
            dropped.append(item)
            continue
        text = getattr(func, "oci_spec", None)
        if text:
            item.user_properties.append(("oci_spec", text))
        keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _spec_of(item: pytest.Item) -> str | None:
    return getattr(getattr(item, "function", None), "oci_spec", None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    text = _spec_of(item)
    if text and report.failed:
        report.sections.append(("OCI conformance spec item", text))
    return report


def pytest_runtest_setup(item: pytest.Item) -> None:
    set_current_test(item.nodeid)


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = Settings.from_env()
    target = s.root_url or "live_server fixture"
    return [
        f"oci conformance: registry={target} namespace={s.namespace} "
        f"crossmount={s.crossmount_namespace} seed={s.seed} "
        f"delete_manifest_before_blobs={s.delete_manifest_before_blobs} go_wire={s.go_wire}"
    ]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    failed = [
        rep
        for rep in terminalreporter.stats.get("failed", [])
        if any(key == "oci_spec" for key, _ in rep.user_properties)
    ]
    if WARNINGS:
        terminalreporter.section("OCI conformance warnings")
        for nodeid, message in WARNINGS:
            terminalreporter.write_line(f"WARNING: {message}  ({nodeid})")
    if failed:
        terminalreporter.section("OCI conformance: failed spec items")
        for rep in failed:
            text = dict(rep.user_properties)["oci_spec"]
            terminalreporter.write_line(f"{text}  [{rep.nodeid.split('::')[-1]}]")
