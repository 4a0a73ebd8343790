"""Workflow 3 - Content Discovery (port of conformance/03_discovery_test.go).

Tag listing and the referrers API. Tests run in file order and share module
state (``num_tags``, ``tag_list``), like the Go specs.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ._support import (
    ARTIFACT_TYPE_FILTER,
    CONTENT_DISCOVERY,
    EMPTY_JSON_DIGEST,
    INDEX_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    TEST_TAG_NAME,
    OCIClient,
    Response,
    Settings,
    SuiteData,
    decode_index,
    get_tag_list,
    go_index,
    is_2xx,
    registered_if_delete_manifest_before_blobs,
    run_only_if,
    run_only_if_not,
    skip_if_disabled,
    spec,
    warn,
)

TITLE = "Content Discovery"
OCTET = "application/octet-stream"


@pytest.fixture(scope="module")
def state(conformance_registry) -> SimpleNamespace:
    """Module state (the Go test file's closure variables), per registry."""
    return SimpleNamespace(num_tags=4, tag_list=[])


@pytest.fixture(autouse=True)
def _workflow_enabled(oci_settings: Settings) -> None:
    skip_if_disabled(oci_settings, CONTENT_DISCOVERY)


def _push_blob(oci: OCIClient, digest: str, length: str, content: bytes) -> None:
    resp = oci.do("POST", "/v2/<name>/blobs/uploads/")
    resp = oci.do(
        "PUT",
        resp.get_relative_location(),
        query={"digest": digest},
        headers={"Content-Type": OCTET, "Content-Length": length},
        body=content,
    )
    assert is_2xx(resp.status_code), resp


def _push_manifest(oci: OCIClient, reference: str, media_type: str, content: bytes) -> Response:
    resp = oci.do(
        "PUT",
        "/v2/<name>/manifests/<reference>",
        reference=reference,
        headers={"Content-Type": media_type},
        body=content,
    )
    assert is_2xx(resp.status_code), resp
    return resp


def _referrers(oci: OCIClient, digest: str, query: dict[str, str] | None = None) -> Response:
    resp = oci.do("GET", "/v2/<name>/referrers/<digest>", digest=digest, query=query)
    assert resp.status_code == 200, resp
    assert resp.header("Content-Type") == INDEX_MEDIA_TYPE, resp.headers
    return resp


def _check_annotations(suite: SuiteData, manifests: list[dict]) -> None:
    for desc in manifests:
        annotations = desc.get("annotations") or {}
        assert len(annotations) == 1, desc
        expected = suite.test_annotation_values.get(desc.get("digest", ""), "")
        assert annotations.get(suite.test_annotation_key, "") == expected, desc


# -- Setup -------------------------------------------------------------------


@spec(TITLE, "Setup", "Populate registry with test blob")
def test_setup_populate_registry_with_test_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_discovery_setup)
    c = suite.configs[2]
    _push_blob(oci, c.digest, c.content_length, c.content)


@spec(TITLE, "Setup", "Populate registry with test layer")
def test_setup_populate_registry_with_test_layer(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_discovery_setup)
    _push_blob(oci, suite.layer_blob_digest, suite.layer_blob_content_length, suite.layer_blob_data)


@spec(TITLE, "Setup", "Populate registry with test tags")
def test_setup_populate_registry_with_test_tags(oci, oci_settings, suite, state):
    run_only_if(oci_settings.run_content_discovery_setup)
    for i in range(state.num_tags):
        tag = f"test{i}"
        state.tag_list.append(tag)
        _push_manifest(oci, tag, MANIFEST_MEDIA_TYPE, suite.manifests[2].content)
    resp = oci.do("GET", "/v2/<name>/tags/list")
    state.tag_list = get_tag_list(resp)


@spec(TITLE, "Setup", "Populate registry with test tags (no push)")
def test_setup_populate_registry_with_test_tags_no_push(oci_settings, state):
    run_only_if_not(oci_settings.run_content_discovery_setup)
    state.tag_list = oci_settings.tag_list.split(",")


