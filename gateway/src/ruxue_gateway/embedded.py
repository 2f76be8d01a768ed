"""The embedded default for ``ruxue serve``: the sandbox department services (公安, 自然资源,
人社) mounted in-process at ``/sandbox/<name>``, with the bundled verifier plugins pointed at
them over real, signed HTTP.

The sandbox holds the demo's synthetic population (``ruxue_sandbox.make_population`` over the
sample season's zones), so front-end developers can submit applications that verify.
Production never mounts it.
"""

from __future__ import annotations

import importlib.util
import logging
import tomllib
from typing import Final

from starlette.applications import Starlette

from ruxue_core.settings import Mode, Settings
from ruxue_gateway.app import create_app

log = logging.getLogger(__name__)

SANDBOX_PREFIX: Final = "/sandbox"
SAMPLE_FAMILIES: Final = 100
SAMPLE_SEED: Final = 2026


def serve_app(settings: Settings, host: str, port: int) -> Starlette:
    """The app ``ruxue serve`` runs: with the sandbox mounted when embedded mode wants it (a
    bundled verifier is selected without a ``base_url`` of its own)."""
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
        return create_app(settings)
    from ruxue_gateway.demo import SEASON_FILE
    from ruxue_sandbox import (
        create_department_app,
        department_services,
        make_population,
        season_places,
    )

    own_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    options = dict(settings.plugin_options)
    for name in mounted:
        options[name] = settings.options_for(name) | {
            "base_url": f"http://{own_host}:{port}{SANDBOX_PREFIX}/{name}"
        }
    app = create_app(settings.model_copy(update={"plugin_options": options}))
    places, materials = season_places(tomllib.loads(SEASON_FILE.read_text(encoding="utf-8")))
    population = make_population(
        SAMPLE_FAMILIES, seed=SAMPLE_SEED, places=places, materials=materials
    )
    services = department_services(population, seed=SAMPLE_SEED)
    for department in mounted:
        app.mount(f"{SANDBOX_PREFIX}/{department}", create_department_app(services[department]))
    log.warning("sandbox department services mounted at %s/%s", SANDBOX_PREFIX, mounted)
    return app
