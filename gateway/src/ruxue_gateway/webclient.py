"""The reference web client (``contrib/web``), served at ``/`` by ``ruxue serve`` in embedded
mode once it is built (``nox -s web`` or ``npm ci && npm run build`` there).

Files under ``dist/`` are served as they are; any other path that is neither the API's nor a
file name answers with ``index.html``, so the client's own routes (``/apply``, ``/staff/…``)
survive a reload while a missing script is still a 404.
Production deployments serve ``dist/`` from any static host instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_DIST: Final = Path(__file__).resolve().parents[3] / "contrib" / "web" / "dist"
API_PREFIXES: Final = (
    "/graphql",
    "/auth/",
    "/sandbox/",
    "/sms/",
    "/healthz",
    "/readyz",
    "/metrics",
)


class SinglePageApp(StaticFiles):
    """Static files with a fallback to ``index.html`` for the client's routes."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file at ``path``, or the client's entry page for a route it handles."""
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            request_path = str(scope.get("path", ""))
            is_file = "." in request_path.rsplit("/", 1)[-1]
            if exc.status_code != 404 or is_file or request_path.startswith(API_PREFIXES):
                raise
            return await super().get_response("index.html", scope)


def mount_web_client(app: Starlette, dist: Path = WEB_DIST) -> bool:
    """Serve the built client at ``/`` (after every other route); False when not built."""
    if not (dist / "index.html").is_file():
        return False
    app.mount("/", SinglePageApp(directory=dist, html=True), name="web")
    return True
