"""Workflow 4 - Content Management (port of conformance/04_management_test.go).

Manifest (tag and digest) and blob deletion. Tests run in file order and
share module state, like the Go specs.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ._support import (
    CONTENT_MANAGEMENT,
    MANIFEST_MEDIA_TYPE,
    UNSUPPORTED,
    Settings,
    decode_tag_list,
    is_2xx,
    run_only_if,
    skip_if_disabled,
    spec,
)

TITLE = "Content Management"
OCTET = "application/octet-stream"
DEFAULT_TAG_NAME = "tagtest0"


@pytest.fixture(scope="module")
def state(conformance_registry) -> SimpleNamespace:
    """Module state (the Go test file's closure variables), per registry."""
    return SimpleNamespace(tag_to_delete="", num_tags=0, blob_delete_allowed=True)


@pytest.fixture(autouse=True)
def _workflow_enabled(oci_settings: Settings) -> None:
    skip_if_disabled(oci_settings, CONTENT_MANAGEMENT)


# -- Setup -------------------------------------------------------------------


@spec(TITLE, "Setup", "Populate registry with test config blob")
def test_setup_populate_registry_with_test_config_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_management_setup)
    c = suite.configs[3]
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    resp = oci.do(
        "PUT",
        resp.get_relative_location(),
        query={"digest": c.digest},
        headers={"Content-Length": c.content_length, "Content-Type": OCTET},
        body=c.content,
    )
    assert is_2xx(resp.status_code), resp


@spec(TITLE, "Setup", "Populate registry with test layer")
def test_setup_populate_registry_with_test_layer(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_management_setup)
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    resp = oci.do(
        "PUT",
        resp.get_relative_location(),
        query={"digest": suite.layer_blob_digest},
        headers={"Content-Type": OCTET, "Content-Length": suite.layer_blob_content_length},
        body=suite.layer_blob_data,
    )
    assert is_2xx(resp.status_code), resp


@spec(TITLE, "Setup", "Populate registry with test tag")
def test_setup_populate_registry_with_test_tag(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_content_management_setup)
    state.tag_to_delete = DEFAULT_TAG_NAME
    resp = oci.do(
        "PUT",
        "/v2/<name>/manifests/<reference>",
        reference=state.tag_to_delete,
        headers={"Content-Type": MANIFEST_MEDIA_TYPE},
        body=suite.manifests[3].content,
    )
    assert is_2xx(resp.status_code), resp


@spec(TITLE, "Setup", "Check how many tags there are before anything gets deleted")
def test_setup_count_tags_before_anything_gets_deleted(oci, oci_settings, state):
    run_only_if(oci_settings.run_content_management_setup)
    resp = oci.do("GET", "/v2/<name>/tags/list")
    assert resp.status_code == 200, resp
    state.num_tags = len(decode_tag_list(resp.body))


# -- Manifest delete ---------------------------------------------------------


@spec(
    TITLE,
    "Manifest delete",
    "DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)",
)
def test_manifest_delete_by_tag_202_unless_disallowed(oci, suite, state):
    resp = oci.do("DELETE", "/v2/<name>/manifests/<reference>", reference=state.tag_to_delete)
    assert resp.status_code in (400, 202, 405), resp
    if resp.status_code == 400:
        errors = resp.errors()
        assert errors, "error response has an empty 'errors' array"
        assert errors[0].get("code") == UNSUPPORTED, errors[0]


@spec(
    TITLE,
    "Manifest delete",
    "DELETE request to manifest (digest) should yield 202 response unless already deleted",
)
def test_manifest_delete_by_digest_202_unless_already_deleted(oci, suite):
    resp = oci.do("DELETE", "/v2/<name>/manifests/<digest>", digest=suite.manifests[3].digest)
    # In the case that the previous request was accepted, this may or may not fail (which is ok)
    assert resp.status_code in (202, 404), resp


@spec(
    TITLE,
    "Manifest delete",
    "GET request to deleted manifest URL should yield 404 response, unless delete is disallowed",
)
def test_manifest_get_deleted_404_unless_delete_disallowed(oci, suite):
    resp = oci.do("GET", "/v2/<name>/manifests/<digest>", digest=suite.manifests[3].digest)
    assert resp.status_code in (404, 200), resp


@spec(TITLE, "Manifest delete", "GET request to tags list should reflect manifest deletion")
def test_manifest_delete_reflected_in_tags_list(oci, state):
    resp = oci.do("GET", "/v2/<name>/tags/list")
    assert resp.status_code == 200, resp
    tags = decode_tag_list(resp.body)
    assert len(tags) < state.num_tags, (tags, state.num_tags)


# -- Blob delete -------------------------------------------------------------


@spec(TITLE, "Blob delete", "DELETE request to blob URL should yield 202 response")
def test_blob_delete_202(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_content_management_setup)
    # config blob
    resp = oci.do("DELETE", "/v2/<name>/blobs/<digest>", digest=suite.configs[3].digest)
    assert resp.status_code in (202, 404, 405), resp
    # layer blob
    resp = oci.do("DELETE", "/v2/<name>/blobs/<digest>", digest=suite.layer_blob_digest)
    assert resp.status_code in (202, 404, 405), resp
    if resp.status_code == 405:
        state.blob_delete_allowed = False


@spec(TITLE, "Blob delete", "GET request to deleted blob URL should yield 404 response")
def test_blob_get_deleted_404(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_content_management_setup)
    run_only_if(state.blob_delete_allowed)
    resp = oci.do("GET", "/v2/<name>/blobs/<digest>", digest=suite.configs[3].digest)
    assert resp.status_code == 404, resp


# -- Teardown: "No teardown required at this time for content management tests"
