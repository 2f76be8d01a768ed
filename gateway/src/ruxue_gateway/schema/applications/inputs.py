"""GraphQL input types for applications."""

from __future__ import annotations

import strawberry

from ruxue_core.domain import enums
from ruxue_core.errors import InvalidInput
from ruxue_core.services.applications import (
    CorrectApplication,
    ReviewApplication,
    SubmitApplication,
    WithdrawApplication,
)
from ruxue_core.services.applications import PersonInput as CorePerson
from ruxue_core.services.materials import RecordPaperSeen
from ruxue_gateway.schema import enums as _registered_enums  # noqa: F401


@strawberry.input(description="A person as written on their resident ID card.")
class PersonInput:
    """Name and 18-character resident ID number."""

    name: str
    id_number: str

    def to_core(self) -> CorePerson:
        """The core's value."""
        return CorePerson(self.name, self.id_number)


@strawberry.input(description="A new application (报名), or a draft to submit (`draftId`).")
class SubmitApplicationInput:
    """Only what the rules need: no income, job or vaccination fields. With ``draftId`` the
    draft's fields are submitted and the form fields are left out; without it, every form
    field is required (a missing one is an ``InvalidInputError`` naming it)."""

    season_code: str | None = None
    child: PersonInput | None = None
    guardian: PersonInput | None = None
    guardian_phone: str | None = None
    relationship: enums.Relationship | None = None
    address: str | None = None
    township_code: str | None = strawberry.field(
        default=None, description="乡镇（街道）代码 of the declared address"
    )
    paper_seen: list[str] = strawberry.field(
        default_factory=list, description="Counter staff: the originals they checked."
    )
    consent: bool = strawberry.field(
        default=False,
        description="授权核对: the guardian authorises checking their own and the child's data "
        "against the departments' shared data (at a counter: staff record the signed form). "
        "Without it nothing is checked and the application goes to manual review.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Your key for this submission (8–64 of A–Z a–z 0–9 - _; a UUID does): "
        "a retry with the same key returns the first answer, query code included.",
    )
    draft_id: strawberry.ID | None = strawberry.field(
        default=None, description="Submit this draft of yours (startApplication)."
    )
    primary_school_code: str | None = strawberry.field(
        default=None,
        description="小升初 (junior seasons only): the primary school the child graduates from; "
        "the season's feeder mapping places its graduates at their middle school first.",
    )

    def to_command(self) -> SubmitApplication:
        """The core's command.

        :raises InvalidInput: a required field is missing (the first one is named).
        """
        fields = {
            "seasonCode": self.season_code,
            "child": self.child,
            "guardian": self.guardian,
            "guardianPhone": self.guardian_phone,
            "relationship": self.relationship,
            "address": self.address,
            "townshipCode": self.township_code,
        }
        missing = [name for name, value in fields.items() if value is None]
        if missing:
            raise InvalidInput(f"缺少必填项：{'、'.join(missing)}", field=missing[0])
        assert self.season_code is not None and self.child is not None
        assert self.guardian is not None and self.guardian_phone is not None
        assert self.relationship is not None and self.address is not None
        assert self.township_code is not None
        return SubmitApplication(
            season_code=self.season_code,
            child=self.child.to_core(),
            guardian=self.guardian.to_core(),
            guardian_phone=self.guardian_phone,
            relationship=self.relationship,
            address=self.address,
            township_code=self.township_code,
            paper_seen=tuple(self.paper_seen),
            consent=self.consent,
            idempotency_key=self.idempotency_key,
            primary_school_code=self.primary_school_code or None,
        )


@strawberry.input(description="A reviewer's decision at the application's current step.")
class ReviewApplicationInput:
    """``expectedVersion`` guards against two reviewers deciding at once."""

    application_id: strawberry.ID
    decision: enums.ReviewDecision
    comment: str = ""
    expected_version: int | None = None

    def to_command(self, application_id: int) -> ReviewApplication:
        """The core's command."""
        return ReviewApplication(
            application_id=application_id,
            decision=self.decision,
            comment=self.comment,
            expected_version=self.expected_version,
        )


@strawberry.input(description="Withdraw an application not yet decided.")
class WithdrawApplicationInput:
    """The application to withdraw."""

    application_id: strawberry.ID
    expected_version: int | None = None

    def to_command(self, application_id: int) -> WithdrawApplication:
        """The core's command."""
        return WithdrawApplication(application_id, self.expected_version)


@strawberry.input(description="Change the signed-in guardian's mobile number.")
class ChangeGuardianPhoneInput:
    """The new mainland mobile number."""

    phone: str


@strawberry.input(description="补正: correct the declared address and resubmit for verification.")
class CorrectApplicationInput:
    """The corrected residence address (and township, and the relationship when the hukou
    contradicted it), guarded by ``expectedVersion``."""

    application_id: strawberry.ID
    address: str
    township_code: str | None = None
    expected_version: int | None = None
    relationship: enums.Relationship | None = None

    def to_command(self, application_id: int) -> CorrectApplication:
        """The core's command."""
        return CorrectApplication(
            application_id=application_id,
            address=self.address,
            township_code=self.township_code,
            expected_version=self.expected_version,
            relationship=self.relationship,
        )


@strawberry.input(description="窗口登记：原件已核验 (and a consent signed on paper).")
class RecordPaperSeenInput:
    """Material codes of the season whose originals counter staff saw."""

    application_id: strawberry.ID
    materials: list[str] = strawberry.field(default_factory=list)
    consent: bool = strawberry.field(
        default=False, description="the family signed the consent form (授权核对) on paper"
    )

    def to_command(self, application_id: int) -> RecordPaperSeen:
        """The core's command."""
        return RecordPaperSeen(application_id, tuple(self.materials), self.consent)
