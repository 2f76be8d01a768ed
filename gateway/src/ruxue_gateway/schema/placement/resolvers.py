"""Admission queries and mutations: bureau roles run the lottery, placement and publication;
schools confirm their own admissions; guardians read their own published result."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ruxue_core.errors import ErrorCode
from ruxue_core.services import admission, lottery_draws, placement, seat_warnings
from ruxue_gateway.context import Context
from ruxue_gateway.schema.common import parse_id
from ruxue_gateway.schema.errors import (
    ConflictError,
    DuplicateError,
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    OutOfPhaseError,
)
from ruxue_gateway.schema.placement.types import (
    CommitLotteryInput,
    EnrollmentChangedPayload,
    EnrollmentInput,
    Lottery,
    PlaceCoordinatedInput,
    PlacementComparison,
    PlacementMove,
    PlacementPublished,
    PlacementResult,
    PlacementRun,
    PublishPlacementInput,
    RevealLotteryInput,
    RunPlacementInput,
    SeatWarning,
    SeatWarningList,
)

Info = strawberry.Info[Context, None]
LotteryResult = Annotated[
    Lottery | InvalidInputError | NotFoundError, strawberry.union("LotteryResult")
]
CommitLotteryResult = Annotated[
    Lottery | InvalidInputError | ForbiddenError | NotFoundError | DuplicateError | OutOfPhaseError,
    strawberry.union("CommitLotteryResult"),
]
RevealLotteryResult = Annotated[
    Lottery
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError
    | OutOfPhaseError,
    strawberry.union("RevealLotteryResult"),
]
RunPlacementResult = Annotated[
    PlacementRun
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError
    | OutOfPhaseError,
    strawberry.union("RunPlacementResult"),
]
PlacementRunResult = Annotated[
    PlacementRun | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("PlacementRunResult"),
]
ComparePlacementRunsResult = Annotated[
    PlacementComparison | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("ComparePlacementRunsResult"),
]
ExplainPlacementResult = Annotated[
    PlacementResult | InvalidInputError | ForbiddenError | NotFoundError,
    strawberry.union("ExplainPlacementResult"),
]
PublishPlacementResult = Annotated[
    PlacementPublished
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError
    | OutOfPhaseError,
    strawberry.union("PublishPlacementResult"),
]
SeatWarningsResult = Annotated[
    SeatWarningList | InvalidInputError | ForbiddenError | NotFoundError | InvalidTransitionError,
    strawberry.union("SeatWarningsResult"),
]
_Enrollment = (
    EnrollmentChangedPayload
    | InvalidInputError
    | ForbiddenError
    | NotFoundError
    | InvalidTransitionError
    | ConflictError
    | OutOfPhaseError
)
ConfirmEnrollmentResult = Annotated[_Enrollment, strawberry.union("ConfirmEnrollmentResult")]
RecordNoShowResult = Annotated[_Enrollment, strawberry.union("RecordNoShowResult")]
PlaceCoordinatedResult = Annotated[
    _Enrollment | IneligibleError, strawberry.union("PlaceCoordinatedResult")
]


@strawberry.type
class PlacementQueries:
    """Admission queries."""

    @strawberry.field(description="摇号承诺值与种子 (public): the lottery of a season.")
    async def lottery(self, info: Info, season_code: str) -> LotteryResult:
        """The commitment, and the seed once revealed; ``NotFoundError`` before the commit."""
        view = await lottery_draws.lottery_view(info.context.runtime, season_code)
        if view is None:
            return NotFoundError(
                code=ErrorCode.NOT_FOUND, message="摇号承诺值尚未公布", field="seasonCode"
            )
        return Lottery.from_view(view)

    @strawberry.field(description="派位方案 (a stored run) with its first results (bureau).")
    async def placement_run(
        self, info: Info, id: strawberry.ID, first: int = 100
    ) -> PlacementRunResult:
        """A draft or published run."""
        run_id = parse_id(id, "runId")
        view = await placement.placement_run(
            info.context.runtime, run_id, info.context.principal, limit=min(max(first, 0), 1000)
        )
        return PlacementRun.from_view(view)

    @strawberry.field(description="比较两个派位方案: who moved where, and why (bureau).")
    async def compare_placement_runs(
        self, info: Info, first_id: strawberry.ID, second_id: strawberry.ID
    ) -> ComparePlacementRunsResult:
        """Applicants whose school differs between the two runs."""
        first, second = parse_id(first_id, "firstId"), parse_id(second_id, "secondId")
        moves = await placement.compare_runs(
            info.context.runtime, first, second, info.context.principal
        )
        return PlacementComparison(moves=[PlacementMove.from_view(m) for m in moves])

    @strawberry.field(description="派位结果说明: a published result and why (own or in scope).")
    async def explain_placement(
        self, info: Info, application_id: strawberry.ID
    ) -> ExplainPlacementResult:
        """The applicant's published result with its explanation in Chinese."""
        view = await placement.explain_placement(
            info.context.runtime, parse_id(application_id, "applicationId"), info.context.principal
        )
        return PlacementResult.from_view(view)

    @strawberry.field(description="学位预警 while registration is open (bureau).")
    async def seat_warnings(self, info: Info, season_code: str) -> SeatWarningsResult:
        """Every school's level."""
        views = await seat_warnings.seat_warnings(
            info.context.runtime, season_code, info.context.principal
        )
        return SeatWarningList(warnings=[SeatWarning.from_view(v) for v in views])


