"""Shared machinery for the OCI distribution-spec conformance port.

This module is the Python counterpart of the Go suite's ``setup.go`` (settings
read from ``OCI_*`` environment variables, test data built once per run) plus
the small part of the ``reggie`` HTTP client the Go suite relies on.

Nothing here asserts anything about a registry; the assertions live in the
``test_0N_*.py`` modules, one module per Go workflow file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote_plus, urlencode, urlsplit

import httpx
import pytest

# ---------------------------------------------------------------------------
# Constants copied from setup.go
# ---------------------------------------------------------------------------

PULL = "pull"
PUSH = "push"
CONTENT_DISCOVERY = "content discovery"
CONTENT_MANAGEMENT = "content management"

#: Go: ``pull = 1 << iota; push; contentDiscovery; contentManagement; numWorkflows``.
#: ``numWorkflows`` is therefore ``1 << 4 == 16`` and the Go suite builds 16
#: configs and 16 manifests (the discovery workflow uses index 4).
NUM_WORKFLOWS = 1 << 4

WORKFLOW_ENV = {
    PULL: "OCI_TEST_PULL",
    PUSH: "OCI_TEST_PUSH",
    CONTENT_DISCOVERY: "OCI_TEST_CONTENT_DISCOVERY",
    CONTENT_MANAGEMENT: "OCI_TEST_CONTENT_MANAGEMENT",
}

EMPTY_LAYER_TEST_TAG = "emptylayer"
TEST_TAG_NAME = "tagtest0"
ARTIFACT_TYPE_FILTER = "artifactType"
USER_AGENT = "distribution-spec-conformance-tests"

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
EMPTY_JSON_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

# layerBase64String: a gzipped tarball holding test.txt
# ("you bothered to find out what was in here. Congratulations!").
LAYER_BASE64 = (
    "H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0"
    "WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qD"
    "jMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA"
)

ERROR_CODES = [
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
]
UNSUPPORTED = "UNSUPPORTED"

# ---------------------------------------------------------------------------
# Settings (environment variables)
# ---------------------------------------------------------------------------


def parse_bool(value: str | None) -> tuple[bool, bool]:
    """Go's ``strconv.ParseBool``: returns ``(value, ok)``."""
    if value in ("1", "t", "T", "TRUE", "true", "True"):
        return True, True
    if value in ("0", "f", "F", "FALSE", "false", "False"):
        return False, True
    return False, False


# Chosen once per process, like Go's init(): the crossmount repository name and
# the random seed stay the same for every Settings.from_env() call of a run.
_DEFAULT_CROSSMOUNT_NAMESPACE = f"conformance-{uuid.uuid4()}"
_DEFAULT_SEED = time.time_ns() % (1 << 31)


def _env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value, _ = parse_bool(raw)
    return value


