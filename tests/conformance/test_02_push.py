"""Workflow 2 - Push (port of conformance/02_push_test.go).

Tests run in file order and share module state (``last_response``,
``prev_response``), like the Go specs: a later item uses the upload session
an earlier one opened.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ._support import (
    EMPTY_LAYER_TEST_TAG,
    MANIFEST_MEDIA_TYPE,
    PUSH,
    OCIClient,
    Settings,
    SuiteData,
    is_2xx,
    registered_if_delete_manifest_before_blobs,
    require,
    run_only_if,
    run_only_if_not,
    skip_if_disabled,
    spec,
    warn,
)

TITLE = "Push"
OCTET = "application/octet-stream"


@pytest.fixture(scope="module")
def state(conformance_registry) -> SimpleNamespace:
    """Module state (the Go test file's closure variables), per registry."""
    return SimpleNamespace(last_response=None, prev_response=None, empty_layer_manifest_ref="")


@pytest.fixture(autouse=True)
def _workflow_enabled(oci_settings: Settings) -> None:
    skip_if_disabled(oci_settings, PUSH)


def _delete(oci: OCIClient, path: str, *allowed: int, **ref: str) -> None:
    resp = oci.do("DELETE", path, **ref)
    assert is_2xx(resp.status_code) or resp.status_code in allowed, resp


# -- Setup: "No setup required at this time for push tests" ------------------

# -- Blob Upload Streamed ----------------------------------------------------


@spec(TITLE, "Blob Upload Streamed", "PATCH request with blob in body should yield 202 response")
def test_blob_upload_streamed_patch_with_blob_in_body_202(oci, suite: SuiteData, state):
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    assert resp.header("Location"), f"no Location header: {resp}"
    resp = oci.do(
        "PATCH",
        resp.get_relative_location(),
        headers={"Content-Type": OCTET},
        body=suite.test_blob_a,
        stream=True,
    )
    assert resp.status_code == 202, resp
    state.last_response = resp


@spec(
    TITLE,
    "Blob Upload Streamed",
    "PUT request to session URL with digest should yield 201 response",
)
def test_blob_upload_streamed_put_session_url_with_digest_201(oci, suite, state):
    last = require(state.last_response)
    # Go sets Content-Length: <blob length> but sends no body (the wire says 0).
    resp = oci.do(
        "PUT",
        last.get_relative_location(),
        query={"digest": suite.test_blob_a_digest},
        headers={"Content-Type": OCTET, "Content-Length": suite.test_blob_a_length},
    )
    assert resp.status_code == 201, resp
    assert resp.header("Location"), f"no Location header: {resp}"


# -- Blob Upload Monolithic --------------------------------------------------


@spec(TITLE, "Blob Upload Monolithic", "GET nonexistent blob should result in 404 response")
def test_blob_upload_monolithic_get_nonexistent_blob_404(oci, suite):
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.dummy_digest)
    assert resp.status_code == 404, resp


@spec(
    TITLE, "Blob Upload Monolithic", "POST request with digest and blob should yield a 201 or 202"
)
def test_blob_upload_monolithic_post_with_digest_and_blob_201_or_202(oci, suite, state):
    c = suite.configs[1]
    resp = oci.do(
        "POST",
        "/v2/<name>/blobs/uploads/",
        query={"digest": c.digest},
        headers={"Content-Length": c.content_length, "Content-Type": OCTET},
        body=c.content,
    )
    assert resp.header("Location"), f"no Location header: {resp}"
    assert resp.status_code in (201, 202), resp
    state.last_response = resp


@spec(
    TITLE,
    "Blob Upload Monolithic",
    "GET request to blob URL from prior request should yield 200 or 404 based on response code",
)
def test_blob_upload_monolithic_get_blob_from_prior_request_200_or_404(oci, suite, state):
    last = require(state.last_response)
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.configs[1].digest)
    if last.status_code == 202:
        assert resp.status_code == 404, resp
    else:
        assert resp.status_code == 200, resp


@spec(TITLE, "Blob Upload Monolithic", "POST request should yield a session ID")
def test_blob_upload_monolithic_post_yields_session_id(oci, state):
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    assert resp.status_code == 202, resp
    state.last_response = resp


