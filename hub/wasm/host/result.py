"""The playground's answer, shaped for JSON: messages, header diffs, the whole record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.wasm.host.abi import Pairs

if TYPE_CHECKING:
    from hub.wasm.host.lifecycle import Message


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def message_json(message: Message) -> dict[str, Any]:
    headers = message.headers
    status = next((v for k, v in headers if k == ":status"), None)
    out: dict[str, Any] = {
        "headers": [[k, v] for k, v in headers],
        "body": _text(bytes(message.body)),
        "trailers": [[k, v] for k, v in message.trailers] if message.trailers else [],
    }
    if status is not None:
        out["status"] = int(status) if status.isdigit() else status
    else:
        given = dict(headers)
        out["method"] = given.get(":method")
        out["path"] = given.get(":path")
    return out


def diff_headers(before: Pairs, after: Pairs) -> dict[str, list[Any]]:
    """Per header name: added (only after), removed (only before), changed (values differ)."""
    names = list(dict.fromkeys([k for k, _ in before] + [k for k, _ in after]))
    added, removed, changed = [], [], []
    for name in names:
        old = [v for k, v in before if k == name]
        new = [v for k, v in after if k == name]
        if old == new:
            continue
        if not old:
            added += [[name, v] for v in new]
        elif not new:
            removed += [[name, v] for v in old]
        else:
            changed.append({"name": name, "before": old, "after": new})
    return {"added": added, "removed": removed, "changed": changed}
