"""``GET /materials/{id}``: an uploaded material, for a principal who may see its
application (``Authorization`` as for ``/graphql``; each download audited by the core).

The file goes out as an attachment with the type it was checked to have at upload,
``X-Content-Type-Options: nosniff`` and ``Cache-Control: no-store``, so a browser neither
guesses another type nor keeps a copy. Refusals answer JSON with the core's stable code:
401 without a sign-in, 403 for a role that never sees materials, 404 for a material that is
missing or out of the caller's scope (alike, so ids cannot be probed).
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ruxue_core.errors import ErrorCode, Forbidden, NotFound
from ruxue_core.runtime import Runtime
from ruxue_core.services.downloads import download_material

PRIVATE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store, private",
    "Pragma": "no-cache",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def refusal(status: int, code: ErrorCode, message: str) -> JSONResponse:
    body = {"error": {"code": code.name, "message": message}}
    return JSONResponse(body, status, headers=PRIVATE_HEADERS)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII fallback name and the real one in RFC 5987 form."""
    fallback = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in filename)
    encoded = quote(filename, safe="")
    return f"attachment; filename=\"{fallback or 'material'}\"; filename*=UTF-8''{encoded}"


class DownloadRoutes:
    """The material download route, bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def routes(self) -> list[Route]:
        """The Starlette routes to mount."""
        return [Route("/materials/{material_id:int}", self.download, methods=["GET"])]

    async def download(self, request: Request) -> Response:
        """Serve one material's file, or a typed refusal."""
        principal = await self.runtime.authenticate(request.headers.get("authorization"))
        if principal is None:
            return refusal(401, ErrorCode.FORBIDDEN, "请先登录")
        try:
            file = await download_material(
                self.runtime, principal, int(request.path_params["material_id"])
            )
        except Forbidden as exc:
            return refusal(403, exc.code, exc.message)
        except NotFound as exc:
            return refusal(404, exc.code, exc.message)
        headers = PRIVATE_HEADERS | {"Content-Disposition": content_disposition(file.filename)}
        return Response(file.content, media_type=file.content_type, headers=headers)
