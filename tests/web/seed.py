"""Filters to browse: the real AssemblyScript filter and small hand-assembled proxy-wasm
modules (core spec binary format), pushed over HTTP in the CNCF variant (config
application/vnd.wasm.config.v0+json, one application/wasm layer) with OCI annotations."""

from __future__ import annotations

import hashlib
import json

import httpx

from tests.support.wasm_asm import custom, producers_payload, proxy_filter

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CNCF_CONFIG = "application/vnd.wasm.config.v0+json"
WASM_LAYER = "application/wasm"


def proxy_module(
    salt: str, abi: str = "0_2_0", language: tuple[str, str] = ("Rust", "1.78.0")
) -> bytes:
    """A valid proxy-wasm filter shape: imports env.proxy_log, exports memory,
    proxy_abi_version_<abi>, proxy_on_context_create and proxy_on_request_headers (empty
    bodies), with a producers section naming the toolchain; ``salt`` makes the bytes unique."""
    exports = [f"proxy_abi_version_{abi}", "proxy_on_context_create", "proxy_on_request_headers"]
    out = proxy_filter(exports)
    lang, version = language
    producers = {"language": [(lang, "")], "processed-by": [(lang.lower() + "c", version)]}
    out += custom("producers", producers_payload(producers))
    return out + custom("hub-web-test", salt.encode())


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_filter(
    client: httpx.Client,
    repo: str,
    tag: str,
    wasm: bytes,
    annotations: dict[str, str] | None = None,
) -> str:
    """Push ``wasm`` as repo:tag; returns the manifest digest."""
    config = b"{}"
    for blob in (config, wasm):
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest(blob)}, content=blob)
        assert r.status_code == 201, r.text
    manifest: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": CNCF_CONFIG,
        "config": {"mediaType": CNCF_CONFIG, "digest": digest(config), "size": len(config)},
        "layers": [
            {
                "mediaType": WASM_LAYER,
                "digest": digest(wasm),
                "size": len(wasm),
                "annotations": {"org.opencontainers.image.title": "filter.wasm"},
            }
        ],
    }
    if annotations:
        manifest["annotations"] = annotations
    raw = json.dumps(manifest).encode()
    r = client.put(
        f"/v2/{repo}/manifests/{tag}", content=raw, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return digest(raw)


def describe(client: httpx.Client, repo: str, **fields: object) -> None:
    r = client.patch(f"/api/v1/repositories/{repo}", json=fields)
    assert r.status_code == 200, r.text


README = """# add-header

Adds a response header to every request that passes through Envoy. Built with
[AssemblyScript](https://www.assemblyscript.org/) and `@solo-io/proxy-runtime`.

## Configure

| option | default | meaning |
|---|---|---|
| `header` | `hello` | the header's name |
| `value` | `world` | its value |

```yaml
config:
  header: x-hub
  value: "1"
```

<script>document.title = "pwned"</script>
<a href="javascript:alert(1)">not a link</a>
"""

CATALOG = [
    # (repository, description, keywords, language)
    (
        "acme/rate-limit",
        "Token-bucket rate limiting per client IP or header.",
        "ratelimit,traffic",
        ("Rust", "1.78.0"),
    ),
    (
        "acme/jwt-auth",
        "Verifies JWTs against a JWKS and forwards the claims as headers.",
        "auth,jwt,security",
        ("Rust", "1.80.1"),
    ),
    (
        "tetrate/cors",
        "CORS preflight answers and response headers without a round trip.",
        "cors,headers",
        ("TinyGo", "0.31.2"),
    ),
    (
        "tetrate/geoip",
        "Tags requests with the client's country from a MaxMind database.",
        "geo,headers",
        ("TinyGo", "0.30.0"),
    ),
    (
        "solo/basic-auth",
        "HTTP Basic authentication from a static list of users.",
        "auth,security",
        ("C++", "17"),
    ),
]


def seed(client: httpx.Client, real_filter: bytes) -> None:
    """acme/add-header (the real filter, three tags, README) and five more filters."""
    for i, tag in enumerate(("v0.1.0", "v0.2.0", "latest")):
        push_filter(
            client,
            "acme/add-header",
            tag,
            real_filter
            if i
            else proxy_module("add-header-old", language=("AssemblyScript", "0.14.13")),
            {
                "org.opencontainers.image.description": "Adds a header to every HTTP response.",
                "org.opencontainers.image.licenses": "Apache-2.0",
                "org.opencontainers.image.source": "https://example.com/acme/add-header",
            },
        )
    describe(client, "acme/add-header", readme=README, keywords=["headers", "example"])
    latest = client.get("/v2/acme/add-header/manifests/latest", headers={"Accept": OCI_MANIFEST})
    push_signature(client, "acme/add-header", digest(latest.content), len(latest.content))
    for repo, description, keywords, language in CATALOG:
        push_filter(client, repo, "v1.0.0", proxy_module(repo, language=language))
        describe(client, repo, description=description, keywords=keywords)


def push_signature(client: httpx.Client, repo: str, subject_digest: str, size: int) -> str:
    """A cosign-style signature artifact whose subject is ``subject_digest`` (OCI 1.1
    referrers): what the tag page lists under Referrers."""
    config = b"{}"
    payload = (
        b'{"critical":{"image":{"docker-manifest-digest":"' + subject_digest.encode() + b'"}}}'
    )
    for blob in (config, payload):
        r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": digest(blob)}, content=blob)
        assert r.status_code == 201, r.text
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": digest(payload),
                "size": len(payload),
            }
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": size},
        "annotations": {"dev.sigstore.cosign/signer": "ci@acme.example"},
    }
    raw = json.dumps(manifest).encode()
    r = client.put(
        f"/v2/{repo}/manifests/{digest(raw)}", content=raw, headers={"Content-Type": OCI_MANIFEST}
    )
    assert r.status_code == 201, r.text
    return digest(raw)
