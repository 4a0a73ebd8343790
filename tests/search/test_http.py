"""GET /api/v1/search through a live `wasm-hub serve`, on SQLite and PostgreSQL: the
answer's shape, parameter errors, and that pushes, metadata edits and deletes re-index.
Ranking and facets in depth are the contract suite's business."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.support.artifacts import OCI_MANIFEST, compat_image, minimal_wasm
from tests.support.server import HubServer


def test_browse_answers_results_total_and_facets(live_server: HubServer) -> None:
    # Other tests share this server and push to it, so only the shape is certain here.
    response = httpx.get(f"{live_server.url}/api/v1/search", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"results", "total", "page", "per_page", "facets"}
    assert isinstance(body["results"], list) and isinstance(body["total"], int)
    assert (body["page"], body["per_page"]) == (1, 20)
    assert set(body["facets"]) == {"abi", "variant", "namespace", "toolchain", "loads"}
    assert set(body["facets"]["loads"]) <= {"yes", "no"}


def test_a_query_with_every_parameter(live_server: HubServer) -> None:
    params = {
        "q": 'a AND ( "add-hea*',
        "abi": "proxy_abi_version_0_2_1",
        "variant": "compat",
        "namespace": "acme",
        "toolchain": "rustc 1.78.0",
        "loads": "yes",
        "sort": "stars",
        "page": "2",
        "per_page": "5",
    }
    response = httpx.get(f"{live_server.url}/api/v1/search", params=params, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert (body["page"], body["per_page"]) == (2, 5)
    assert isinstance(body["results"], list)


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
        ({"loads": "maybe"}, "loads"),
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


def test_a_bad_loads_value_names_the_choices(live_server: HubServer) -> None:
    response = httpx.get(f"{live_server.url}/api/v1/search", params={"loads": "true"}, timeout=10)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["message"] == "loads='true': choose one of yes, no"
    assert error["detail"] == {"loads": "true"}


def push_compat(client: httpx.Client, repo: str, tag: str) -> None:
    """A compat-variant Wasm image through /v2: blobs by monolithic POST, then the manifest."""
    image = compat_image(minimal_wasm(secrets.token_bytes(8)))
    for digest, data in image.blobs.items():
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest}, content=data)
        assert r.status_code == 201, r.text
    r = client.put(
        f"/v2/{repo}/manifests/{tag}",
        content=image.manifest,
        headers={"Content-Type": OCI_MANIFEST},
    )
    assert r.status_code == 201, r.text


def test_push_metadata_and_delete_keep_the_index_current(live_server: HubServer) -> None:
    ns = f"search{secrets.token_hex(3)}"
    repo = f"{ns}/add-header"
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        push_compat(client, repo, "v1")
        body = client.get("/api/v1/search", params={"q": repo}).json()
        assert body["total"] >= 1
        hit = body["results"][0]
        assert hit["repository"] == repo and hit["exact"] is True
        assert hit["latest_tag"] == "v1" and hit["variant"] == "compat"
        assert body["facets"]["namespace"][ns] == 1
        # The load check at push refused it (no proxy_abi_version_0_2_x marker in the
        # minimal module): found with loads=no, never with loads=yes.
        assert hit["loads"] is False
        refused = client.get("/api/v1/search", params={"namespace": ns, "loads": "no"}).json()
        assert [h["repository"] for h in refused["results"]] == [repo]
        assert refused["facets"]["loads"] == {"no": 1}
        loading = client.get("/api/v1/search", params={"namespace": ns, "loads": "yes"}).json()
        assert loading["total"] == 0 and loading["results"] == []
        # The web search page offers the same facet and filter.
        html = client.get("/search", params={"namespace": ns, "loads": "no"}).text
        assert "Loads in proxy-wasm host" in html
        assert 'aria-label="Clear Loads in proxy-wasm host filter no"' in html
        assert f'href="/r/{repo}"' in html
        assert f'href="/r/{repo}"' not in client.get(f"/search?namespace={ns}&loads=yes").text

        r = client.patch(f"/api/v1/repositories/{repo}", json={"description": f"zebra{ns} headers"})
        assert r.status_code == 200, r.text
        found = client.get("/api/v1/search", params={"q": f"zebra{ns}"}).json()
        assert [h["repository"] for h in found["results"]] == [repo]

        assert client.delete(f"/v2/{repo}/manifests/v1").status_code == 202
        after = client.get("/api/v1/search", params={"q": f"zebra{ns}"}).json()
        assert after["results"][0]["latest_tag"] is None
        assert after["results"][0]["variant"] is None