@dataclass(frozen=True)
class Settings:
    """Every option of the Go suite, read from the same ``OCI_*`` variables.

    Differences from the Go defaults (the port runs "everything on"):

    * the four ``OCI_TEST_*`` workflow switches default to *enabled* when unset
      (Go: disabled unless set); set one to ``0`` to skip that workflow;
    * ``OCI_NAMESPACE`` defaults to ``conformance/test`` (Go: no default).
    """

    #: OCI_ROOT_URL - registry base URL; unset means "use the live_server fixture".
    root_url: str
    #: OCI_NAMESPACE - repository the suite works in.
    namespace: str
    #: OCI_CROSSMOUNT_NAMESPACE - second repository for cross-repository mounts
    #: (default ``conformance-<uuid4>``, as in Go).
    crossmount_namespace: str
    #: OCI_USERNAME / OCI_PASSWORD - used for Basic auth or the Bearer token request.
    username: str
    password: str
    #: OCI_AUTH_SCOPE - overrides the scope the token server is asked for.
    auth_scope: str
    #: OCI_DEBUG - print headers and bodies of every exchange (shown on failure).
    debug: bool
    #: OCI_TEST_PULL / OCI_TEST_PUSH / OCI_TEST_CONTENT_DISCOVERY /
    #: OCI_TEST_CONTENT_MANAGEMENT - which workflows run.
    workflows: frozenset[str]
    #: OCI_BLOB_DIGEST / OCI_MANIFEST_DIGEST / OCI_TAG_NAME - point the pull
    #: workflow at existing content; all three set disables the pull setup.
    blob_digest: str
    manifest_digest: str
    tag_name: str
    #: OCI_TAG_LIST - comma-separated tags; set disables the discovery setup.
    tag_list: str
    #: OCI_DELETE_MANIFEST_BEFORE_BLOBS - teardown order (Go default: true).
    delete_manifest_before_blobs: bool
    #: OCI_AUTOMATIC_CROSSMOUNT - unset: do not test automatic cross-mounting;
    #: 1: expect it (201); 0: expect it to be off (202).
    run_automatic_crossmount_test: bool
    automatic_crossmount_enabled: bool
    #: OCI_SKIP_EMPTY_LAYER_PUSH_TEST - skip "manifest upload with no layers".
    #: (Documented in the Go README; at the pinned commit the Go test only
    #: warns instead of failing, which this port also does.)
    skip_empty_layer_push_test: bool
    #: OCI_HIDE_SKIPPED_WORKFLOWS / OCI_REPORT_DIR - reporting knobs of the Go
    #: binary; pytest has its own (``-rs``, ``--junitxml``), kept for reference.
    hide_skipped_workflows: bool
    report_dir: str
    #: Port-only knobs (not in the Go suite):
    #: CONFORMANCE_TIMEOUT - seconds per HTTP request (connect/read/write/pool).
    timeout: float
    #: CONFORMANCE_GO_WIRE=1 - frame every request body the way the Go client
    #: does on the wire (Transfer-Encoding: chunked, the explicit
    #: Content-Length header dropped) instead of sending Content-Length.
    go_wire: bool
    #: CONFORMANCE_SEED - seed for the reproducible random blobs
    #: (Go: the Ginkgo random seed).
    seed: int

    @property
    def run_pull_setup(self) -> bool:
        return not (self.tag_name and self.manifest_digest and self.blob_digest)

    @property
    def run_push_setup(self) -> bool:
        return True

    @property
    def run_content_discovery_setup(self) -> bool:
        return not self.tag_list

    @property
    def run_content_management_setup(self) -> bool:
        return True

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        workflows = frozenset(
            wf for wf, var in WORKFLOW_ENV.items() if _env_flag(var, default=True)
        )
        automatic_raw = env.get("OCI_AUTOMATIC_CROSSMOUNT")
        if automatic_raw is None and not env.get("OCI_ROOT_URL"):
            # The hub under test mounts without `from` (automatic content discovery), so its
            # own runs test that behaviour instead of skipping both items.
            automatic_raw = "1"
        seed_raw = env.get("CONFORMANCE_SEED", "")
        return cls(
            root_url=env.get("OCI_ROOT_URL", ""),
            namespace=env.get("OCI_NAMESPACE") or "conformance/test",
            crossmount_namespace=env.get("OCI_CROSSMOUNT_NAMESPACE")
            or _DEFAULT_CROSSMOUNT_NAMESPACE,
            username=env.get("OCI_USERNAME", ""),
            password=env.get("OCI_PASSWORD", ""),
            auth_scope=env.get("OCI_AUTH_SCOPE", ""),
            debug=_env_flag("OCI_DEBUG", default=False),
            workflows=workflows,
            blob_digest=env.get("OCI_BLOB_DIGEST", ""),
            manifest_digest=env.get("OCI_MANIFEST_DIGEST", ""),
            tag_name=env.get("OCI_TAG_NAME", ""),
            tag_list=env.get("OCI_TAG_LIST", ""),
            delete_manifest_before_blobs=_env_flag(
                "OCI_DELETE_MANIFEST_BEFORE_BLOBS", default=True
            ),
            run_automatic_crossmount_test=automatic_raw is not None,
            automatic_crossmount_enabled=parse_bool(automatic_raw)[0],
            skip_empty_layer_push_test=_env_flag("OCI_SKIP_EMPTY_LAYER_PUSH_TEST", False),
            hide_skipped_workflows=_env_flag("OCI_HIDE_SKIPPED_WORKFLOWS", default=False),
            report_dir=env.get("OCI_REPORT_DIR", ""),
            timeout=float(env.get("CONFORMANCE_TIMEOUT") or 30.0),
            go_wire=_env_flag("CONFORMANCE_GO_WIRE", default=False),
            seed=int(seed_raw) if seed_raw else _DEFAULT_SEED,
        )