@spec(TITLE, "Setup", "References setup")
def test_setup_references(oci, oci_settings, suite: SuiteData):
    run_only_if(oci_settings.run_content_discovery_setup)
    subject = suite.manifests[4].digest

    # Populate registry with empty JSON blob; validate expected empty JSON blob digest
    assert suite.empty_json_descriptor["digest"] == EMPTY_JSON_DIGEST
    _push_blob(
        oci,
        suite.empty_json_descriptor["digest"],
        str(suite.empty_json_descriptor["size"]),
        suite.empty_json_blob,
    )
    # Populate registry with reference blob before the image manifest is pushed
    _push_blob(
        oci, suite.test_ref_blob_a_digest, suite.test_ref_blob_a_length, suite.test_ref_blob_a
    )

    # test references manifest (config.MediaType = artifactType)
    resp = _push_manifest(
        oci,
        suite.refs_manifest_a_config_artifact_digest,
        MANIFEST_MEDIA_TYPE,
        suite.refs_manifest_a_config_artifact_content,
    )
    assert resp.header("OCI-Subject") == subject, resp.headers
    # test references manifest (ArtifactType, config.MediaType = emptyJSON)
    resp = _push_manifest(
        oci,
        suite.refs_manifest_a_layer_artifact_digest,
        MANIFEST_MEDIA_TYPE,
        suite.refs_manifest_a_layer_artifact_content,
    )
    assert resp.header("OCI-Subject") == subject, resp.headers
    # test index manifest
    resp = _push_manifest(
        oci,
        suite.refs_index_artifact_digest,
        INDEX_MEDIA_TYPE,
        suite.refs_index_artifact_content,
    )
    assert resp.header("OCI-Subject") == subject, resp.headers

    # test blob, test layer, then the subject manifest itself (tagged)
    c = suite.configs[4]
    _push_blob(oci, c.digest, c.content_length, c.content)
    _push_blob(oci, suite.layer_blob_digest, suite.layer_blob_content_length, suite.layer_blob_data)
    _push_manifest(oci, TEST_TAG_NAME, MANIFEST_MEDIA_TYPE, suite.manifests[4].content)

    # Populate registry with reference blob after the image manifest is pushed
    _push_blob(
        oci, suite.test_ref_blob_b_digest, suite.test_ref_blob_b_length, suite.test_ref_blob_b
    )

    resp = _push_manifest(
        oci,
        suite.refs_manifest_b_config_artifact_digest,
        MANIFEST_MEDIA_TYPE,
        suite.refs_manifest_b_config_artifact_content,
    )
    assert resp.header("OCI-Subject") == subject, resp.headers
    resp = _push_manifest(
        oci,
        suite.refs_manifest_b_layer_artifact_digest,
        MANIFEST_MEDIA_TYPE,
        suite.refs_manifest_b_layer_artifact_content,
    )
    assert resp.header("OCI-Subject") == subject, resp.headers

    # test references manifest to a non-existent subject
    resp = _push_manifest(
        oci,
        suite.refs_manifest_c_layer_artifact_digest,
        MANIFEST_MEDIA_TYPE,
        suite.refs_manifest_c_layer_artifact_content,
    )
    assert resp.header("OCI-Subject") == suite.manifests[3].digest, resp.headers


# -- Test content discovery endpoints (listing tags) -------------------------

TAGS = "Test content discovery endpoints (listing tags)"


@spec(TITLE, TAGS, "GET request to list tags should yield 200 response")
def test_list_tags_200(oci, state):
    resp = oci.do("GET", "/v2/<name>/tags/list")
    assert resp.status_code == 200, resp
    state.tag_list = get_tag_list(resp)
    state.num_tags = len(state.tag_list)


@spec(TITLE, TAGS, "GET number of tags should be limitable by `n` query parameter")
def test_list_tags_limited_by_n(oci, state):
    num_results = state.num_tags // 2
    resp = oci.do("GET", "/v2/<name>/tags/list", query={"n": str(num_results)})
    assert resp.status_code == 200, resp
    state.tag_list = get_tag_list(resp)
    assert len(state.tag_list) == num_results, state.tag_list


@spec(TITLE, TAGS, "GET start of tag is set by `last` query parameter")
def test_list_tags_start_set_by_last(oci, state):
    num_results = state.num_tags // 2
    resp = oci.do("GET", "/v2/<name>/tags/list", query={"n": str(num_results)})
    state.tag_list = get_tag_list(resp)
    last = go_index(state.tag_list, num_results - 1)
    resp = oci.do("GET", "/v2/<name>/tags/list", query={"n": str(num_results), "last": last})
    assert resp.status_code == 200, resp
    # As in Go, the two checks below look at the list from the *first* request.
    assert len(state.tag_list) <= num_results, state.tag_list
    assert go_index(state.tag_list, num_results - 1) in state.tag_list


# -- Test content discovery endpoints (listing references) -------------------

REFS = "Test content discovery endpoints (listing references)"


@spec(TITLE, REFS, "GET request to nonexistent blob should result in empty 200 response")
def test_referrers_nonexistent_blob_empty_200(oci, suite):
    resp = _referrers(oci, suite.dummy_digest)
    assert len(decode_index(resp.body)) == 0, resp.body


@spec(TITLE, REFS, "GET request to existing blob should yield 200")
def test_referrers_existing_manifest_200(oci, suite):
    resp = _referrers(oci, suite.manifests[4].digest)
    manifests = decode_index(resp.body)
    assert len(manifests) == 5, manifests
    assert manifests[0].get("digest") != manifests[1].get("digest"), manifests
    _check_annotations(suite, manifests)


