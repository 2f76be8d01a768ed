"""``ruxue serve`` in embedded mode mounts the three sandbox departments and points the
bundled verifiers at them; a configured ``base_url`` (or production) mounts nothing."""

from __future__ import annotations

from starlette.routing import Mount
from starlette.testclient import TestClient

from ruxue_core.settings import Settings
from ruxue_gateway.embedded import serve_app


def mounts(app: object) -> set[str]:
    routes = getattr(app, "routes", [])
    return {route.path for route in routes if isinstance(route, Mount)}


def test_the_three_departments_are_mounted_and_answer(settings: Settings) -> None:
    bundled = settings.model_copy(update={"verifiers": ["gongan", "ziranziyuan", "renshe"]})
    app = serve_app(bundled, "0.0.0.0", 8123)
    assert {"/sandbox/gongan", "/sandbox/ziranziyuan", "/sandbox/renshe"} <= mounts(app)
    with TestClient(app) as client:
        for name in ("gongan", "ziranziyuan", "renshe"):
            health = client.get(f"/sandbox/{name}/healthz").json()
            assert health["department"] == name and health["records"] > 0


def test_a_configured_service_is_not_replaced(settings: Settings) -> None:
    options = {"renshe": {"base_url": "https://rs.example"}}
    chosen = settings.model_copy(
        update={"verifiers": ["gongan", "renshe"], "plugin_options": options}
    )
    assert mounts(serve_app(chosen, "127.0.0.1", 8123)) == {"/sandbox/gongan"}
