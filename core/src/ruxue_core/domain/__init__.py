"""SQLModel tables and value types. Importing this package registers every table."""

from ruxue_core.domain.applications import (
    Application,
    Assessment,
    Consent,
    Evidence,
    Material,
    QueryGuard,
    Review,
    SubmissionKey,
)
from ruxue_core.domain.audit import AuditEvent, AuditHead
from ruxue_core.domain.catalog import Region, School, Season, Zone, ZoneSchool
from ruxue_core.domain.intake import ApplicationDraft, ManualVerification
from ruxue_core.domain.outbox import CaseRecord, Job, Message, SmsReceiptRow, SmsVendorState
from ruxue_core.domain.people import Child, Guardian, StaffAccount
from ruxue_core.domain.placement import (
    Admission,
    CareClaim,
    LotteryDraw,
    PlacementResult,
    PlacementRun,
)
from ruxue_core.domain.sessions import GuardianSession

__all__ = [
    "Admission",
    "Application",
    "ApplicationDraft",
    "Assessment",
    "AuditEvent",
    "AuditHead",
    "CareClaim",
    "CaseRecord",
    "Child",
    "Consent",
    "Evidence",
    "Guardian",
    "GuardianSession",
    "Job",
    "LotteryDraw",
    "ManualVerification",
    "Material",
    "Message",
    "PlacementResult",
    "PlacementRun",
    "QueryGuard",
    "Region",
    "Review",
    "School",
    "Season",
    "SmsReceiptRow",
    "SmsVendorState",
    "StaffAccount",
    "SubmissionKey",
    "Zone",
    "ZoneSchool",
]
