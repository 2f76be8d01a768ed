"""The embedded default for ``ruxue serve``: the sandbox 公安 service mounted in-process at
``/sandbox/gongan``, with the gongan verifier plugin pointed at it over real HTTP.

The sandbox holds the demo's synthetic families (``ruxue_gateway.demo.make_families``), so
front-end developers can submit applications that verify. Production never mounts it.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Final

from starlette.applications import Starlette

from ruxue_core.settings import Mode, Settings
from ruxue_gateway.app import create_app

log = logging.getLogger(__name__)

SANDBOX_PATH: Final = "/sandbox/gongan"
SAMPLE_FAMILIES: Final = 100
SAMPLE_SEED: Final = 2026


def serve_app(settings: Settings, host: str, port: int) -> Starlette:
    """The app ``ruxue serve`` runs: with the sandbox mounted when embedded mode wants it."""
    wants_sandbox = (
        settings.mode is Mode.EMBEDDED
        and "gongan" in settings.verifiers
        and "base_url" not in settings.options_for("gongan")
        and importlib.util.find_spec("ruxue_sandbox") is not None
    )
    if not wants_sandbox:
        return create_app(settings)
    from ruxue_gateway.demo import make_families, sandbox_records
    from ruxue_sandbox import GonganDataset, create_gongan_app

    own_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    options = dict(settings.plugin_options)
    options["gongan"] = settings.options_for("gongan") | {
        "base_url": f"http://{own_host}:{port}{SANDBOX_PATH}"
    }
    app = create_app(settings.model_copy(update={"plugin_options": options}))
    dataset = GonganDataset(seed=SAMPLE_SEED)
    dataset.add(*sandbox_records(make_families(SAMPLE_FAMILIES, SAMPLE_SEED)))
    app.mount(SANDBOX_PATH, create_gongan_app(dataset))
    log.warning("sandbox 公安 service mounted at %s with %d records", SANDBOX_PATH, len(dataset))
    return app
