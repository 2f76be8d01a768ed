"""``ruxue serve`` in embedded mode mounts the three sandbox departments and points the
bundled verifiers at them; a configured ``base_url`` (or production) mounts nothing. The
sandbox identity provider becomes the guardians' login unless one is configured."""

from __future__ import annotations

from starlette.routing import Mount
from starlette.testclient import TestClient

from ruxue_core.domain.enums import MessageStatus
from ruxue_core.plugins.contracts import SmsRequest
from ruxue_core.runtime import Runtime
from ruxue_core.settings import GuardianAuthSettings, Settings
from ruxue_gateway.embedded import serve_app, with_sms_fakes

PARAMS = {"child": "张*", "receipt_no": "420704202600001", "query_code": "123456"}


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
    departments = {"/sandbox/gongan", "/sandbox/ziranziyuan", "/sandbox/renshe"}
    assert mounts(serve_app(chosen, "127.0.0.1", 8123)) & departments == {"/sandbox/gongan"}


async def test_vendor_notifiers_without_an_endpoint_reach_fake_vendors(settings: Settings) -> None:
    chosen = settings.model_copy(update={"notifiers": ["aliyun", "tencent"]})
    wired = with_sms_fakes(chosen, "0.0.0.0", 8123)
    assert wired.sms.receipt_token is not None
    runtime = Runtime.create(wired)
    try:
        for name in ("aliyun", "tencent"):
            assert wired.options_for(name)["endpoint"].startswith("127.0.0.1:")
            notifier = runtime.host.notifier(name)
            assert notifier is not None
            request = SmsRequest("1", "13800000000", "RX_SUBMITTED", PARAMS, "测试")
            receipt = await notifier.send(request)
            assert receipt.status is MessageStatus.ACCEPTED, receipt
    finally:
        await runtime.close()


def test_a_configured_vendor_endpoint_is_not_replaced(settings: Settings) -> None:
    options = {"aliyun": {"endpoint": "dysmsapi.aliyuncs.com"}}
    chosen = settings.model_copy(update={"notifiers": ["aliyun"], "plugin_options": options})
    assert with_sms_fakes(chosen, "127.0.0.1", 8123) == chosen


def test_the_sandbox_identity_provider_is_the_guardians_login(settings: Settings) -> None:
    bundled = settings.model_copy(update={"verifiers": ["gongan"]})
    app = serve_app(bundled, "127.0.0.1", 8123)
    assert "/sandbox/idp" in mounts(app)
    with TestClient(app) as client:
        providers = client.get("/auth/providers").json()["providers"]
        assert providers == [{"name": "hubei_portal", "redirect": True}]
        back = "http://127.0.0.1:8123/signed-in"
        start = client.get(
            "/auth/hubei_portal/login", params={"return_to": back}, follow_redirects=False
        )
        assert start.status_code == 302
        assert start.headers["location"].startswith(
            "http://127.0.0.1:8123/sandbox/idp/web/user/uias_login.do?"
        )
        form = client.get(start.headers["location"].removeprefix("http://127.0.0.1:8123"))
        assert 'action="uias_login.do"' in form.text


def test_a_configured_login_is_kept(settings: Settings) -> None:
    chosen = settings.model_copy(
        update={
            "verifiers": ["gongan"],
            "guardian_auth": GuardianAuthSettings(login_providers=["hubei_ehb"]),
        }
    )
    assert "/sandbox/idp" not in mounts(serve_app(chosen, "127.0.0.1", 8123))
