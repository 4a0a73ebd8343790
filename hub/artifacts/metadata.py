"""Repository metadata carried by a pushed manifest: OCI annotations
(image-spec annotations.md "Pre-Defined Annotation Keys") and a Markdown layer as the README.
Only what the manifest states is applied; a field it is silent on keeps its value, so metadata
set through the API survives pushes that carry none."""

from __future__ import annotations

from hub.oci.manifest import Manifest

DESCRIPTION_LIMIT = 1024
README_LIMIT = 512 * 1024
# Keywords have no pre-defined key; this is the hub's own, comma-separated.
KEYWORDS = "io.wasm-hub.keywords"
ANNOTATIONS = {
    "org.opencontainers.image.description": ("description", DESCRIPTION_LIMIT),
    "org.opencontainers.image.source": ("source_url", 1024),
    "org.opencontainers.image.url": ("source_url", 1024),
    "org.opencontainers.image.licenses": ("licenses", 255),
    KEYWORDS: ("keywords", 1024),
}
MARKDOWN_TYPES = ("text/markdown", "text/x-markdown")


def from_annotations(manifest: Manifest) -> dict[str, str]:
    changes: dict[str, str] = {}
    # .source wins over .url when both are given: it is the more specific of the two.
    for key in sorted(ANNOTATIONS, key=lambda k: k != "org.opencontainers.image.source"):
        value = manifest.annotations.get(key)
        if not isinstance(value, str) or not value.strip():
            continue
        field, limit = ANNOTATIONS[key]
        if field in changes:
            continue
        if field == "keywords":
            value = ",".join(k.strip().lower() for k in value.split(",") if k.strip())
        changes[field] = value.strip()[:limit]
    return changes


def readme_layer(manifest: Manifest) -> tuple[str, int] | None:
    """(digest, size) of the first Markdown layer small enough to be a README."""
    for layer in manifest.layers:
        media_type = layer.media_type.split(";")[0].strip().lower()
        if (media_type in MARKDOWN_TYPES or media_type.endswith("+markdown")) and (
            layer.size <= README_LIMIT
        ):
            return str(layer.digest), layer.size
    return None
