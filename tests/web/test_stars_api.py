"""PUT/DELETE /api/v1/repositories/<name>/star: idempotent, counted in repositories.stars,
sorted on by search, and as invisible as the repository for those who may not see it."""

from __future__ import annotations

from tests.web.conftest import Hub


def stars_of(hub: Hub, name: str) -> int:
    with hub.client("admin") as admin:
        count: int = admin.get(f"/api/v1/repositories/{name}").json()["stars"]
        return count


def test_star_and_unstar(hub: Hub) -> None:
    name = "tetrate/geoip"
    before = stars_of(hub, name)
    with hub.client("bob") as bob, hub.client("alice") as alice:
        for _ in range(2):  # idempotent: a second PUT changes nothing
            r = bob.put(f"/api/v1/repositories/{name}/star")
            assert r.status_code == 200, r.text
            assert r.json() == {"repository": name, "starred": True, "stars": before + 1}
        assert alice.put(f"/api/v1/repositories/{name}/star").json()["stars"] == before + 2
        assert stars_of(hub, name) == before + 2
        # Sorting by stars puts it first.
        top = bob.get("/api/v1/search", params={"sort": "stars"}).json()["results"][0]
        assert top["repository"] == name and top["stars"] == before + 2
        for _ in range(2):
            r = bob.delete(f"/api/v1/repositories/{name}/star")
            assert r.status_code == 200
            assert r.json() == {"repository": name, "starred": False, "stars": before + 1}
        assert alice.delete(f"/api/v1/repositories/{name}/star").json()["stars"] == before


def test_star_needs_a_user_and_a_visible_repository(hub: Hub) -> None:
    with hub.client() as anonymous:
        r = anonymous.put("/api/v1/repositories/acme/rate-limit/star")
        assert r.status_code == 401
        assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    with hub.client("bob") as bob:
        # alice's private repository does not exist for bob, starred or not.
        r = bob.put("/api/v1/repositories/alice/secret-filter/star")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "NOT_FOUND"
        assert bob.put("/api/v1/repositories/acme/no-such/star").status_code == 404
        assert bob.put("/api/v1/repositories/Bad..Name/star").status_code == 400
    with hub.client("alice") as alice:
        r = alice.put("/api/v1/repositories/alice/secret-filter/star")
        assert r.status_code == 200 and r.json()["stars"] == 1
        assert alice.delete("/api/v1/repositories/alice/secret-filter/star").json()["stars"] == 0
