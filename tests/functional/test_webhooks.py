"""Webhooks against a live hub and a loopback receiver: CloudEvents on push, tag and delete,
signed with the webhook's secret, retried with growing delays, logged per attempt, managed
only by namespace owners; and a queue that survives restarts and that two replicas share
without sending anything twice."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.postgres import fresh_database
from tests.support.receiver import Receiver
from tests.support.server import HubServer, migrate

OCI = "application/vnd.oci.image.manifest.v1+json"
FAST = {
    "HUB_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "HUB_WEBHOOK_RETRY_SECONDS": "0.3",
    "HUB_WEBHOOK_POLL_SECONDS": "0.1",
    "HUB_WEBHOOK_MAX_ATTEMPTS": "3",
}


def push(client: httpx.Client, repo: str, tag: str, salt: str = "") -> str:
    """A one-blob OCI artifact; returns the manifest digest."""
    config = json.dumps({"salt": salt}).encode()
    d = "sha256:" + hashlib.sha256(config).hexdigest()
    r = client.post(f"/v2/{repo}/blobs/uploads/", params={"digest": d}, content=config)
    assert r.status_code == 201, r.text
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": d,
                "size": len(config),
            },
            "layers": [],
        }
    ).encode()
    r = client.put(f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI})
    assert r.status_code == 201, r.text
    return r.headers["Docker-Content-Digest"]


def deliveries(client: httpx.Client, ns: str, hook: int) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/namespaces/{ns}/webhooks/{hook}/deliveries")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["deliveries"]
    return found


def settled(client: httpx.Client, ns: str, hook: int, count: int) -> list[dict[str, Any]]:
    """Wait until ``count`` deliveries exist and none is pending; newest first."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = deliveries(client, ns, hook)
        if len(found) >= count and all(d["state"] != "pending" for d in found):
            return found
        time.sleep(0.1)
    raise AssertionError(f"deliveries did not settle: {found}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubServer]:
    workdir = tmp_path_factory.mktemp("hub-webhooks")
    with HubServer(workdir, {"HUB_AUTH": "required", **FAST}) as server:
        for user in ("alice", "bob"):
            server.cli("user", "create", user, "--password-stdin", stdin=f"{user}-pw\n")
        yield server


def client(server: HubServer, user: str | None, secret: str | None = None) -> httpx.Client:
    auth = None if user is None else (user, secret or f"{user}-pw")
    return httpx.Client(base_url=server.url, auth=auth, timeout=30)


def test_events_are_signed_retried_and_logged(hub: HubServer, receiver: Receiver) -> None:
    with client(hub, "alice") as alice:
        r = alice.post("/api/v1/namespaces/alice/webhooks", json={"url": receiver.url + "/a"})
        assert r.status_code == 201, r.text
        created = r.json()
        secret, hook = created["secret"], created["id"]
        assert len(secret) >= 32 and r.headers["cache-control"] == "no-store"
        assert created["events"] == [
            "io.wasmhub.artifact.pushed",
            "io.wasmhub.artifact.tagged",
            "io.wasmhub.artifact.deleted",
        ]
        only_deletes = alice.post(
            "/api/v1/namespaces/alice/webhooks",
            json={"url": receiver.url + "/b", "events": ["deleted"], "secret": "s" * 20},
        ).json()["id"]
        listed = alice.get("/api/v1/namespaces/alice/webhooks").json()["webhooks"]
        assert [h["id"] for h in listed] == [hook, only_deletes]
        assert all("secret" not in h for h in listed)  # shown once, at creation

        # The receiver fails twice; the third attempt succeeds.
        receiver.fail["/a"] = 2
        digest = push(alice, "alice/filter", "v1")
        got = receiver.wait("/a", 3)
        assert [g.status for g in got] == [500, 500, 204]
        assert [g.headers["x-hub-delivery-attempt"] for g in got] == ["1", "2", "3"]
        assert all(g.signed_with(secret) for g in got)
        assert not got[0].signed_with("another secret")
        assert got[0].body == got[2].body  # the same event, byte for byte, on every retry
        assert got[0].headers["content-type"] == "application/cloudevents+json"
        first, second = got[1].at - got[0].at, got[2].at - got[1].at
        # Retries wait 0.3 s, then 0.6 s (±10%): never earlier, whatever the machine's load.
        assert first >= 0.27 and second >= 0.54, (first, second)
        event = got[0].event
        assert event["specversion"] == "1.0" and event["type"] == "io.wasmhub.artifact.pushed"
        assert event["source"] == f"{hub.url}/v2/alice/filter"
        assert event["subject"] == "alice/filter:v1"
        assert event["data"] == {
            "repository": "alice/filter",
            "namespace": "alice",
            "tag": "v1",
            "tags": [],
            "digest": digest,
            "mediaType": OCI,
            "actor": "alice",
        }
        [log] = settled(alice, "alice", hook, 1)
        assert log["state"] == "succeeded" and log["attempts"] == 3
        assert log["event_id"] == event["id"] and log["status_code"] == 204
        assert [(a["attempt"], a["status_code"]) for a in log["log"]] == [
            (1, 500),
            (2, 500),
            (3, 204),
        ]
        assert log["log"][0]["error"].startswith("HTTP 500")
        assert all(isinstance(a["duration_ms"], int) for a in log["log"])

        # Tag an existing manifest, re-push unchanged (no event), delete the tag, then the
        # manifest with its remaining tag.
        assert push(alice, "alice/filter", "latest") == digest
        assert push(alice, "alice/filter", "v1") == digest
        assert alice.delete("/v2/alice/filter/manifests/latest").status_code == 202
        assert alice.delete(f"/v2/alice/filter/manifests/{digest}").status_code == 202
        # Deliveries due together are sent concurrently: order them by the event's time.
        got = sorted(receiver.wait("/a", 6)[3:], key=lambda g: str(g.event["time"]))
        time.sleep(0.3)  # nothing more arrives (the unchanged re-push sent nothing)
        assert len(receiver.on("/a")) == 6
        assert [(g.event["type"], g.event["data"]["tag"]) for g in got] == [
            ("io.wasmhub.artifact.tagged", "latest"),
            ("io.wasmhub.artifact.deleted", "latest"),
            ("io.wasmhub.artifact.deleted", None),
        ]
        assert got[2].event["data"]["tags"] == ["v1"]
        assert got[2].event["subject"] == f"alice/filter@{digest}"
        deletes = receiver.wait("/b", 2)
        assert [g.event["type"] for g in deletes] == ["io.wasmhub.artifact.deleted"] * 2
        assert all(g.signed_with("s" * 20) for g in deletes)

        # The test event, on demand.
        r = alice.post(f"/api/v1/namespaces/alice/webhooks/{hook}/test")
        assert r.status_code == 202 and r.json()["type"] == "io.wasmhub.webhook.test"
        ping = receiver.wait("/a", 7)[6]
        assert ping.event["type"] == "io.wasmhub.webhook.test" and ping.signed_with(secret)
        assert ping.event["data"]["actor"] == "alice"


def test_attempts_are_bounded(hub: HubServer, receiver: Receiver) -> None:
    receiver.fail_always.add("/down")
    with client(hub, "alice") as alice:
        hook = alice.post(
            "/api/v1/namespaces/alice/webhooks", json={"url": receiver.url + "/down"}
        ).json()["id"]
        assert alice.post(f"/api/v1/namespaces/alice/webhooks/{hook}/test").status_code == 202
        [log] = settled(alice, "alice", hook, 1)
        assert log["state"] == "failed" and log["attempts"] == 3  # HUB_WEBHOOK_MAX_ATTEMPTS
        assert [a["status_code"] for a in log["log"]] == [500, 500, 500]
        assert log["next_attempt_at"] is None and log["finished_at"]
        time.sleep(0.5)
        assert len(receiver.on("/down")) == 3

        # Deleting the webhook takes its queue and log with it.
        assert alice.delete(f"/api/v1/namespaces/alice/webhooks/{hook}").status_code == 204
        r = alice.get(f"/api/v1/namespaces/alice/webhooks/{hook}/deliveries")
        assert r.status_code == 404


def test_only_owners_manage_webhooks(hub: HubServer, receiver: Receiver) -> None:
    url = receiver.url + "/x"
    with client(hub, "alice") as alice, client(hub, "bob") as bob, client(hub, None) as anon:
        assert alice.post("/api/v1/orgs", json={"name": "acme"}).status_code == 201
        r = alice.put("/api/v1/orgs/acme/members/bob", json={"role": "maintainer"})
        assert r.status_code == 200
        hook = alice.post("/api/v1/namespaces/acme/webhooks", json={"url": url}).json()["id"]
        # An outsider learns nothing; a maintainer is told only owners may; anonymous signs in.
        r = bob.get("/api/v1/namespaces/alice/webhooks")
        assert r.status_code == 404 and "no namespace 'alice'" in r.json()["errors"][0]["message"]
        assert bob.post("/api/v1/namespaces/alice/webhooks", json={"url": url}).status_code == 404
        r = bob.get("/api/v1/namespaces/acme/webhooks")
        assert r.status_code == 403 and "only owners" in r.json()["errors"][0]["message"]
        assert bob.delete(f"/api/v1/namespaces/acme/webhooks/{hook}").status_code == 403
        assert bob.post(f"/api/v1/namespaces/acme/webhooks/{hook}/test").status_code == 403
        assert anon.get("/api/v1/namespaces/acme/webhooks").status_code == 401
        assert bob.get("/api/v1/namespaces/nowhere/webhooks").status_code == 404
        # A pull-scoped API token of the owner manages nothing.
        token = alice.post("/api/v1/tokens", json={"scopes": ["pull"]}).json()["token"]
        with client(hub, "alice", token) as pull_only:
            assert pull_only.get("/api/v1/namespaces/acme/webhooks").status_code == 403
        # Bad input: a person can act on the message.
        for body, words in [
            ({"url": "ftp://example.com/x"}, "http or https"),
            ({"url": "http://user:pw@example.com/"}, "no credentials"),
            ({}, '"url"'),
            ({"url": url, "events": ["pulled"]}, "unknown event type"),
            ({"url": url, "secret": "short"}, "at least 16"),
        ]:
            r = alice.post("/api/v1/namespaces/acme/webhooks", json=body)
            assert r.status_code == 400 and words in r.json()["errors"][0]["message"], r.text
        # The audit log records who made and removed webhooks.
        assert alice.delete(f"/api/v1/namespaces/acme/webhooks/{hook}").status_code == 204
        actions = [e["action"] for e in alice.get("/api/v1/orgs/acme/audit").json()["events"]]
        assert "webhook.create" in actions and "webhook.delete" in actions


@pytest.fixture
def shared_db(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Replicas share PostgreSQL and storage (the scale-out deployment; the claim itself is
    tested on both databases in tests/functional/test_webhook_queue.py)."""
    with fresh_database("hub_test_webhooks") as url:
        env = {
            **FAST,
            "HUB_WEBHOOK_MAX_ATTEMPTS": "6",
            "HUB_STORAGE_URL": f"file://{tmp_path}/b",
            "HUB_DATABASE_URL": url,
        }
        migrate(env, tmp_path)
        yield env


def test_replicas_share_the_queue_and_it_survives_restarts(
    shared_db: dict[str, str], tmp_path: Path, receiver: Receiver
) -> None:
    path = f"/replicas-{os.urandom(4).hex()}"
    with HubServer(tmp_path / "a", shared_db) as a, HubServer(tmp_path / "b", shared_db) as b:
        with client(a, None) as ca, client(b, None) as cb:
            push(ca, "team/seed", "v0")
            r = ca.post("/api/v1/namespaces/team/webhooks", json={"url": receiver.url + path})
            hook, secret = r.json()["id"], r.json()["secret"]
            # Every event's first attempt fails, so each is claimed twice; both replicas poll.
            receiver.fail_first_attempt.add(path)
            for i in range(12):
                push(ca if i % 2 else cb, "team/filter", f"v{i}", salt=str(i))
            settled(ca, "team", hook, 12)
        got = receiver.on(path)
        attempts = Counter((g.event["id"], g.headers["x-hub-delivery-attempt"]) for g in got)
        assert len({g.event["id"] for g in got}) == 12
        assert set(attempts.values()) == {1}, "an attempt was sent twice"
        assert sorted(Counter(g.event["id"] for g in got).values()) == [2] * 12
        assert all(g.signed_with(secret) for g in got)

        # Queued while the receiver is down, then both replicas stop: the queue is in the
        # database, so a restarted replica finishes the job.
        receiver.fail_always.add(path)
        with client(a, None) as ca:
            push(ca, "team/filter", "after", salt="restart")
        receiver.wait(path, len(got) + 1)
    receiver.fail_always.discard(path)
    with HubServer(tmp_path / "c", shared_db) as c, client(c, None) as cc:
        [latest, *_] = settled(cc, "team", hook, 13)
        assert latest["state"] == "succeeded" and latest["attempts"] >= 2
        assert latest["log"][-1]["status_code"] == 204
