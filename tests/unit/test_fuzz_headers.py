"""Property-based fuzzing of the request headers the hub interprets: Range (blob reads),
Content-Range (upload chunks), Authorization (every scheme, on SQLite and PostgreSQL, whose
text columns refuse NUL) and Accept (manifest negotiation). Each is honoured or refused with
its spec code; never a 5xx."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.registry.blobs import RangeNotSatisfiable, byte_range
from tests.support.inprocess import TestClient, app_client
from tests.support.postgres import fresh_database

BLOB = bytes(range(256)) * 40  # 10,240 bytes
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
OCI = "application/vnd.oci.image.manifest.v1+json"
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
# Requests through the whole app cost milliseconds each: fewer examples, same generators.
FUZZ_APP = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

numbers = st.integers(min_value=0, max_value=20_000).map(str) | st.sampled_from(
    ["", "-1", "00", "1e3", "99999999999999999999999", " 5", "0x10"]
)


@st.composite
def range_headers(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=30))
    unit = draw(st.sampled_from(["bytes=", "bytes =", "items=", "", "BYTES="]))
    first, last = draw(numbers), draw(numbers)
    extra = draw(st.sampled_from(["", "", ",0-1", " ", "-"]))
    return f"{unit}{first}-{last}{extra}"


@FUZZ
@given(header=range_headers(), size=st.integers(min_value=0, max_value=20_000))
def test_byte_range_is_within_the_blob_or_refused(header: str, size: int) -> None:
    try:
        offset, length = byte_range(header, size)
    except RangeNotSatisfiable as exc:
        assert exc.status == 416 and exc.headers["Content-Range"] == f"bytes */{size}"
        return
    assert 0 <= offset and 1 <= length and offset + length <= size


def _hub(tmp_path_factory: pytest.TempPathFactory, postgres: bool) -> Iterator[TestClient]:
    """A hub with auth on, one user (password and API token) and one pushed image."""
    with fresh_database("hub_fuzz") if postgres else _no_database() as url:
        with app_client(tmp_path_factory.mktemp("fuzz-headers"), url, auth="required") as c:
            services = c.app.state.services  # type: ignore[attr-defined]
            services.accounts.create_user("fuzz", password="fuzz-password-1")
            token = services.accounts.create_token("fuzz", "t", "admin", None, None, None).plaintext
            c.headers["Authorization"] = _basic("fuzz", token)
            r = c.post("/v2/fuzz/app/blobs/uploads/", params={"digest": BLOB_DIGEST}, content=BLOB)
            assert r.status_code == 201, r.text
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI,
                "config": {
                    "mediaType": "application/octet-stream",
                    "digest": BLOB_DIGEST,
                    "size": len(BLOB),
                },
                "layers": [],
            }
            r = c.put(
                "/v2/fuzz/app/manifests/v1",
                content=json.dumps(manifest),
                headers={"Content-Type": OCI},
            )
            assert r.status_code == 201, r.text
            yield c


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    yield from _hub(tmp_path_factory, postgres=False)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def any_db_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    yield from _hub(tmp_path_factory, postgres=request.param == "postgresql")


class _no_database:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@FUZZ_APP
@given(header=range_headers())
def test_blob_range_requests(client: TestClient, header: str) -> None:
    r = client.get(f"/v2/fuzz/app/blobs/{BLOB_DIGEST}", headers={"Range": header.encode()})
    assert r.status_code in (200, 206, 416), r.text
    if r.status_code == 206:
        unit, _, span = r.headers["Content-Range"].partition(" ")
        first, last = (int(v) for v in span.split("/")[0].split("-"))
        assert unit == "bytes" and r.content == BLOB[first : last + 1]
    elif r.status_code == 416:
        assert r.headers["Content-Range"] == f"bytes */{len(BLOB)}"


@st.composite
def content_ranges(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 4)) == 0:
        return draw(st.text(max_size=30))
    prefix = draw(st.sampled_from(["", "bytes ", "bytes=", "items "]))
    suffix = draw(st.sampled_from(["", "/*", "/4", "/x"]))
    return f"{prefix}{draw(numbers)}-{draw(numbers)}{suffix}"


@FUZZ_APP
@given(header=content_ranges(), body=st.binary(min_size=0, max_size=8))
def test_upload_chunks_with_any_content_range(client: TestClient, header: str, body: bytes) -> None:
    start = client.post("/v2/fuzz/app/blobs/uploads/")
    assert start.status_code == 202
    location = start.headers["Location"]
    r = client.patch(location, content=body, headers={"Content-Range": header.encode()})
    assert r.status_code in (202, 400, 416), r.text
    if r.status_code != 202:
        assert r.json()["errors"][0]["code"] in ("BLOB_UPLOAD_INVALID", "RANGE_INVALID")
        return
    # Accepted: the chunk was the start of the upload, and closing it yields exactly it.
    assert r.headers["Range"] == f"0-{max(len(body) - 1, 0)}"
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    done = client.put(location, params={"digest": digest})
    assert done.status_code == 201, done.text
    assert client.get(f"/v2/fuzz/app/blobs/{digest}").content == body


header_text = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
)  # what an HTTP header can carry


@st.composite
def authorizations(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["Basic", "Bearer", "basic", "Token", "Digest", ""]))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        value = draw(header_text)
    elif kind == 1:  # well-formed Basic of any user and secret, NUL and non-ASCII included
        user = draw(st.text(max_size=20))
        secret = draw(
            st.text(max_size=30) | st.sampled_from(["whub_", "whub_00000000_x", "whub__"])
        )
        value = base64.b64encode(f"{user}:{secret}".encode()).decode()
    elif kind == 2:  # base64 of any bytes (not UTF-8, no colon...)
        value = base64.b64encode(draw(st.binary(max_size=40))).decode()
    else:  # JWT-shaped
        parts = draw(st.lists(st.text(alphabet="abcXYZ019-_", max_size=20), min_size=1, max_size=4))
        value = ".".join(parts)
    return f"{scheme} {value}".strip()


@FUZZ_APP
@given(
    header=authorizations(),
    path=st.sampled_from(
        [
            "/v2/",
            "/v2/fuzz/app/manifests/v1",
            "/api/v1/user",
            "/api/v1/repositories",
            "/auth/token?scope=repository:fuzz/app:pull",
        ]
    ),
)
def test_any_authorization_is_a_caller_or_a_401(
    any_db_client: TestClient, header: str, path: str
) -> None:
    r = any_db_client.get(path, headers={"Authorization": header, "Accept": OCI})
    # Nothing generated is a valid credential: anonymous (public reads) or refused.
    assert r.status_code in (200, 401), (header, r.status_code, r.text)
    if r.status_code == 401:
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"


@FUZZ_APP
@given(
    accept=st.lists(
        st.sampled_from(
            [
                OCI,
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "*/*",
                "application/json",
                "text/html;q=0.9",
                "",
            ]
        )
        | header_text,
        max_size=4,
    ).map(", ".join),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_manifest_negotiation_with_any_accept(client: TestClient, accept: str, method: str) -> None:
    r = client.request(method, "/v2/fuzz/app/manifests/v1", headers={"Accept": accept.encode()})
    assert r.status_code in (200, 404, 406), r.text
    if r.status_code == 200:
        assert r.headers["Content-Type"] == OCI
