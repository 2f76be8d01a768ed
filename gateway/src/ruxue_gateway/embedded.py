"""The embedded default for ``ruxue serve``: the sandbox department services (公安, 自然资源,
人社) mounted in-process at ``/sandbox/<name>``, with the bundled verifier plugins pointed at
them over real, signed HTTP; the sandbox's unified identity provider at ``/sandbox/idp`` as the
guardians' login (unless one is configured); and the reference web client at ``/`` once built.

The sandbox holds the demo's synthetic population (``ruxue_sandbox.make_population`` over the
sample season's zones), so front-end developers can submit applications that verify and sign
in as its guardians (``g<index>``, password :func:`ruxue_gateway.demo_login.password_of`).
Production never mounts any of it.
"""

from __future__ import annotations

import importlib.util
import logging
import tomllib
from collections.abc import Sequence
from typing import Any, Final

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


def serve_app(settings: Settings, host: str, port: int) -> Starlette:
    """The app ``ruxue serve`` runs: with the sandbox mounted when embedded mode wants it (a
    bundled verifier is selected without a ``base_url`` of its own), and the web client."""
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
