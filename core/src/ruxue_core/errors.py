"""Domain errors: one base with a stable English ``code`` and a Chinese message for people.

The gateway maps each subclass onto a typed GraphQL error result carrying the same code.
Plugin errors split into temporary (worth retrying) and permanent (GOV.UK Notify's split).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Every stable error code, one per :class:`RuxueError` subclass."""

    INVALID_INPUT = "invalid_input"
    INVALID_TRANSITION = "invalid_transition"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    INELIGIBLE = "ineligible"
    DUPLICATE = "duplicate"
    RATE_LIMITED = "rate_limited"
    INVALID_CREDENTIALS = "invalid_credentials"
    OUT_OF_PHASE = "out_of_phase"
    CONFIGURATION = "configuration"


class RuxueError(Exception):
    """Base of every expected refusal. ``code`` is stable; ``message`` is user-facing Chinese."""

    code: ClassVar[ErrorCode]
    default_message: ClassVar[str] = "操作失败"

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        self.field = field
        super().__init__(f"[{self.code}] {self.message}")


class InvalidInput(RuxueError):
    """The input is malformed; ``field`` names the offending input field."""

    code = ErrorCode.INVALID_INPUT
    default_message = "输入不正确"


class InvalidTransition(RuxueError):
    """The event does not apply to the application's current status."""

    code = ErrorCode.INVALID_TRANSITION
    default_message = "当前状态不允许此操作"


class Conflict(RuxueError):
    """Someone else changed the record since it was read (optimistic locking)."""

    code = ErrorCode.CONFLICT
    default_message = "该记录已被他人修改，请刷新后重试"


class Forbidden(RuxueError):
    """The principal may not do this."""

    code = ErrorCode.FORBIDDEN
    default_message = "无权执行此操作"


class NotFound(RuxueError):
    """No such record, or not one the principal may see (the two answer alike)."""

    code = ErrorCode.NOT_FOUND
    default_message = "未找到记录"


class Ineligible(RuxueError):
    """The child does not meet a rule (age, stage, window)."""

    code = ErrorCode.INELIGIBLE
    default_message = "不符合报名条件"


class Duplicate(RuxueError):
    """An application for this child already exists in the season."""

    code = ErrorCode.DUPLICATE
    default_message = "该儿童本学年已有报名记录"


class RateLimited(RuxueError):
    """Too many attempts; try later."""

    code = ErrorCode.RATE_LIMITED
    default_message = "尝试次数过多，请稍后再试"


class InvalidCredentials(RuxueError):
    """A sign-in failed: unknown account, wrong password or disabled account (all alike)."""

    code = ErrorCode.INVALID_CREDENTIALS
    default_message = "用户名或密码不正确"


class OutOfPhase(RuxueError):
    """The season's calendar does not allow this now (报名, 审核, 派位, 公布, 报到); the message
    names the window. ``phase``, ``opens_at`` and ``closes_at`` say which window (an end is
    ``None`` when the season does not schedule it)."""

    code = ErrorCode.OUT_OF_PHASE
    default_message = "不在办理时间内"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        phase: str,
        opens_at: datetime | None = None,
        closes_at: datetime | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.phase = phase
        self.opens_at = opens_at
        self.closes_at = closes_at


class ConfigurationError(RuxueError):
    """The deployment's configuration is wrong (unknown plugin name, missing key)."""

    code = ErrorCode.CONFIGURATION
    default_message = "系统配置错误"


class PluginError(Exception):
    """Raised by plugins for faults in an external service."""


class TemporaryPluginError(PluginError):
    """A fault worth retrying: timeout, 5xx, throttling, connection refused."""


class PermanentPluginError(PluginError):
    """A fault that retrying will not fix: bad credentials, rejected request, unknown template."""