@spec(TITLE, "Blob Upload Monolithic", "PUT upload of a blob should yield a 201 Response")
def test_blob_upload_monolithic_put_blob_201(oci, suite, state):
    c = suite.configs[1]
    resp = oci.do(
        "PUT",
        require(state.last_response).get_relative_location(),
        query={"digest": c.digest},
        headers={"Content-Length": c.content_length, "Content-Type": OCTET},
        body=c.content,
    )
    assert resp.header("Location"), f"no Location header: {resp}"
    assert resp.status_code == 201, resp


@spec(TITLE, "Blob Upload Monolithic", "GET request to existing blob should yield 200 response")
def test_blob_upload_monolithic_get_existing_blob_200(oci, suite):
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.configs[1].digest)
    assert resp.status_code == 200, resp


@spec(TITLE, "Blob Upload Monolithic", "PUT upload of a layer blob should yield a 201 Response")
def test_blob_upload_monolithic_put_layer_blob_201(oci, suite):
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    resp = oci.do(
        "PUT",
        resp.get_relative_location(),
        query={"digest": suite.layer_blob_digest},
        headers={"Content-Length": suite.layer_blob_content_length, "Content-Type": OCTET},
        body=suite.layer_blob_data,
    )
    assert resp.header("Location"), f"no Location header: {resp}"
    assert resp.status_code == 201, resp


@spec(TITLE, "Blob Upload Monolithic", "GET request to existing layer should yield 200 response")
def test_blob_upload_monolithic_get_existing_layer_200(oci, suite):
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.layer_blob_digest)
    assert resp.status_code == 200, resp


# -- Blob Upload Chunked -----------------------------------------------------


@spec(TITLE, "Blob Upload Chunked", "Out-of-order blob upload should return 416")
def test_blob_upload_chunked_out_of_order_chunk_416(oci, suite: SuiteData):
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
    assert resp.header("Location"), f"no Location header: {resp}"

    # rebuild chunked blob if min size is above our chunk size
    if min_size_str := resp.header("OCI-Chunk-Min-Length"):
        min_size = int(min_size_str)
        if min_size > len(suite.test_blob_b_chunk1):
            suite.setup_chunked_blob(min_size * 2 - 2)

    resp = oci.do(
        "PATCH",
        resp.get_relative_location(),
        headers={
            "Content-Type": OCTET,
            "Content-Length": suite.test_blob_b_chunk2_length,
            "Content-Range": suite.test_blob_b_chunk2_range,
        },
        body=suite.test_blob_b_chunk2,
    )
    assert resp.status_code == 416, resp


@spec(TITLE, "Blob Upload Chunked", "PATCH request with first chunk should return 202")
def test_blob_upload_chunked_patch_first_chunk_202(oci, suite, state):
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/", headers={"Content-Length": "0"})
    assert resp.header("Location"), f"no Location header: {resp}"
    state.prev_response = resp
    resp = oci.do(
        "PATCH",
        resp.get_relative_location(),
        headers={
            "Content-Type": OCTET,
            "Content-Length": suite.test_blob_b_chunk1_length,
            "Content-Range": suite.test_blob_b_chunk1_range,
        },
        body=suite.test_blob_b_chunk1,
    )
    assert resp.status_code == 202, resp
    assert resp.header("Range") == suite.test_blob_b_chunk1_range, resp.headers
    state.last_response = resp


@spec(TITLE, "Blob Upload Chunked", "Retry previous blob chunk should return 416")
def test_blob_upload_chunked_retry_previous_chunk_416(oci, suite, state):
    resp = oci.do(
        "PATCH",
        require(state.prev_response).get_relative_location(),
        headers={
            "Content-Type": OCTET,
            "Content-Length": suite.test_blob_b_chunk1_length,
            "Content-Range": suite.test_blob_b_chunk1_range,
        },
        body=suite.test_blob_b_chunk1,
    )
    assert resp.status_code == 416, resp