@spec(TITLE, REFS, "GET request to existing blob with filter should yield 200")
def test_referrers_existing_manifest_with_filter_200(oci, suite):
    resp = _referrers(
        oci, suite.manifests[4].digest, query={"artifactType": suite.test_ref_artifact_type_a}
    )
    manifests = decode_index(resp.body)
    # "OCI-Filters-Applied: artifactType" denotes that an artifactType filter was applied
    if resp.header("OCI-Filters-Applied"):
        assert len(manifests) == 2, manifests
        assert resp.header("OCI-Filters-Applied") == ARTIFACT_TYPE_FILTER, resp.headers
        _check_annotations(suite, manifests)
    else:
        assert len(manifests) == 5, manifests
        _check_annotations(suite, manifests)
        warn("filtering by artifact-type is not implemented")


@spec(TITLE, REFS, "GET request to missing manifest should yield 200")
def test_referrers_missing_manifest_200(oci, suite):
    resp = _referrers(oci, suite.manifests[3].digest)
    manifests = decode_index(resp.body)
    assert len(manifests) == 1, manifests
    assert manifests[0].get("digest", "") == suite.refs_manifest_c_layer_artifact_digest


# -- Teardown ----------------------------------------------------------------


def _delete(oci: OCIClient, path: str, *allowed: int, **ref: str) -> None:
    resp = oci.do("DELETE", path, **ref)
    assert is_2xx(resp.status_code) or resp.status_code in allowed, resp


def _delete_created_manifests(oci: OCIClient, suite: SuiteData) -> None:
    references = [
        suite.refs_index_artifact_digest,
        suite.manifests[2].digest,
        suite.manifests[4].digest,
        suite.refs_manifest_a_config_artifact_digest,
        suite.refs_manifest_a_layer_artifact_digest,
        TEST_TAG_NAME,
        suite.refs_manifest_b_config_artifact_digest,
        suite.refs_manifest_b_layer_artifact_digest,
        suite.refs_manifest_c_layer_artifact_digest,
    ]
    for ref in references:
        _delete(oci, "/v2/<name>/manifests/<digest>", 405, 404, digest=ref)


@registered_if_delete_manifest_before_blobs(True)
@spec(TITLE, "Teardown", "Delete created manifest & associated tags")
def test_teardown_delete_created_manifests_and_tags_before_blobs(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_discovery_setup)
    _delete_created_manifests(oci, suite)


@spec(TITLE, "Teardown", "Delete config blob created in tests")
def test_teardown_delete_config_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_discovery_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", 405, digest=suite.configs[2].digest)


@spec(TITLE, "Teardown", "Delete layer blob created in setup")
def test_teardown_delete_layer_blob(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_discovery_setup)
    _delete(oci, "/v2/<name>/blobs/<digest>", 405, digest=suite.layer_blob_digest)


@registered_if_delete_manifest_before_blobs(False)
@spec(TITLE, "Teardown", "Delete created manifest & associated tags")
def test_teardown_delete_created_manifests_and_tags_after_blobs(oci, oci_settings, suite):
    run_only_if(oci_settings.run_content_discovery_setup)
    _delete_created_manifests(oci, suite)


@spec(TITLE, "Teardown", "References teardown")
def test_teardown_references(oci, oci_settings, suite: SuiteData):
    run_only_if(oci_settings.run_content_discovery_setup)
    manifest_refs = [
        ("<reference>", suite.refs_index_artifact_digest),
        ("<reference>", suite.refs_manifest_a_config_artifact_digest),
        ("<reference>", suite.refs_manifest_a_layer_artifact_digest),
        ("<digest>", suite.manifests[4].digest),
        ("<reference>", suite.refs_manifest_b_config_artifact_digest),
        ("<reference>", suite.refs_manifest_b_layer_artifact_digest),
    ]

    def delete_manifests() -> None:
        for placeholder, ref in manifest_refs:
            if placeholder == "<digest>":
                _delete(oci, "/v2/<name>/manifests/<digest>", 405, 404, digest=ref)
            else:
                _delete(oci, "/v2/<name>/manifests/<reference>", 405, 404, reference=ref)

    if oci_settings.delete_manifest_before_blobs:
        delete_manifests()
    # config blob, reference blobs, empty JSON blob created in setup
    for digest in (
        suite.configs[4].digest,
        suite.test_ref_blob_a_digest,
        suite.test_ref_blob_b_digest,
        suite.empty_json_descriptor["digest"],
    ):
        _delete(oci, "/v2/<name>/blobs/<digest>", 405, 404, digest=digest)
    if not oci_settings.delete_manifest_before_blobs:
        delete_manifests()
