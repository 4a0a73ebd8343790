"""The one storage key layout (compare distribution's registry/storage/paths.go).

    blobs/<alg>/<first two hex>/<hex>            content, addressed by digest (layers, configs,
                                                 manifests alike); shared by all repositories
    uploads/<upload id>/<segment number:08d>     one object per PATCH/PUT body of an upload
                                                 session; concatenated in order on completion

Which repository may read which blob lives in the database, not in key names, so a blob
pushed to ten repositories is stored once.
"""

from __future__ import annotations

from hub.oci.digest import Digest


def blob_key(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"


def upload_prefix(upload_id: str) -> str:
    return f"uploads/{upload_id}/"


def upload_segment_key(upload_id: str, number: int) -> str:
    return f"{upload_prefix(upload_id)}{number:08d}"