# ---------------------------------------------------------------------------
# Skips (SkipIfDisabled / RunOnlyIf / RunOnlyIfNot) and warnings (Warn)
# ---------------------------------------------------------------------------


def skip_if_disabled(settings: Settings, workflow: str) -> None:
    if workflow not in settings.workflows:
        report = "\n".join(f"\t{var}={os.environ.get(var, '')}" for var in WORKFLOW_ENV.values())
        pytest.skip(
            "you have skipped this test; if this is an error, check your environment "
            f"variable settings:\n{report}"
        )


def run_only_if(condition: bool) -> None:
    if not condition:
        pytest.skip("you have skipped this test.")


def run_only_if_not(condition: bool) -> None:
    if condition:
        pytest.skip("you have skipped this test.")


#: Messages passed to ``warn``; printed in the terminal summary by conftest.
#: (Python warnings are not used: pyproject turns every warning into an error.)
WARNINGS: list[tuple[str, str]] = []
_current_test: list[str] = [""]


def warn(message: str) -> None:
    """Go's ``Warn``: a non-fatal remark about optional behaviour."""
    WARNINGS.append((_current_test[0], message))
    print(f"WARNING: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------
# Spec-item bookkeeping
# ---------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., Any])

SUITE_DESCRIPTION = "OCI Distribution Conformance Tests"


def spec(*path: str) -> Callable[[F], F]:
    """Attach the Go ``g.Context``/``g.Specify`` path of the test it ports."""

    def decorate(func: F) -> F:
        func.oci_spec = " > ".join(path)  # type: ignore[attr-defined]
        return func

    return decorate


def registered_if_delete_manifest_before_blobs(value: bool) -> Callable[[F], F]:
    """Go registers some teardown specs only ``if deleteManifestBeforeBlobs``
    (before the blob deletions) or only ``if !deleteManifestBeforeBlobs``
    (after them). conftest deselects the copy that Go would not register."""

    def decorate(func: F) -> F:
        func.oci_delete_manifest_before_blobs = value  # type: ignore[attr-defined]
        return func

    return decorate


# ---------------------------------------------------------------------------
# Test data (setup.go init())
# ---------------------------------------------------------------------------


@dataclass
class Blob:
    """Go's ``TestBlob``."""

    content: bytes
    content_length: str
    digest: str


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def random_string(n: int) -> str:
    letters = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-"
    return "".join(secrets.choice(letters) for _ in range(n))


def random_blob(size: int, seed: int) -> tuple[str, bytes]:
    """Reproducible random bytes for a seed (Go: math/rand with that seed)."""
    data = random.Random(seed).randbytes(size)
    return sha256_digest(data), data


def go_json(value: Any) -> bytes:
    """``json.MarshalIndent(v, "", "\\t")`` for the plain values used here."""
    return json.dumps(value, indent="\t").encode()


def descriptor(
    media_type: str,
    digest: str,
    size: int,
    *,
    annotations: Mapping[str, str] | None = None,
    data: bytes | None = None,
    artifact_type: str = "",
    new_unspecified_field: bytes | None = None,
) -> dict[str, Any]:
    """image.go ``descriptor``: field order and omitempty rules of the Go struct.

    ``newUnspecifiedField`` has no ``omitempty``: Go writes ``null`` for a nil
    ``[]byte`` and base64 for bytes, so every descriptor carries the key."""
    out: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
    if annotations:
        out["annotations"] = dict(sorted(annotations.items()))
    if data:
        out["data"] = base64.b64encode(data).decode()
    if artifact_type:
        out["artifactType"] = artifact_type
    out["newUnspecifiedField"] = (
        base64.b64encode(new_unspecified_field).decode()
        if new_unspecified_field is not None
        else None
    )
    return out


def image_manifest(
    *,
    config: dict[str, Any],
    layers: list[dict[str, Any]],
    media_type: str = "",
    artifact_type: str = "",
    subject: dict[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"schemaVersion": 2}
    if media_type:
        out["mediaType"] = media_type
    if artifact_type:
        out["artifactType"] = artifact_type
    out["config"] = config
    out["layers"] = layers
    if subject is not None:
        out["subject"] = subject
    if annotations:
        out["annotations"] = dict(sorted(annotations.items()))
    return out


def image_index(
    *,
    manifests: list[dict[str, Any]],
    media_type: str = "",
    artifact_type: str = "",
    subject: dict[str, Any] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"schemaVersion": 2}
    if media_type:
        out["mediaType"] = media_type
    if artifact_type:
        out["artifactType"] = artifact_type
    out["manifests"] = manifests
    if subject is not None:
        out["subject"] = subject
    if annotations:
        out["annotations"] = dict(sorted(annotations.items()))
    return out


@dataclass
class SuiteData:
    """All global test data of setup.go, built once per pytest session."""

    seed: int
    configs: list[Blob]
    manifests: list[Blob]
    layer_blob_data: bytes
    layer_blob_digest: str
    layer_blob_content_length: str
    empty_layer_manifest_content: bytes
    empty_layer_manifest_digest: str
    nonexistent_manifest: str
    invalid_manifest_content: bytes
    test_blob_a: bytes
    test_blob_a_length: str
    test_blob_a_digest: str
    empty_json_blob: bytes
    empty_json_descriptor: dict[str, Any]
    test_ref_blob_a: bytes
    test_ref_blob_a_length: str
    test_ref_blob_a_digest: str
    test_ref_artifact_type_a: str
    test_ref_blob_b: bytes
    test_ref_blob_b_length: str
    test_ref_blob_b_digest: str
    test_ref_artifact_type_b: str
    test_ref_artifact_type_index: str
    test_annotation_key: str
    test_annotation_values: dict[str, str]
    refs_manifest_a_config_artifact_content: bytes
    refs_manifest_a_config_artifact_digest: str
    refs_manifest_b_config_artifact_content: bytes
    refs_manifest_b_config_artifact_digest: str
    refs_manifest_a_layer_artifact_content: bytes
    refs_manifest_a_layer_artifact_digest: str
    refs_manifest_b_layer_artifact_content: bytes
    refs_manifest_b_layer_artifact_digest: str
    refs_manifest_c_layer_artifact_content: bytes
    refs_manifest_c_layer_artifact_digest: str
    refs_index_artifact_content: bytes
    refs_index_artifact_digest: str
    dummy_digest: str
    # chunked blob (setupChunkedBlob); the push workflow may rebuild it
    test_blob_b: bytes = b""
    test_blob_b_digest: str = ""
    test_blob_b_chunk1: bytes = b""
    test_blob_b_chunk1_length: str = ""
    test_blob_b_chunk1_range: str = ""
    test_blob_b_chunk2: bytes = b""
    test_blob_b_chunk2_length: str = ""
    test_blob_b_chunk2_range: str = ""
    error_codes: list[str] = field(default_factory=lambda: list(ERROR_CODES))

    def setup_chunked_blob(self, size: int) -> None:
        dig, blob = random_blob(size, self.seed + 2)
        self.test_blob_b = blob
        self.test_blob_b_digest = dig
        self.test_blob_b_chunk1 = blob[: size // 2 + 1]
        self.test_blob_b_chunk1_length = str(len(self.test_blob_b_chunk1))
        self.test_blob_b_chunk1_range = f"0-{len(self.test_blob_b_chunk1) - 1}"
        self.test_blob_b_chunk2 = blob[size // 2 + 1 :]
        self.test_blob_b_chunk2_length = str(len(self.test_blob_b_chunk2))
        self.test_blob_b_chunk2_range = f"{len(self.test_blob_b_chunk1)}-{len(blob) - 1}"


def build_suite_data(settings: Settings) -> SuiteData:
    seed = settings.seed

    # a unique config for each workflow category (random author => unique digest)
    configs: list[Blob] = []
    for _ in range(NUM_WORKFLOWS):
        config = {
            "author": random_string(16),
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
        }
        content = go_json(config)
        configs.append(
            Blob(content, str(len(content)), settings.blob_digest or sha256_digest(content))
        )

    layer_blob_data = base64.b64decode(LAYER_BASE64)
    layer_blob_digest = sha256_digest(layer_blob_data)
    layers = [descriptor(LAYER_MEDIA_TYPE, layer_blob_digest, len(layer_blob_data))]

    def config_descriptor(i: int) -> dict[str, Any]:
        return descriptor(
            CONFIG_MEDIA_TYPE,
            configs[i].digest,
            len(configs[i].content),
            data=configs[i].content,  # must be the config content
            new_unspecified_field=b"hello world",  # content doesn't matter
        )

    # a unique manifest for each workflow category
    manifests: list[Blob] = []
    for i in range(NUM_WORKFLOWS):
        manifest = image_manifest(
            media_type=MANIFEST_MEDIA_TYPE, config=config_descriptor(i), layers=layers
        )
        content = go_json(manifest)
        manifests.append(
            Blob(content, str(len(content)), settings.manifest_digest or sha256_digest(content))
        )

    # used in push test (note: no mediaType, as in Go)
    empty_layer_manifest_content = go_json(image_manifest(config=config_descriptor(1), layers=[]))

    test_blob_a_digest, test_blob_a = random_blob(42, seed + 1)

    # used in referrers test (artifacts with Subject field set)
    empty_json_blob = b"{}"
    empty_json = descriptor(EMPTY_JSON_MEDIA_TYPE, sha256_digest(empty_json_blob), 2)

    ref_blob_a = b"NHL Peanut Butter on my NHL bagel"
    ref_type_a = "application/vnd.nhl.peanut.butter.bagel"
    ref_blob_b = b"NBA Strawberry Jam on my NBA croissant"
    ref_type_b = "application/vnd.nba.strawberry.jam.croissant"
    annotation_key = "org.opencontainers.conformance.test"
    annotation_values: dict[str, str] = {}

    def subject(i: int) -> dict[str, Any]:
        return descriptor(
            MANIFEST_MEDIA_TYPE, sha256_digest(manifests[i].content), len(manifests[i].content)
        )

    def add(doc: dict[str, Any]) -> tuple[bytes, str]:
        content = go_json(doc)
        digest = sha256_digest(content)
        if "annotations" in doc:
            annotation_values[digest] = doc["annotations"][annotation_key]
        return content, digest

    # artifact with Subject ref using config.MediaType = artifactType
    a_config = add(
        image_manifest(
            media_type=MANIFEST_MEDIA_TYPE,
            config=descriptor(ref_type_a, sha256_digest(ref_blob_a), len(ref_blob_a)),
            subject=subject(4),
            layers=[empty_json],
            annotations={annotation_key: "test config a"},
        )
    )
    b_config = add(
        image_manifest(
            media_type=MANIFEST_MEDIA_TYPE,
            config=descriptor(ref_type_b, sha256_digest(ref_blob_b), len(ref_blob_b)),
            subject=subject(4),
            layers=[empty_json],
            annotations={annotation_key: "test config b"},
        )
    )
    # artifact with Subject ref using ArtifactType, config.MediaType = emptyJSON
    a_layer = add(
        image_manifest(
            media_type=MANIFEST_MEDIA_TYPE,
            artifact_type=ref_type_a,
            config=empty_json,
            subject=subject(4),
            layers=[descriptor(ref_type_a, sha256_digest(ref_blob_a), len(ref_blob_a))],
            annotations={annotation_key: "test layer a"},
        )
    )
    b_layer = add(
        image_manifest(
            media_type=MANIFEST_MEDIA_TYPE,
            artifact_type=ref_type_b,
            config=empty_json,
            subject=subject(4),
            layers=[descriptor(ref_type_b, sha256_digest(ref_blob_b), len(ref_blob_b))],
            annotations={annotation_key: "test layer b"},
        )
    )
    # same as B but based on a subject that has not been pushed (manifests[3])
    c_layer = add(
        image_manifest(
            media_type=MANIFEST_MEDIA_TYPE,
            artifact_type=ref_type_b,
            config=empty_json,
            subject=subject(3),
            layers=[descriptor(ref_type_b, sha256_digest(ref_blob_b), len(ref_blob_b))],
        )
    )
    ref_type_index = "application/vnd.food.stand"
    index = add(
        image_index(
            media_type=INDEX_MEDIA_TYPE,
            artifact_type=ref_type_index,
            manifests=[
                descriptor(MANIFEST_MEDIA_TYPE, a_config[1], len(a_config[0])),
                descriptor(MANIFEST_MEDIA_TYPE, a_layer[1], len(a_layer[0])),
            ],
            subject=subject(4),
            annotations={annotation_key: "test index"},
        )
    )

    data = SuiteData(
        seed=seed,
        configs=configs,
        manifests=manifests,
        layer_blob_data=layer_blob_data,
        layer_blob_digest=layer_blob_digest,
        layer_blob_content_length=str(len(layer_blob_data)),
        empty_layer_manifest_content=empty_layer_manifest_content,
        empty_layer_manifest_digest=sha256_digest(empty_layer_manifest_content),
        nonexistent_manifest=".INVALID_MANIFEST_NAME",
        invalid_manifest_content=b"blablabla",
        test_blob_a=test_blob_a,
        test_blob_a_length=str(len(test_blob_a)),
        test_blob_a_digest=test_blob_a_digest,
        empty_json_blob=empty_json_blob,
        empty_json_descriptor=empty_json,
        test_ref_blob_a=ref_blob_a,
        test_ref_blob_a_length=str(len(ref_blob_a)),
        test_ref_blob_a_digest=sha256_digest(ref_blob_a),
        test_ref_artifact_type_a=ref_type_a,
        test_ref_blob_b=ref_blob_b,
        test_ref_blob_b_length=str(len(ref_blob_b)),
        test_ref_blob_b_digest=sha256_digest(ref_blob_b),
        test_ref_artifact_type_b=ref_type_b,
        test_ref_artifact_type_index=ref_type_index,
        test_annotation_key=annotation_key,
        test_annotation_values=annotation_values,
        refs_manifest_a_config_artifact_content=a_config[0],
        refs_manifest_a_config_artifact_digest=a_config[1],
        refs_manifest_b_config_artifact_content=b_config[0],
        refs_manifest_b_config_artifact_digest=b_config[1],
        refs_manifest_a_layer_artifact_content=a_layer[0],
        refs_manifest_a_layer_artifact_digest=a_layer[1],
        refs_manifest_b_layer_artifact_content=b_layer[0],
        refs_manifest_b_layer_artifact_digest=b_layer[1],
        refs_manifest_c_layer_artifact_content=c_layer[0],
        refs_manifest_c_layer_artifact_digest=c_layer[1],
        refs_index_artifact_content=index[0],
        refs_index_artifact_digest=index[1],
        dummy_digest=sha256_digest(b"hello world"),
    )
    data.setup_chunked_blob(42)
    return data


# ---------------------------------------------------------------------------
# HTTP client (the parts of github.com/bloodorangeio/reggie the suite uses)
# ---------------------------------------------------------------------------


class RequestInvalid(AssertionError):
    """reggie refuses to send a URL with unfilled placeholders."""


class Response:
    """reggie.Response: status, headers, body, Location helpers, Errors()."""

    def __init__(self, raw: httpx.Response) -> None:
        self.raw = raw
        self.status_code = raw.status_code
        self.headers = raw.headers
        self.body = raw.content

    def header(self, name: str) -> str:
        """Go ``resp.Header().Get(name)``: first value or ""."""
        values = self.headers.get_list(name)
        return values[0] if values else ""

    def get_relative_location(self) -> str:
        """Path (plus ``?query``) of the Location header; "" when absent."""
        parts = urlsplit(self.header("Location"))
        path = parts.path
        if parts.query:
            path += "?" + parts.query
        return path

    def get_absolute_location(self) -> str:
        return self.header("Location")

    def errors(self) -> list[dict[str, Any]]:
        """reggie ``resp.Errors()``: the ``errors`` array of an OCI error body.

        Raises ``ValueError`` where Go's ``json.Unmarshal`` returns an error."""
        doc = json.loads(self.body.decode("utf-8"))
        if doc is None:
            return []
        if not isinstance(doc, dict):
            raise ValueError(f"error body is not a JSON object: {doc!r}")
        errs = doc.get("errors") or []
        if not isinstance(errs, list) or not all(isinstance(e, dict) for e in errs):
            raise ValueError(f"'errors' is not an array of objects: {errs!r}")
        return errs

    def __repr__(self) -> str:
        req = self.raw.request
        return f"<{req.method} {req.url} -> {self.status_code}>"


_PLACEHOLDERS = re.compile(r"<name>|<reference>|<digest>|<session_id>|//{2,}")
_BODYLESS = {"GET", "HEAD", "OPTIONS"}  # resty drops the body for these methods
_WWW_AUTH_PARAM = re.compile(r'([a-zA-z]+)="(.+?)"')


class OCIClient:
    """Builds and sends requests the way the Go suite's reggie client does.

    * ``path`` may contain ``<name>``, ``<reference>``, ``<digest>``,
      ``<session_id>``; each is replaced only when a value is given, and a
      request that still contains one is refused (Go: ``err != nil``).
    * the path is appended to the root URL (so a ``Location`` is always
      re-based on ``OCI_ROOT_URL``, like ``GetRelativeLocation`` + ``NewRequest``);
    * query parameters are appended to any query already in the path,
      url-encoded and sorted by key (Go ``url.Values.Encode``);
    * redirects are followed (reggie: ``FlexibleRedirectPolicy(20)``);
    * no cookie jar, no ``Accept``/``Accept-Encoding`` unless a test sets one;
    * GET/HEAD/OPTIONS never carry a body (resty drops it);
    * ``Content-Length`` is always the real body length: the Go client never
      sends the explicit header a test sets (net/http strips it), so e.g. the
      streamed PUT with ``Content-Length: 42`` and no body goes out with 0;
    * on 401 with ``WWW-Authenticate`` it retries once with Basic auth or a
      Bearer token fetched from the realm (OCI_USERNAME / OCI_PASSWORD).
    """

    def __init__(
        self, base_url: str, namespace: str, crossmount_namespace: str, settings: Settings
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_name = namespace
        self.crossmount_namespace = crossmount_namespace
        self.settings = settings
        self.http = httpx.Client(
            follow_redirects=True,
            max_redirects=20,
            timeout=httpx.Timeout(settings.timeout),
            headers={"User-Agent": USER_AGENT},
        )
        for name in ("Accept", "Accept-Encoding"):
            self.http.headers.pop(name, None)

    def close(self) -> None:
        self.http.close()

    def url_for(
        self,
        path: str,
        *,
        name: str = "",
        reference: str = "",
        digest: str = "",
        session_id: str = "",
        query: Mapping[str, str] | None = None,
    ) -> str:
        replacements = {
            "<name>": name or self.default_name,
            "<reference>": reference,
            "<digest>": digest,
            "<session_id>": session_id,
        }
        for placeholder, value in replacements.items():
            if value:
                path = path.replace(placeholder, value)
        url = f"{self.base_url}/{path.removeprefix('/')}"
        if query:
            encoded = urlencode(sorted(query.items()), quote_via=quote_plus)
            url += ("&" if urlsplit(url).query else "?") + encoded
        if _PLACEHOLDERS.search(url):
            raise RequestInvalid(f"request is invalid: {url}")
        return url

    def do(
        self,
        method: str,
        path: str,
        *,
        name: str = "",
        reference: str = "",
        digest: str = "",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        stream: bool = False,
    ) -> Response:
        """Send one request. ``stream=True`` sends the body chunked (the
        "Blob Upload Streamed" PATCH, which sets no Content-Length in Go)."""
        url = self.url_for(path, name=name, reference=reference, digest=digest, query=query)
        hdrs = {k: v for k, v in (headers or {}).items() if k.lower() != "content-length"}
        if method in _BODYLESS:
            body = None
        resp = self._send(method, url, hdrs, body, stream or self.settings.go_wire)
        if resp.status_code == 401 and resp.headers.get("WWW-Authenticate"):
            auth = self._authorization(resp.headers["WWW-Authenticate"])
            if auth is not None:
                hdrs["Authorization"] = auth
                resp = self._send(method, url, hdrs, body, stream or self.settings.go_wire)
        return Response(resp)

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, chunked: bool
    ) -> httpx.Response:
        content: bytes | Iterator[bytes] | None = body
        if body and chunked:
            content = iter([body])
        self._log_request(method, url, headers, body, chunked)
        resp = self.http.request(method, url, headers=headers, content=content)
        self.http.cookies.clear()  # reggie: client.SetCookieJar(nil)
        self._log_response(resp)
        return resp

    def _authorization(self, challenge: str) -> str | None:
        scheme = challenge.split(" ", 1)[0].strip().lower()
        user, password = self.settings.username, self.settings.password
        if scheme == "basic":
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return f"Basic {token}"
        if scheme != "bearer":
            return None
        params = dict(_WWW_AUTH_PARAM.findall(challenge))
        query = {"service": params.get("service", "")}
        scope = self.settings.auth_scope or params.get("scope", "")
        if scope:
            query["scope"] = scope
        token_resp = self.http.get(
            params.get("realm", ""),
            params=query,
            headers={"Accept": "application/json"},
            auth=(user, password) if (user or password) else None,
        )
        info = token_resp.json()
        token = info.get("token") or info.get("access_token") or ""
        return f"Bearer {token}"

    # -- logging: printed output is shown by pytest for failing tests --------

    def _log_request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, chunked: bool
    ) -> None:
        framing = "chunked" if body and chunked else f"{len(body or b'')} bytes"
        print(f"--> {method} {url} [{framing}]")
        if self.settings.debug:
            for key, value in headers.items():
                print(f"    {key}: {value}")
            if body:
                print(f"    {body[:2048]!r}")

    def _log_response(self, resp: httpx.Response) -> None:
        print(f"<-- {resp.status_code} {resp.reason_phrase}")
        if self.settings.debug:
            for key, value in resp.headers.items():
                print(f"    {key}: {value}")
            if resp.content:
                print(f"    {resp.content[:2048]!r}")


# ---------------------------------------------------------------------------
# Small helpers shared by the workflow modules
# ---------------------------------------------------------------------------


def is_2xx(status: int) -> bool:
    return 200 <= status < 300


def require(resp: Response | None) -> Response:
    """A Go test dereferencing a nil ``*reggie.Response`` panics (= fails)."""
    assert resp is not None, "no response from an earlier step (nil pointer in Go)"
    return resp


def go_index(items: list[str], i: int) -> str:
    """``items[i]`` with Go semantics: out of range panics (= the spec fails)."""
    assert 0 <= i < len(items), f"index out of range [{i}] with length {len(items)}"
    return items[i]


def get_tag_list(resp: Response) -> list[str]:
    """setup.go ``getTagList``: tags of a tag-list body, [] if it does not parse."""
    try:
        return decode_tag_list(resp.body)
    except ValueError:
        return []


def decode_tag_list(body: bytes) -> list[str]:
    """``json.Unmarshal`` into ``TagList``; raises ValueError where Go errors."""
    doc = json.loads(body.decode("utf-8"))
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"tag list is not a JSON object: {doc!r}")
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"tag list 'name' is not a string: {name!r}")
    tags = doc.get("tags")
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError(f"tag list 'tags' is not an array of strings: {tags!r}")
    return tags


def decode_index(body: bytes) -> list[dict[str, Any]]:
    """``json.Unmarshal`` into image.go ``index``; returns the descriptors."""
    doc = json.loads(body.decode("utf-8"))
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise ValueError(f"index is not a JSON object: {doc!r}")
    manifests = doc.get("manifests")
    if manifests is None:
        return []
    if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
        raise ValueError(f"'manifests' is not an array of descriptors: {manifests!r}")
    for desc in manifests:
        ann = desc.get("annotations")
        if ann is not None and not (
            isinstance(ann, dict) and all(isinstance(v, str) for v in ann.values())
        ):
            raise ValueError(f"descriptor annotations are not a string map: {ann!r}")
        if not isinstance(desc.get("digest", ""), str):
            raise ValueError(f"descriptor digest is not a string: {desc!r}")
    return manifests


def set_current_test(nodeid: str) -> None:
    _current_test[0] = nodeid
