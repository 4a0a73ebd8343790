"""GET /api/v1/search through a live `wasm-hub serve`, on SQLite and PostgreSQL.

The registry's push path does not index yet, so this checks the answer's shape and the
parameter errors; what search finds is the contract suite's business."""

from __future__ import annotations

import httpx
import pytest

from tests.support.server import HubServer


def test_browse_answers_results_total_and_facets(live_server: HubServer) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/search", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"results", "total", "page", "per_page", "facets"}
    assert isinstance(body["results"], list) and isinstance(body["total"], int)
    assert (body["page"], body["per_page"]) == (1, 20)
    assert set(body["facets"]) == {"abi", "variant", "namespace", "toolchain"}


def test_a_query_with_every_parameter(live_server: HubServer) -> None:
    params = {
        "q": 'a AND ( "add-hea*',
        "abi": "proxy_abi_version_0_2_1",
        "variant": "compat",
        "namespace": "acme",
        "toolchain": "rustc 1.78.0",
        "sort": "stars",
        "page": "2",
        "per_page": "5",
    }
    response = httpx.get(f"{live_server.url}/api/v1/search", params=params, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert (body["page"], body["per_page"]) == (2, 5)
    assert body["results"] == []


@pytest.mark.parametrize(
    "params, parameter",
    [
        ({"sort": "downloads"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page": "10001"}, "page"),
        ({"page": "99999999999999999999999"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "-1"}, "per_page"),
        ({"q": "x" * 257}, "q"),
        ({"variant": "v" * 256}, "variant"),
    ],
)
def test_bad_parameters_are_400_in_the_error_envelope(
    live_server: HubServer, params: dict[str, str], parameter: str
) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/search", params=params, timeout=10)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["code"] == "BAD_REQUEST"
    assert parameter in errors[0]["message"]
    assert parameter in errors[0]["detail"]
