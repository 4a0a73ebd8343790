"""Pure parts of hub.events: the CloudEvent envelope, signatures, subscriptions, backoff,
and the URL policy."""

from __future__ import annotations

import json

import pytest

from hub.artifacts.changes import DELETED, PUSHED, ManifestEvent
from hub.events import targets
from hub.events.delivery import MAX_DELAY, backoff
from hub.events.events import artifact_event, parse_types, sign


def test_artifact_event_is_a_structured_cloudevent() -> None:
    change = ManifestEvent(PUSHED, "acme/f", 3, "sha256:ab", "application/x", "v1", actor="al")
    event = artifact_event(change, "https://hub.test")
    body = json.loads(event.body)
    assert body["specversion"] == "1.0" and body["id"] == event.id
    assert body["type"] == event.type == "io.wasmhub.artifact.pushed"
    assert body["source"] == "https://hub.test/v2/acme/f" and body["subject"] == "acme/f:v1"
    assert body["time"].endswith("Z") and body["datacontenttype"] == "application/json"
    assert body["data"]["namespace"] == "acme" and body["data"]["actor"] == "al"
    gone = artifact_event(
        ManifestEvent(DELETED, "acme/f", 3, "sha256:ab", None, tags=("a", "b")), "h"
    )
    assert json.loads(gone.body)["subject"] == "acme/f@sha256:ab"
    assert gone.id != event.id


def test_signature_is_hmac_sha256_of_the_body() -> None:
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_subscriptions() -> None:
    assert parse_types(None) == []
    assert parse_types(["pushed", "io.wasmhub.artifact.pushed", "deleted"]) == [
        "io.wasmhub.artifact.pushed",
        "io.wasmhub.artifact.deleted",
    ]
    with pytest.raises(ValueError, match="unknown event type 'pulled'"):
        parse_types(["pulled"])
    with pytest.raises(ValueError, match="must be a list"):
        parse_types("pushed")


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff(n, 10) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        assert 0.9 * 10 * 2 ** (n - 1) <= delay <= 1.1 * 10 * 2 ** (n - 1)
    assert backoff(40, 10) <= 1.1 * MAX_DELAY


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("example.com/hook", "http or https"),
        ("http:///path", "names no host"),
        ("https://a:b@example.com/", "no credentials"),
        ("http://example.com:99999/", "not a URL"),
        ("http://" + "a" * 2050 + ".com/", "longer than"),
    ],
)
def test_malformed_urls_are_refused_even_when_private_targets_are_allowed(
    url: str, words: str
) -> None:
    with pytest.raises(targets.TargetRefused, match=words):
        targets.check_url(url, allow_private=True)


def test_public_and_allowed_targets() -> None:
    assert targets.check_url("https://hooks.example.com/x", False).port == 443
    assert targets.check_url("http://127.0.0.1:8080/x", True).port == 8080
    target = targets.parse("https://93.184.215.14:8443/x")
    assert targets.resolve(target, allow_private=False) == ["93.184.215.14"]
    with pytest.raises(targets.TargetRefused, match="resolves to .*, a loopback"):
        targets.resolve(targets.parse("http://localhost/"), allow_private=False)
