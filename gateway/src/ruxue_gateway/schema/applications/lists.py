"""Lists of applications: the staff work list ``applications`` and a guardian's
``myApplications``, as Relay connections (``first``/``after``, oldest first)."""

from __future__ import annotations

from typing import Annotated, Final

import strawberry

from ruxue_core.domain.enums import Channel, Status
from ruxue_core.services.worklist import (
    DEFAULT_PAGE,
    ApplicationFilter,
    ApplicationPage,
    PageRequest,
    list_applications,
    my_applications,
)
from ruxue_gateway.context import Context
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401
from ruxue_gateway.schema.applications.types import Application
from ruxue_gateway.schema.errors import ForbiddenError, InvalidInputError
from ruxue_gateway.schema.pagination import PageInfo, decode_cursor, encode_cursor, page_info

CURSOR_KIND: Final = "application"


@strawberry.input(description="Narrow the work list; every field left out narrows nothing.")
class ApplicationFilterInput:
    """All given criteria must hold."""

    statuses: list[Status] | None = strawberry.field(default=None, description="Any of these.")
    township_code: str | None = strawberry.field(default=None, description="乡镇（街道）代码")
    school_code: str | None = strawberry.field(
        default=None, description="The school assigned to the application."
    )
    channel: Channel | None = None
    receipt_no: str | None = strawberry.field(
        default=None, description="办件编号 starts with this (prefix search)."
    )
    season_code: str | None = None
    category: str | None = strawberry.field(
        default=None, description="入学类别 code of the latest assessment (A, B…)."
    )
    outstanding_materials: bool | None = strawberry.field(
        default=None,
        description="true: some requested material is neither uploaded nor seen; false: none.",
    )
    outstanding_material: str | None = strawberry.field(
        default=None, description="This material code is still outstanding."
    )

    def to_core(self) -> ApplicationFilter:
        """The core's filter."""
        return ApplicationFilter(
            statuses=tuple(self.statuses or ()),
            township_code=self.township_code,
            school_code=self.school_code,
            channel=self.channel,
            receipt_no_prefix=self.receipt_no,
            season_code=self.season_code,
            category=self.category,
            outstanding_materials=self.outstanding_materials,
            outstanding_material=self.outstanding_material,
        )


@strawberry.type(description="One application in a list, with its cursor.")
class ApplicationEdge:
    """Relay edge."""

    cursor: str
    node: Application


@strawberry.type(description="A page of applications, oldest first (Relay connection).")
class ApplicationConnection:
    """Pass ``pageInfo.endCursor`` as ``after`` for the next page."""

    edges: list[ApplicationEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: ApplicationPage) -> ApplicationConnection:
        """Map the core's page."""
        edges = [
            ApplicationEdge(
                cursor=encode_cursor(CURSOR_KIND, view.id), node=Application.from_view(view)
            )
            for view in page.items
        ]
        cursors = [edge.cursor for edge in edges]
        return cls(edges=edges, page_info=page_info(cursors, has_next_page=page.has_next_page))


ApplicationsResult = Annotated[
    ApplicationConnection | InvalidInputError | ForbiddenError,
    strawberry.union("ApplicationsResult"),
]
MyApplicationsResult = Annotated[
    ApplicationConnection | InvalidInputError | ForbiddenError,
    strawberry.union("MyApplicationsResult"),
]


@strawberry.type
class ApplicationListQueries:
    """Lists of applications."""

    @strawberry.field(
        description="工作台: applications within your scope (staff), filtered, oldest first."
    )
    async def applications(
        self,
        info: strawberry.Info[Context, None],
        filter: ApplicationFilterInput | None = None,
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> ApplicationsResult:
        """The staff work list."""
        request = PageRequest(first=first, after=decode_cursor(CURSOR_KIND, after))
        criteria = filter.to_core() if filter is not None else ApplicationFilter()
        context = info.context
        page = await list_applications(context.runtime, criteria, request, context.principal)
        return ApplicationConnection.from_page(page)

    @strawberry.field(description="我的报名: the signed-in guardian's applications, oldest first.")
    async def my_applications(
        self,
        info: strawberry.Info[Context, None],
        first: int = DEFAULT_PAGE,
        after: str | None = None,
    ) -> MyApplicationsResult:
        """A guardian's own family's applications."""
        request = PageRequest(first=first, after=decode_cursor(CURSOR_KIND, after))
        context = info.context
        page = await my_applications(context.runtime, request, context.principal)
        return ApplicationConnection.from_page(page)