@spec(
    TITLE,
    "Blob Upload Chunked",
    "Get on stale blob upload should return 204 with a range and location",
)
def test_blob_upload_chunked_get_stale_upload_204_with_range_and_location(oci, suite, state):
    resp = oci.do("GET", require(state.prev_response).get_relative_location())
    assert resp.status_code == 204, resp
    assert resp.header("Location"), f"no Location header: {resp}"
    assert resp.header("Range") == suite.test_blob_b_chunk1_range, resp.headers
    state.last_response = resp


@spec(TITLE, "Blob Upload Chunked", "PATCH request with second chunk should return 202")
def test_blob_upload_chunked_patch_second_chunk_202(oci, suite, state):
    resp = oci.do(
        "PATCH",
        require(state.last_response).get_relative_location(),
        headers={
            "Content-Length": suite.test_blob_b_chunk2_length,
            "Content-Range": suite.test_blob_b_chunk2_range,
            "Content-Type": OCTET,
        },
        body=suite.test_blob_b_chunk2,
    )
    location = resp.header("Location")
    assert resp.status_code == 202, resp
    assert location, f"no Location header: {resp}"
    state.last_response = resp


@spec(TITLE, "Blob Upload Chunked", "PUT request with digest should return 201")
def test_blob_upload_chunked_put_with_digest_201(oci, suite, state):
    resp = oci.do(
        "PUT",
        require(state.last_response).get_relative_location(),
        query={"digest": suite.test_blob_b_digest},
        headers={"Content-Length": "0", "Content-Type": OCTET},
    )
    assert resp.status_code == 201, resp
    assert resp.header("Location"), f"no Location header: {resp}"


# -- Cross-Repository Blob Mount ---------------------------------------------


@spec(
    TITLE,
    "Cross-Repository Blob Mount",
    "Cross-mounting of a blob without the from argument should yield session id",
)
def test_cross_mount_without_from_yields_session_id(oci, oci_settings, suite):
    resp = oci.do(
        "POST",
        "/v2/<name>/blobs/uploads/",
        name=oci.crossmount_namespace,
        query={"mount": suite.dummy_digest},
    )
    assert resp.status_code == 202, resp
    assert resp.get_absolute_location(), f"no Location header: {resp}"


@spec(
    TITLE,
    "Cross-Repository Blob Mount",
    "POST request to mount another repository's blob should return 201 or 202",
)
def test_cross_mount_post_mount_from_other_repository_201_or_202(oci, oci_settings, suite, state):
    resp = oci.do(
        "POST",
        "/v2/<name>/blobs/uploads/",
        name=oci.crossmount_namespace,
        query={"mount": suite.test_blob_a_digest, "from": oci.default_name},
    )
    assert resp.status_code in (201, 202), resp
    state.last_response = resp


@spec(
    TITLE,
    "Cross-Repository Blob Mount",
    "GET request to test digest within cross-mount namespace should return 200",
)
def test_cross_mount_get_mounted_blob_200(oci, oci_settings, suite, state):
    last = require(state.last_response)
    run_only_if(last.status_code == 201)
    expected = f"/v2/{oci.crossmount_namespace}/blobs/{suite.test_blob_a_digest}"
    assert last.get_relative_location() == expected
    resp = oci.do("GET", last.get_relative_location())
    assert resp.status_code == 200, resp


@spec(
    TITLE,
    "Cross-Repository Blob Mount",
    "Cross-mounting of nonexistent blob should yield session id",
)
def test_cross_mount_nonexistent_blob_yields_session_id(oci, state):
    last = require(state.last_response)
    run_only_if(last.status_code == 202)
    prefix = f"/v2/{oci.crossmount_namespace}/blobs/uploads/"
    assert last.get_relative_location().startswith(prefix), last.get_relative_location()


@spec(
    TITLE,
    "Cross-Repository Blob Mount",
    "Cross-mounting without from, and automatic content discovery enabled should return a 201",
)
def test_cross_mount_without_from_automatic_enabled_201(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_automatic_crossmount_test)
    run_only_if(require(state.last_response).status_code == 201)
    run_only_if(oci_settings.automatic_crossmount_enabled)
    resp = oci.do(
        "POST",
        "/v2/<name>/blobs/uploads/",
        name=oci.crossmount_namespace,
        query={"mount": suite.test_blob_a_digest},
    )
    assert resp.status_code == 201, resp


