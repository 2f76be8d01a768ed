"""The embedded default for ``ruxue serve``: the sandbox department services (公安, 自然资源,
人社) mounted in-process at ``/sandbox/<name>``, with the bundled verifier plugins pointed at
them over real, signed HTTP; the sandbox's unified identity provider at ``/sandbox/idp`` as the
guardians' login (unless one is configured); and the reference web client at ``/`` once built.

The sandbox holds the demo's synthetic population (``ruxue_sandbox.make_population`` over the
sample season's zones), so front-end developers can submit applications that verify and sign
in as its guardians (``g<index>``, password :func:`ruxue_gateway.demo_login.password_of`).
Production never mounts any of it.

Likewise, the ``aliyun`` and ``tencent`` notifiers selected without an ``endpoint`` of their
own (``RUXUE_NOTIFIERS='["aliyun","tencent"]' ruxue serve``) are pointed at the sandbox's
fake vendors, started on loopback for the life of the process (the SDKs talk to ``host:port``
only, so they cannot be mounted under a path), with the demo's credentials and templates;
their delivery receipts come back to this gateway. Weights and rate limits come from
``[sms.vendors.*]`` as configured.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import secrets
import tomllib
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, Final

from pydantic import SecretStr
from starlette.applications import Starlette

from ruxue_core.settings import Mode, Settings
from ruxue_gateway.app import create_app
from ruxue_gateway.webclient import mount_web_client

log = logging.getLogger(__name__)

SANDBOX_PREFIX: Final = "/sandbox"
IDP_PATH: Final = f"{SANDBOX_PREFIX}/idp"
LOGIN_PROVIDER: Final = "hubei_portal"
SAMPLE_FAMILIES: Final = 100
SAMPLE_SEED: Final = 2026


def with_sms_fakes(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` with the vendor notifiers that have no ``endpoint`` pointed at fake
    vendors on loopback (embedded mode only; started here, stopped at exit)."""
    wanted = [
        name
        for name in ("aliyun", "tencent")
        if name in settings.notifiers and "endpoint" not in settings.options_for(name)
    ]
    if (
        settings.mode is not Mode.EMBEDDED
        or not wanted
        or importlib.util.find_spec("ruxue_sandbox") is None
    ):
        return settings
    from ruxue_gateway.demo import DEMO_SMS_KEYS, SEASON_FILE, sms_plugin_options
    from ruxue_sandbox import (
        SmsVendorFake,
        create_aliyun_sms_app,
        create_tencent_sms_app,
        serve_in_thread,
    )

    token = settings.sms.receipt_token or SecretStr(secrets.token_urlsafe(32))
    own_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    stack = ExitStack()
    atexit.register(stack.close)
    endpoints: dict[str, str] = {}
    factories = {"aliyun": create_aliyun_sms_app, "tencent": create_tencent_sms_app}
    for name in wanted:
        fake = SmsVendorFake(credentials=dict([DEMO_SMS_KEYS[name]]))
        fake.receipt_url = (
            f"http://{own_host}:{port}/sms/receipts/{name}/{token.get_secret_value()}"
        )
        url = stack.enter_context(serve_in_thread(factories[name](fake)))
        endpoints[name] = url.removeprefix("http://")
    sandboxed = sms_plugin_options(
        SEASON_FILE, endpoints.get("aliyun", ""), endpoints.get("tencent", "")
    )
    options = dict(settings.plugin_options)
    for name in wanted:
        options[name] = sandboxed[name] | settings.options_for(name)
    log.warning("fake SMS vendors for %s on %s", wanted, sorted(endpoints.values()))
    sms = settings.sms.model_copy(update={"receipt_token": token})
    return settings.model_copy(update={"plugin_options": options, "sms": sms})


def serve_app(settings: Settings, host: str, port: int) -> Starlette:
    """The app ``ruxue serve`` runs: with the sandbox mounted when embedded mode wants it (a
    bundled verifier is selected without a ``base_url`` of its own), fake SMS vendors for
    vendor notifiers without an endpoint (:func:`with_sms_fakes`), and the web client."""
    settings = with_sms_fakes(settings, host, port)
    mounted = [
        name
        for name in ("gongan", "ziranziyuan", "renshe")
        if name in settings.verifiers and "base_url" not in settings.options_for(name)
    ]
    wants_sandbox = (
        settings.mode is Mode.EMBEDDED
        and mounted
        and importlib.util.find_spec("ruxue_sandbox") is not None
    )
    if not wants_sandbox:
        app = create_app(settings)
        _web_client(app, settings)
        return app
    from ruxue_gateway.demo import SEASON_FILE
    from ruxue_sandbox import (
        create_department_app,
        department_services,
        make_population,
        season_places,
    )

    own_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    base = f"http://{own_host}:{port}"
    options = dict(settings.plugin_options)
    for name in mounted:
        options[name] = settings.options_for(name) | {"base_url": f"{base}{SANDBOX_PREFIX}/{name}"}
    update: dict[str, Any] = {"plugin_options": options}
    sandbox_login = not settings.guardian_auth.login_providers
    if sandbox_login:
        options[LOGIN_PROVIDER] = settings.options_for(LOGIN_PROVIDER) | {
            "api_url": f"{base}{IDP_PATH}"
        }
        returns = {f"{base}/", f"http://localhost:{port}/", f"http://127.0.0.1:{port}/"}
        update["guardian_auth"] = settings.guardian_auth.model_copy(
            update={
                "login_providers": [LOGIN_PROVIDER],
                "return_urls": [*settings.guardian_auth.return_urls, *sorted(returns)],
            }
        )
    app = create_app(settings.model_copy(update=update))
    places, materials = season_places(tomllib.loads(SEASON_FILE.read_text(encoding="utf-8")))
    population = make_population(
        SAMPLE_FAMILIES, seed=SAMPLE_SEED, places=places, materials=materials
    )
    services = department_services(population, seed=SAMPLE_SEED)
    for department in mounted:
        app.mount(f"{SANDBOX_PREFIX}/{department}", create_department_app(services[department]))
    log.warning("sandbox department services mounted at %s/%s", SANDBOX_PREFIX, mounted)
    if sandbox_login:
        _mount_identity_provider(app, population.families)
    _web_client(app, settings)
    return app


def _mount_identity_provider(app: Starlette, families: Sequence[Any]) -> None:
    """The sandbox's unified identity provider, one real-name account per family."""
    from ruxue_gateway.demo_login import idp_users
    from ruxue_sandbox import FakeIdentityProvider, create_identity_app

    idp = FakeIdentityProvider()
    idp.add(*idp_users(families))
    app.mount(IDP_PATH, create_identity_app(idp))
    log.warning("sandbox identity provider mounted at %s (%d guardians)", IDP_PATH, len(families))


def _web_client(app: Starlette, settings: Settings) -> None:
    """Serve the built reference client at ``/`` in embedded mode."""
    if settings.mode is Mode.EMBEDDED and mount_web_client(app):
        log.warning("web client served at / (contrib/web/dist)")
