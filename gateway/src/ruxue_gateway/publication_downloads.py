"""Publication lists over HTTP, following ``/materials/{id}`` (see ``downloads``):

- ``GET /placement/{season}/schools/{school}.csv`` and ``….xlsx``: a school's admitted
  children with masked names, receipt and notice numbers (the bureau, admin and auditor any
  school; a school reviewer their own; others 403, another school 404);
- ``GET /placement/runs/{run_id}/lottery.csv``: a published run's lottery order, for anyone,
  which ``ruxue lottery verify`` recomputes from the revealed seed (a draft is 404).

Responses are attachments with ``no-store``; refusals JSON with the core's stable code.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ruxue_core.errors import ErrorCode, Forbidden, InvalidInput, NotFound
from ruxue_core.runtime import Runtime
from ruxue_core.services.placement import public_lottery_list
from ruxue_core.services.publication import publication_list, to_csv, to_xlsx
from ruxue_gateway.downloads import PRIVATE_HEADERS, content_disposition, refusal

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class PublicationRoutes:
    """The publication list routes, bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def routes(self) -> list[Route]:
        """The Starlette routes to mount."""
        return [
            Route(
                "/placement/{season}/schools/{school}.{fmt:str}", self.school_list, methods=["GET"]
            ),
            Route("/placement/runs/{run_id:int}/lottery.csv", self.lottery, methods=["GET"]),
        ]

    async def school_list(self, request: Request) -> Response:
        """A school's publication list as CSV or XLSX, or a typed refusal."""
        fmt = request.path_params["fmt"]
        if fmt not in ("csv", "xlsx"):
            return refusal(404, ErrorCode.NOT_FOUND, "只提供 csv 或 xlsx")
        principal = await self.runtime.authenticate(request.headers.get("authorization"))
        if principal is None:
            return refusal(401, ErrorCode.FORBIDDEN, "请先登录")
        season, school = request.path_params["season"], request.path_params["school"]
        try:
            rows = await publication_list(self.runtime, season, school, principal)
        except Forbidden as exc:
            return refusal(403, exc.code, exc.message)
        except (NotFound, InvalidInput) as exc:
            return refusal(404, exc.code, exc.message)
        name = f"{season}-{school}.{fmt}"
        headers = PRIVATE_HEADERS | {"Content-Disposition": content_disposition(name)}
        if fmt == "csv":
            return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
        return Response(to_xlsx(rows), media_type=XLSX, headers=headers)

    async def lottery(self, request: Request) -> Response:
        """A published run's lottery order (public), or 404."""
        try:
            text = await public_lottery_list(self.runtime, int(request.path_params["run_id"]))
        except NotFound as exc:
            return refusal(404, exc.code, exc.message)
        name = f"lottery-run-{request.path_params['run_id']}.csv"
        headers = {"Content-Disposition": content_disposition(name), "Cache-Control": "no-cache"}
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
