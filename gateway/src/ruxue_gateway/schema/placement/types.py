"""GraphQL types and inputs for admission (派位、录取、报到)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from ruxue_core.domain.enums import Status
from ruxue_core.services.admission import EnrollmentChanged, Published
from ruxue_core.services.lottery_draws import LotteryView
from ruxue_core.services.placement import Move, ResultView, RunView
from ruxue_core.services.seat_warnings import SeatWarning as SeatWarningView
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401


@strawberry.enum(description="派位类型: the main placement, or coordination over seats left")
class PlacementKind(Enum):
    """Which applications a run places."""

    MAIN = "main"
    COORDINATION = "coordination"


@strawberry.type(description="摇号: SHA-256(seed) published before the draw, the seed after.")
class Lottery:
    """Anyone may check a published order with the seed (``ruxue lottery verify``)."""

    season_code: str
    commitment: str = strawberry.field(description="SHA-256(seed), lowercase hex.")
    committed_at: datetime
    seed: str | None = strawberry.field(description="Null until revealed.")
    revealed_at: datetime | None

    @classmethod
    def from_view(cls, view: LotteryView) -> Lottery:
        """Map the core's view."""
        return cls(
            season_code=view.season_code,
            commitment=view.commitment,
            committed_at=view.committed_at,
            seed=view.seed,
            revealed_at=view.revealed_at,
        )


@strawberry.type(description="One applicant's result in a run, explained in Chinese.")
class PlacementResult:
    """School (null: to coordination), the round (tier) and the explanation."""

    application_id: strawberry.ID
    receipt_no: str
    school_code: str | None
    tier: str | None
    reserved: bool = strawberry.field(description="Placed on a policy-care seat.")
    reason: str | None = strawberry.field(description="Why unplaced (stable code).")
    explanation: str

    @classmethod
    def from_view(cls, view: ResultView) -> PlacementResult:
        """Map the core's view."""
        return cls(
            application_id=strawberry.ID(str(view.application_id)),
            receipt_no=view.receipt_no,
            school_code=view.school_code,
            tier=view.tier,
            reserved=view.reserved,
            reason=view.reason,
            explanation=view.explanation,
        )


@strawberry.type(description="派位方案: a draft until published; a dry run has no id.")
class PlacementRun:
    """A run's state, counts and (for a stored run) its first results."""

    id: strawberry.ID | None
    season_code: str
    kind: str
    status: str = strawberry.field(description="dry_run | draft | published")
    seed_commitment: str | None
    summary: JSON = strawberry.field(description="applicants, placed, coordinating, by school…")
    created_at: datetime
    results: list[PlacementResult]

    @classmethod
    def from_view(cls, view: RunView) -> PlacementRun:
        """Map the core's view."""
        return cls(
            id=strawberry.ID(str(view.id)) if view.id is not None else None,
            season_code=view.season_code,
            kind=view.kind,
            status=view.status,
            seed_commitment=view.seed_commitment,
            summary=JSON(view.summary),
            created_at=view.created_at,
            results=[PlacementResult.from_view(r) for r in view.results],
        )


@strawberry.type(description="An applicant placed differently by two runs, and why.")
class PlacementMove:
    """Before and after, each with its run's headline explanation."""

    receipt_no: str
    before: str | None
    after: str | None
    why_before: str
    why_after: str

    @classmethod
    def from_view(cls, move: Move) -> PlacementMove:
        """Map the core's view."""
        return cls(
            receipt_no=move.receipt_no,
            before=move.before,
            after=move.after,
            why_before=move.why_before,
            why_after=move.why_after,
        )


@strawberry.type(description="Who moved where between two runs.")
class PlacementComparison:
    """Only applicants whose school differs."""

    moves: list[PlacementMove]


@strawberry.type(description="What publishing a run did.")
class PlacementPublished:
    """Counts of the one transaction."""

    run_id: strawberry.ID
    admitted: int
    coordinating: int
    skipped: int = strawberry.field(description="No longer waiting for placement.")

    @classmethod
    def from_view(cls, view: Published) -> PlacementPublished:
        """Map the core's view."""
        return cls(
            run_id=strawberry.ID(str(view.run_id)),
            admitted=view.admitted,
            coordinating=view.coordinating,
            skipped=view.skipped,
        )


@strawberry.type(description="An application after an enrollment or coordination step.")
class EnrollmentChangedPayload:
    """New status, version, school and admission notice number (电子录取通知书编号)."""

    application_id: strawberry.ID
    status: Status
    version: int
    school_code: str | None
    notice_no: str | None

    @classmethod
    def from_view(cls, view: EnrollmentChanged) -> EnrollmentChangedPayload:
        """Map the core's view."""
        return cls(
            application_id=strawberry.ID(str(view.application_id)),
            status=view.status,
            version=view.version,
            school_code=view.school_code,
            notice_no=view.notice_no,
        )


@strawberry.type(description="学位预警: verified applications against a school's plan.")
class SeatWarning:
    """Level green, yellow (≥ 90 % by default) or red (≥ 100 %)."""

    school_code: str
    school_name: str
    plan: int
    verified: int
    ratio: float
    level: str
    level_label: str

    @classmethod
    def from_view(cls, view: SeatWarningView) -> SeatWarning:
        """Map the core's view."""
        return cls(
            school_code=view.school_code,
            school_name=view.school_name,
            plan=view.plan,
            verified=view.verified,
            ratio=round(view.ratio, 4) if view.ratio != float("inf") else 1e9,
            level=view.level,
            level_label=view.label,
        )


@strawberry.type(description="Every school's seat warning in a season.")
class SeatWarningList:
    """Ordered by school code."""

    warnings: list[SeatWarning]


@strawberry.input(description="Publish SHA-256(seed) before the draw.")
class CommitLotteryInput:
    """The season and the commitment (64 hex digits)."""

    season_code: str
    commitment: str


@strawberry.input(description="Reveal the seed after the draw.")
class RevealLotteryInput:
    """The season and its seed; it must hash to the commitment."""

    season_code: str
    seed: str


@strawberry.input(description="Run the placement engine.")
class RunPlacementInput:
    """A dry run stores nothing; otherwise a draft run is stored."""

    season_code: str
    dry_run: bool = False
    kind: PlacementKind = PlacementKind.MAIN


@strawberry.input(description="Publish a draft run.")
class PublishPlacementInput:
    """The run to publish (once)."""

    run_id: strawberry.ID


@strawberry.input(description="A school's enrollment step on an admitted application.")
class EnrollmentInput:
    """The application and, optionally, the version seen."""

    application_id: strawberry.ID
    expected_version: int | None = None


@strawberry.input(description="Place a coordinating application at a school with room.")
class PlaceCoordinatedInput:
    """The application and the school."""

    application_id: strawberry.ID
    school_code: str
    expected_version: int | None = None
