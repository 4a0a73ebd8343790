"""Workflow 1 - Pull (port of conformance/01_pull_test.go).

Tests run in file order and share module state, like the Go specs.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ._support import (
    MANIFEST_MEDIA_TYPE,
    PULL,
    TEST_TAG_NAME,
    OCIClient,
    Settings,
    SuiteData,
    is_2xx,
    registered_if_delete_manifest_before_blobs,
    run_only_if,
    run_only_if_not,
    skip_if_disabled,
    spec,
)

TITLE = "Pull"
OCTET = "application/octet-stream"


@pytest.fixture(scope="module")
def state(conformance_registry) -> SimpleNamespace:
    """Module state (the Go test file's closure variables), per registry."""
    return SimpleNamespace(tag="")


@pytest.fixture(autouse=True)
def _workflow_enabled(oci_settings: Settings) -> None:
    skip_if_disabled(oci_settings, PULL)


def _populate_blob(oci: OCIClient, digest: str, length: str, content: bytes) -> None:
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    resp = oci.do(
        "PUT",
        resp.get_relative_location(),
        query={"digest": digest},
        headers={"Content-Type": OCTET, "Content-Length": length},
        body=content,
    )
    assert is_2xx(resp.status_code), resp


def _delete(oci: OCIClient, path: str, digest: str, *allowed: int) -> None:
    resp = oci.do("DELETE", path, digest=digest)
    assert is_2xx(resp.status_code) or resp.status_code in allowed, resp


# -- Setup -------------------------------------------------------------------


@spec(TITLE, "Setup", "Populate registry with test blob")
def test_setup_populate_registry_with_test_blob_config0(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    c = suite.configs[0]
    _populate_blob(oci, c.digest, c.content_length, c.content)


@spec(TITLE, "Setup", "Populate registry with test blob")
def test_setup_populate_registry_with_test_blob_config1(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    c = suite.configs[1]
    _populate_blob(oci, c.digest, c.content_length, c.content)


@spec(TITLE, "Setup", "Populate registry with test layer")
def test_setup_populate_registry_with_test_layer(oci, oci_settings, suite: SuiteData):
    run_only_if(oci_settings.run_pull_setup)
    _populate_blob(
        oci, suite.layer_blob_digest, suite.layer_blob_content_length, suite.layer_blob_data
    )


@spec(TITLE, "Setup", "Populate registry with test manifest")
def test_setup_populate_registry_with_test_manifest_by_tag(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_pull_setup)
    state.tag = TEST_TAG_NAME
    resp = oci.do(
        "PUT",
        "/v2/<name>/manifests/<reference>",
        reference=state.tag,
        headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        body=suite.manifests[0].content,
    )
    assert is_2xx(resp.status_code), resp


@spec(TITLE, "Setup", "Populate registry with test manifest")
def test_setup_populate_registry_with_test_manifest_by_digest(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    resp = oci.do(
        "PUT",
        "/v2/<name>/manifests/<reference>",
        reference=suite.manifests[1].digest,
        headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        body=suite.manifests[1].content,
    )
    assert is_2xx(resp.status_code), resp


@spec(TITLE, "Setup", "Get tag name from environment")
def test_setup_get_tag_name_from_environment(oci_settings, state):
    run_only_if_not(oci_settings.run_pull_setup)
    if oci_settings.tag_name:
        state.tag = oci_settings.tag_name


# -- Pull blobs --------------------------------------------------------------


@spec(TITLE, "Pull blobs", "HEAD request to nonexistent blob should result in 404 response")
def test_pull_blobs_head_nonexistent_blob_404(oci, suite):
    resp = oci.do("HEAD", "/v2/<name>/blobs/<digest>", digest=suite.dummy_digest)
    assert resp.status_code == 404, resp


@spec(TITLE, "Pull blobs", "HEAD request to existing blob should yield 200")
def test_pull_blobs_head_existing_blob_200(oci, suite):
    resp = oci.do("HEAD", "/v2/<name>/blobs/<digest>", digest=suite.configs[0].digest)
    assert resp.status_code == 200, resp
    if h := resp.header("Docker-Content-Digest"):
        assert h == suite.configs[0].digest


@spec(TITLE, "Pull blobs", "GET nonexistent blob should result in 404 response")
def test_pull_blobs_get_nonexistent_blob_404(oci, suite):
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.dummy_digest)
    assert resp.status_code == 404, resp


@spec(TITLE, "Pull blobs", "GET request to existing blob URL should yield 200")
def test_pull_blobs_get_existing_blob_200(oci, suite):
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.configs[0].digest)
    assert resp.status_code == 200, resp


# -- Pull manifests ----------------------------------------------------------

ACCEPT = {"Accept": MANIFEST_MEDIA_TYPE}


@spec(TITLE, "Pull manifests", "HEAD request to nonexistent manifest should return 404")
def test_pull_manifests_head_nonexistent_manifest_404(oci, suite):
    resp = oci.do("HEAD", "/v2/<name>/manifests/<reference>", reference=suite.nonexistent_manifest)
    assert resp.status_code == 404, resp


@spec(
    TITLE, "Pull manifests", "HEAD request to manifest[0] path (digest) should yield 200 response"
)
def test_pull_manifests_head_manifest0_by_digest_200(oci, suite):
    digest = suite.manifests[0].digest
    resp = oci.do("HEAD", "/v2/<name>/manifests/<digest>", digest=digest, headers=ACCEPT)
    assert resp.status_code == 200, resp
    if h := resp.header("Docker-Content-Digest"):
        assert h == digest


@spec(
    TITLE, "Pull manifests", "HEAD request to manifest[1] path (digest) should yield 200 response"
)
def test_pull_manifests_head_manifest1_by_digest_200(oci, suite):
    digest = suite.manifests[1].digest
    resp = oci.do("HEAD", "/v2/<name>/manifests/<digest>", digest=digest, headers=ACCEPT)
    assert resp.status_code == 200, resp
    if h := resp.header("Docker-Content-Digest"):
        assert h == digest


@spec(TITLE, "Pull manifests", "HEAD request to manifest path (tag) should yield 200 response")
def test_pull_manifests_head_manifest_by_tag_200(oci, suite, state):
    assert state.tag, "tag is empty"
    resp = oci.do("HEAD", "/v2/<name>/manifests/<reference>", reference=state.tag, headers=ACCEPT)
    assert resp.status_code == 200, resp
    if h := resp.header("Docker-Content-Digest"):
        assert h == suite.manifests[0].digest


@spec(TITLE, "Pull manifests", "GET nonexistent manifest should return 404")
def test_pull_manifests_get_nonexistent_manifest_404(oci, suite):
    resp = oci.do("GET", "/v2/<name>/manifests/<reference>", reference=suite.nonexistent_manifest)
    assert resp.status_code == 404, resp


@spec(TITLE, "Pull manifests", "GET request to manifest[0] path (digest) should yield 200 response")
def test_pull_manifests_get_manifest0_by_digest_200(oci, suite):
    resp = oci.do(
        "GET", "/v2/<name>/manifests/<digest>", digest=suite.manifests[0].digest, headers=ACCEPT
    )
    assert resp.status_code == 200, resp


@spec(TITLE, "Pull manifests", "GET request to manifest[1] path (digest) should yield 200 response")
def test_pull_manifests_get_manifest1_by_digest_200(oci, suite):
    resp = oci.do(
        "GET", "/v2/<name>/manifests/<digest>", digest=suite.manifests[1].digest, headers=ACCEPT
    )
    assert resp.status_code == 200, resp


@spec(TITLE, "Pull manifests", "GET request to manifest path (tag) should yield 200 response")
def test_pull_manifests_get_manifest_by_tag_200(oci, state):
    assert state.tag, "tag is empty"
    resp = oci.do("GET", "/v2/<name>/manifests/<reference>", reference=state.tag, headers=ACCEPT)
    assert resp.status_code == 200, resp


# -- Error codes -------------------------------------------------------------


@spec(TITLE, "Error codes", "400 response body should contain OCI-conforming JSON message")
def test_error_codes_400_response_body_is_oci_conforming_json(oci, suite):
    # Go sends this GET with a Content-Type and a body; resty drops the body of a GET.
    resp = oci.do(
        "GET",
        "/v2/<name>/manifests/<reference>",
        reference="sha256:totallywrong",
        headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        body=suite.invalid_manifest_content,
    )
    assert resp.status_code in (400, 404), resp
    if resp.status_code == 400:
        errors = resp.errors()
        assert errors, "error response has an empty 'errors' array"
        assert errors[0].get("code") in suite.error_codes, errors[0]


# -- Teardown ----------------------------------------------------------------


@registered_if_delete_manifest_before_blobs(True)
@spec(TITLE, "Teardown", "Delete manifest[0] created in setup")
def test_teardown_delete_manifest0_before_blobs(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/manifests/<digest>", suite.manifests[0].digest, 405)


@registered_if_delete_manifest_before_blobs(True)
@spec(TITLE, "Teardown", "Delete manifest[1] created in setup")
def test_teardown_delete_manifest1_before_blobs(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/manifests/<digest>", suite.manifests[1].digest, 405)


@spec(TITLE, "Teardown", "Delete config[0] blob created in setup")
def test_teardown_delete_config0_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", suite.configs[0].digest, 404, 405)


@spec(TITLE, "Teardown", "Delete config[1] blob created in setup")
def test_teardown_delete_config1_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", suite.configs[1].digest, 404, 405)


@spec(TITLE, "Teardown", "Delete layer blob created in setup")
def test_teardown_delete_layer_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", suite.layer_blob_digest, 404, 405)


@registered_if_delete_manifest_before_blobs(False)
@spec(TITLE, "Teardown", "Delete manifest[0] created in setup")
def test_teardown_delete_manifest0_after_blobs(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/manifests/<digest>", suite.manifests[0].digest, 405)


@registered_if_delete_manifest_before_blobs(False)
@spec(TITLE, "Teardown", "Delete manifest[1] created in setup")
def test_teardown_delete_manifest1_after_blobs(oci, oci_settings, suite):
    run_only_if(oci_settings.run_pull_setup)
    _delete(oci, "/v2/<name>/manifests/<digest>", suite.manifests[1].digest, 405)
