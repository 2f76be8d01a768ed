"""Value vocabularies shared by the tables, the lifecycle and the API.

Each enum stores its English value in the database; Chinese labels live beside it in ``LABELS``
dictionaries so that one test can check that every value has a label.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Status(StrEnum):
    """Where an application (办件) stands. States are participles."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    VERIFYING = "verifying"
    NEEDS_CORRECTION = "needs_correction"
    MANUAL_REVIEW = "manual_review"
    SCHOOL_REVIEW = "school_review"
    BUREAU_REVIEW = "bureau_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    ADMITTED = "admitted"
    COORDINATING = "coordinating"
    ENROLLED = "enrolled"
    NO_SHOW = "no_show"
    WITHDRAWN = "withdrawn"
    VOIDED = "voided"


STATUS_LABELS: Final[dict[Status, str]] = {
    Status.DRAFT: "草稿",
    Status.SUBMITTED: "已提交",
    Status.VERIFYING: "自动核验中",
    Status.NEEDS_CORRECTION: "退回补正",
    Status.MANUAL_REVIEW: "人工核验",
    Status.SCHOOL_REVIEW: "学校审核",
    Status.BUREAU_REVIEW: "区审核",
    Status.APPROVED: "审核通过",
    Status.REJECTED: "审核不通过",
    Status.ADMITTED: "已录取",
    Status.COORDINATING: "统筹中",
    Status.ENROLLED: "已报到",
    Status.NO_SHOW: "未报到",
    Status.WITHDRAWN: "已撤回",
    Status.VOIDED: "作废",
}


class Actor(StrEnum):
    """Who may cause a transition: one lifecycle actor per acting role."""

    GUARDIAN = "guardian"
    COUNTER = "counter"
    SCHOOL = "school"
    BUREAU = "bureau"
    SYSTEM = "system"


ACTOR_LABELS: Final[dict[Actor, str]] = {
    Actor.GUARDIAN: "监护人",
    Actor.COUNTER: "窗口",
    Actor.SCHOOL: "学校",
    Actor.BUREAU: "区教育部门",
    Actor.SYSTEM: "系统",
}


class Role(StrEnum):
    """Roles a principal can hold."""

    GUARDIAN = "guardian"
    COUNTER_STAFF = "counter_staff"
    SCHOOL_REVIEWER = "school_reviewer"
    BUREAU_OFFICER = "bureau_officer"
    ADMIN = "admin"
    AUDITOR = "auditor"
    SYSTEM = "system"


ROLE_LABELS: Final[dict[Role, str]] = {
    Role.GUARDIAN: "监护人",
    Role.COUNTER_STAFF: "窗口工作人员",
    Role.SCHOOL_REVIEWER: "学校审核员",
    Role.BUREAU_OFFICER: "区教育部门工作人员",
    Role.ADMIN: "系统管理员",
    Role.AUDITOR: "审计员",
    Role.SYSTEM: "系统",
}

ROLE_ACTOR: Final[dict[Role, Actor | None]] = {
    Role.GUARDIAN: Actor.GUARDIAN,
    Role.COUNTER_STAFF: Actor.COUNTER,
    Role.SCHOOL_REVIEWER: Actor.SCHOOL,
    Role.BUREAU_OFFICER: Actor.BUREAU,
    Role.ADMIN: None,  # runs the system (accounts, seasons, jobs); decides no case
    Role.AUDITOR: None,  # reads only
    Role.SYSTEM: Actor.SYSTEM,
}


class Channel(StrEnum):
    """How the application came in (申报来源)."""

    ONLINE = "online"
    COUNTER = "counter"


CHANNEL_LABELS: Final[dict[Channel, str]] = {
    Channel.ONLINE: "网上申报",
    Channel.COUNTER: "窗口受理",
}


class Stage(StrEnum):
    """School stage (学段)."""

    PRIMARY = "primary"  # 小学
    JUNIOR = "junior"  # 初中


class Source(StrEnum):
    """A department data source a verifier answers for."""

    HUKOU = "hukou"  # 户籍 (公安)
    RESIDENCE_PERMIT = "residence_permit"  # 居住证 (公安)
    PROPERTY = "property"  # 不动产登记 (自然资源)
    SOCIAL_INSURANCE = "social_insurance"  # 社保 (人社)


class Outcome(StrEnum):
    """A verifier's answer for one source."""

    MATCH = "match"
    MISMATCH = "mismatch"
    NOT_FOUND = "not_found"
    SOURCE_UNAVAILABLE = "source_unavailable"
    NEEDS_MANUAL_REVIEW = "needs_manual_review"


OUTCOME_LABELS: Final[dict[Outcome, str]] = {
    Outcome.MATCH: "核验合格",
    Outcome.MISMATCH: "核验不合格",
    Outcome.NOT_FOUND: "未查到记录",
    Outcome.SOURCE_UNAVAILABLE: "数据源暂不可用",
    Outcome.NEEDS_MANUAL_REVIEW: "无法判断，转线下审核",
}


class Relationship(StrEnum):
    """Guardian's relationship to the child."""

    FATHER = "father"
    MOTHER = "mother"
    OTHER = "other"


class JobStatus(StrEnum):
    """Outbox job state."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class MessageStatus(StrEnum):
    """One SMS's state. A vendor's answers and receipts use the four-word vocabulary
    ``accepted``, ``delivered``, ``temporary_failure``, ``permanent_failure``; a message
    itself goes ``queued`` → ``sending`` (handed to one vendor) → ``accepted`` →
    ``delivered``, back to ``queued`` after a temporary failure, and ends ``failed`` (with
    its reason) after a permanent one or when its attempts run out."""

    QUEUED = "queued"
    SENDING = "sending"
    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    TEMPORARY_FAILURE = "temporary_failure"
    PERMANENT_FAILURE = "permanent_failure"
    FAILED = "failed"


MESSAGE_STATUS_LABELS: Final[dict[MessageStatus, str]] = {
    MessageStatus.QUEUED: "待发送",
    MessageStatus.SENDING: "发送中",
    MessageStatus.ACCEPTED: "已提交运营商",
    MessageStatus.DELIVERED: "已送达",
    MessageStatus.TEMPORARY_FAILURE: "暂时失败",
    MessageStatus.PERMANENT_FAILURE: "发送失败",
    MessageStatus.FAILED: "发送失败",
}


class CaseRecordStatus(StrEnum):
    """A provincial case record's push state."""

    QUEUED = "queued"  # written; waits for the records before it to be acknowledged
    SENT = "sent"  # the platform took it; its acknowledgement is awaited (re-pushed if late)
    ACKED = "acked"  # the platform acknowledged this version
    REJECTED = "rejected"  # the platform refused it; its reason is kept; later ones wait
    HELD = "held"  # no case reporter configured; pushed once one is


CASE_RECORD_STATUS_LABELS: Final[dict[CaseRecordStatus, str]] = {
    CaseRecordStatus.QUEUED: "待推送",
    CaseRecordStatus.SENT: "已推送待回执",
    CaseRecordStatus.ACKED: "已回执",
    CaseRecordStatus.REJECTED: "被拒收",
    CaseRecordStatus.HELD: "暂存（未配置回传）",
}


class ReviewDecision(StrEnum):
    """A reviewer's decision."""

    APPROVE = "approve"
    RETURN = "return"  # back to the guardian for correction (退回补正)
    REJECT = "reject"