@spec(
    TITLE,
    "Cross-Repository Blob Mount",
    "Cross-mounting without from, and automatic content discovery disabled should return a 202",
)
def test_cross_mount_without_from_automatic_disabled_202(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_automatic_crossmount_test)
    run_only_if(require(state.last_response).status_code == 201)
    run_only_if_not(oci_settings.automatic_crossmount_enabled)
    resp = oci.do(
        "POST",
        "/v2/<name>/blobs/uploads/",
        name=oci.crossmount_namespace,
        query={"mount": suite.test_blob_a_digest},
    )
    assert resp.status_code == 202, resp


# -- Manifest Upload ---------------------------------------------------------


@spec(TITLE, "Manifest Upload", "GET nonexistent manifest should return 404")
def test_manifest_upload_get_nonexistent_manifest_404(oci, suite):
    resp = oci.do("GET", "/v2/<name>/manifests/<reference>", reference=suite.nonexistent_manifest)
    assert resp.status_code == 404, resp


@spec(TITLE, "Manifest Upload", "PUT should accept a manifest upload")
def test_manifest_upload_put_manifest_201(oci, suite):
    for i in range(4):
        resp = oci.do(
            "PUT",
            "/v2/<name>/manifests/<reference>",
            reference=f"test{i}",
            headers={"Content-Type": MANIFEST_MEDIA_TYPE},
            body=suite.manifests[1].content,
        )
        assert resp.header("Location"), f"no Location header: {resp}"
        assert resp.status_code == 201, resp


@spec(TITLE, "Manifest Upload", "Registry should accept a manifest upload with no layers")
def test_manifest_upload_manifest_with_no_layers(oci, oci_settings, suite, state):
    # OCI_SKIP_EMPTY_LAYER_PUSH_TEST (Go README); the Go test itself only warns.
    run_only_if_not(oci_settings.skip_empty_layer_push_test)
    resp = oci.do(
        "PUT",
        "/v2/<name>/manifests/<reference>",
        reference=EMPTY_LAYER_TEST_TAG,
        headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        body=suite.empty_layer_manifest_content,
    )
    if resp.status_code == 201:
        location = resp.header("Location")
        state.empty_layer_manifest_ref = location
        assert location, f"no Location header: {resp}"
    else:
        warn("image manifest with no layers is not supported")


@spec(TITLE, "Manifest Upload", "GET request to manifest URL (digest) should yield 200 response")
def test_manifest_upload_get_manifest_by_digest_200(oci, suite):
    resp = oci.do(
        "GET",
        "/v2/<name>/manifests/<digest>",
        digest=suite.manifests[1].digest,
        headers={"Accept": MANIFEST_MEDIA_TYPE},
    )
    assert resp.status_code == 200, resp


# -- Teardown ----------------------------------------------------------------


def _delete_manifests(oci: OCIClient, suite: SuiteData, state: SimpleNamespace) -> None:
    _delete(oci, "/v2/<name>/manifests/<digest>", 405, digest=suite.manifests[1].digest)
    if state.empty_layer_manifest_ref:
        _delete(
            oci,
            "/v2/<name>/manifests/<reference>",
            405,
            reference=suite.empty_layer_manifest_digest,
        )


@registered_if_delete_manifest_before_blobs(True)
@spec(TITLE, "Teardown", "Delete manifest created in tests")
def test_teardown_delete_manifest_before_blobs(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_push_setup)
    _delete_manifests(oci, suite, state)


@spec(TITLE, "Teardown", "Delete config blob created in tests")
def test_teardown_delete_config_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_push_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", 404, 405, digest=suite.configs[1].digest)


@spec(TITLE, "Teardown", "Delete layer blob created in setup")
def test_teardown_delete_layer_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_push_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", 404, 405, digest=suite.layer_blob_digest)


@registered_if_delete_manifest_before_blobs(False)
@spec(TITLE, "Teardown", "Delete manifest created in tests")
def test_teardown_delete_manifest_after_blobs(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_push_setup)
    _delete_manifests(oci, suite, state)