@strawberry.type
class PlacementMutations:
    """Admission mutations."""

    @strawberry.mutation(description="公布摇号承诺值 SHA-256(seed) before the draw (bureau).")
    async def commit_lottery(self, info: Info, input: CommitLotteryInput) -> CommitLotteryResult:
        """Store and audit the commitment."""
        view = await lottery_draws.commit_lottery(
            info.context.runtime, input.season_code, input.commitment, info.context.principal
        )
        return Lottery.from_view(view)

    @strawberry.mutation(description="公布摇号种子 after the draw; it must match (bureau).")
    async def reveal_lottery(self, info: Info, input: RevealLotteryInput) -> RevealLotteryResult:
        """Check the seed against the commitment, store and audit it."""
        view = await lottery_draws.reveal_lottery(
            info.context.runtime, input.season_code, input.seed, info.context.principal
        )
        return Lottery.from_view(view)

    @strawberry.mutation(
        description="运行派位: a draft run, or a dry run storing nothing (bureau)."
    )
    async def run_placement(self, info: Info, input: RunPlacementInput) -> RunPlacementResult:
        """Derive the input from the database and place it."""
        view = await placement.run_placement(
            info.context.runtime,
            input.season_code,
            info.context.principal,
            dry_run=input.dry_run,
            kind=input.kind.value,
        )
        return PlacementRun.from_view(view)

    @strawberry.mutation(
        description="公布派位结果: admit or coordinate in one transaction (bureau)."
    )
    async def publish_placement(
        self, info: Info, input: PublishPlacementInput
    ) -> PublishPlacementResult:
        """Publish a draft run once."""
        run_id = parse_id(input.run_id, "runId")
        view = await admission.publish_placement(
            info.context.runtime, run_id, info.context.principal
        )
        return PlacementPublished.from_view(view)

    @strawberry.mutation(description="确认报到 (the admitting school).")
    async def confirm_enrollment(
        self, info: Info, input: EnrollmentInput
    ) -> ConfirmEnrollmentResult:
        """``admitted`` → ``enrolled``."""
        view = await admission.confirm_enrollment(
            info.context.runtime,
            parse_id(input.application_id, "applicationId"),
            info.context.principal,
            expected_version=input.expected_version,
        )
        return EnrollmentChangedPayload.from_view(view)

    @strawberry.mutation(description="登记未报到; the seat returns to coordination (the school).")
    async def record_no_show(self, info: Info, input: EnrollmentInput) -> RecordNoShowResult:
        """``admitted`` → ``no_show``."""
        view = await admission.confirm_enrollment(
            info.context.runtime,
            parse_id(input.application_id, "applicationId"),
            info.context.principal,
            no_show=True,
            expected_version=input.expected_version,
        )
        return EnrollmentChangedPayload.from_view(view)

    @strawberry.mutation(description="统筹安排 at a school with room (bureau).")
    async def place_coordinated(
        self, info: Info, input: PlaceCoordinatedInput
    ) -> PlaceCoordinatedResult:
        """``coordinating`` → ``admitted`` with a notice number."""
        view = await admission.place_coordinated(
            info.context.runtime,
            parse_id(input.application_id, "applicationId"),
            input.school_code,
            info.context.principal,
            expected_version=input.expected_version,
        )
        return EnrollmentChangedPayload.from_view(view)
