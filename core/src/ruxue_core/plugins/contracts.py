"""Typed plugin contracts: the registration records hooks return and the async protocols the
registered objects satisfy. Plugins do I/O; retries, timeouts and failover live in the core.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ruxue_core.domain.enums import MessageStatus, Outcome, Role
from ruxue_core.settings import Settings

# --- verifiers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    """What one department check asks about one person, for one purpose.

    :ivar source: the data source to ask (``hukou``, ``property``, … or a city's own name).
    :ivar subject: whose record: ``child`` or ``guardian``.
    :ivar id_number: the person's validated resident ID number.
    :ivar name: the person's name as declared.
    :ivar claimed_address: the residence address the guardian declared.
    :ivar purpose: why the data is needed (logged by the department, PIPL art. 6).
    :ivar request_id: unique per attempt chain; departments echo it for audit.
    :ivar guardian_id_number: for a child's hukou: the guardian whose recorded relationship
        to the child is asked for.
    :ivar consent_ref: the family's recorded authorisation (授权核对) this check relies on.
    :ivar acting_user: who caused the check (the submitting guardian's or staff's id).
    :ivar case_ref: the case (办件编号) the check belongs to.
    :ivar window_start: social insurance: count months paid from this date.
    """

    source: str
    subject: str
    id_number: str
    name: str
    claimed_address: str
    purpose: str
    request_id: str
    guardian_id_number: str | None = None
    consent_ref: str | None = None
    acting_user: str | None = None
    case_ref: str | None = None
    window_start: date | None = None


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """Where an answer came from, for audit: request id, time, the source's record id."""

    request_id: str
    checked_at: datetime
    source_record_id: str | None = None


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """A verifier's typed answer with only the minimal facts the rules need (never a record)."""

    outcome: Outcome
    evidence: EvidenceRef
    facts: Mapping[str, str | int | bool | date | None] = field(default_factory=dict)
    reason: str | None = None


@runtime_checkable
class Verifier(Protocol):
    """Answers one source. Raises ``TemporaryPluginError``/``PermanentPluginError`` on faults."""

    async def verify(self, request: VerificationRequest) -> VerificationResult:
        """Check one claim against the source and return the outcome and minimal facts."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class VerifierRegistration:
    """Registers a verifier factory under a unique ``name`` for the ``sources`` it answers."""

    name: str
    sources: tuple[str, ...]
    factory: Callable[[Settings], Verifier]
    description: str = ""


# --- notifiers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SmsRequest:
    """One templated SMS. ``text`` is the rendered Chinese text for vendors that send text."""

    message_id: str
    phone: str
    template: str
    params: Mapping[str, str]
    text: str


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    """A vendor's answer or delivery receipt mapped onto Ruxue's status vocabulary."""

    status: MessageStatus
    vendor_message_id: str | None = None
    vendor_code: str | None = None
    detail: str | None = None
    message_id: str | None = None


@runtime_checkable
class Notifier(Protocol):
    """Sends one SMS through one vendor; raises ``TemporaryPluginError`` on retryable faults."""

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Hand the message to the vendor; return ``accepted`` (or a failure status)."""
        ...

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        """Parse the vendor's delivery-receipt callback body into normalised receipts."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class StatusQuery(Protocol):
    """The optional hook of a :class:`Notifier` that can ask its vendor what became of a
    message whose send timed out (or was cut short by a crash).

    A call that timed out may still have been accepted, so before a message goes to another
    vendor (or is sent again) the core asks the first vendor by the message's correlation id.
    A notifier without this method gets the documented default: the core cannot tell, and
    fails over as for any temporary failure (the guardian may then get the SMS twice).
    """

    async def query_status(self, request: SmsRequest, sent_at: datetime) -> SmsReceipt | None:
        """What the vendor holds for ``request.message_id`` (sent at or after ``sent_at``).

        :return: a receipt (``accepted``, ``delivered`` or ``permanent_failure``, with the
            vendor's message id) when the vendor has the message; ``None`` only when it
            certainly has not (it is then safe to send it elsewhere).
        :raises TemporaryPluginError: the vendor cannot tell now (unreachable, or its
            records may not show the message yet); the core asks again later and sends
            nowhere meanwhile.
        """
        ...


@dataclass(frozen=True, slots=True)
class NotifierRegistration:
    """Registers an SMS notifier factory under a unique vendor ``name``."""

    name: str
    factory: Callable[[Settings], Notifier]
    description: str = ""
    receipts: bool = True
    """Whether the vendor pushes delivery receipts to ``/sms/receipts/<name>/<token>``;
    production then refuses to start without a strong ``sms.receipt_token``."""


# --- case reporters --------------------------------------------------------------------------


class PushOutcome(StrEnum):
    """What a provincial platform said about one case record."""

    RECEIVED = "received"
    """Taken in; the platform's acknowledgement (回执) follows later."""
    ACKNOWLEDGED = "acknowledged"
    """The platform confirms it holds this version of the record (办件获取成功回执)."""
    REJECTED = "rejected"
    """The platform refused the record (malformed, unknown item code…); ``reason`` says why."""
    UNKNOWN = "unknown"
    """Status queries only: the platform has no such record (it never arrived)."""


@dataclass(frozen=True, slots=True)
class PushReceipt:
    """A platform's answer about one record, mapped onto :class:`PushOutcome`.

    :ivar reason: the platform's own words when it rejected the record.
    :ivar reference: the platform's id for the record, if it gives one.
    """

    outcome: PushOutcome
    reason: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class CaseRecordRef:
    """Which record: receipt number (办件编号), record version and kind."""

    receipt_no: str
    version: int
    kind: str


@dataclass(frozen=True, slots=True)
class CaseRecordPush:
    """One provincial case record as the core hands it to a reporter.

    :ivar version: the record's version, counting the case's records from 1 (pushed in order,
        each only after the one before was acknowledged); with ``receipt_no`` it is the
        idempotency key.
    :ivar kind: ``accept`` (受理), ``process`` (过程), ``special`` (特别程序: a correction
        pause) or ``result`` (办结). Which platform interface takes which kind is the
        reporter's configuration.
    :ivar payload: the canonical record (Ruxue's field names; no personal numbers).
    :ivar personal: personal data the platform needs, resolved from the encrypted tables at
        push time and never stored in a record: ``applicant_name``,
        ``applicant_id_number``, ``applicant_phone``, ``query_code``. Not in ``repr``.
    """

    receipt_no: str
    version: int
    kind: str
    payload: Mapping[str, Any]
    personal: Mapping[str, str | None] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ref(self) -> CaseRecordRef:
        """The record's reference (receipt number, version, kind)."""
        return CaseRecordRef(self.receipt_no, self.version, self.kind)


@runtime_checkable
class CaseReporter(Protocol):
    """Pushes case records to a provincial government-service platform.

    Raises ``TemporaryPluginError`` for faults worth retrying (timeouts, HTTP 5xx) and
    ``PermanentPluginError`` for its own misconfiguration. A record the platform refuses is
    not an error: it is a ``REJECTED`` receipt with the platform's reason. The core owns
    ordering, retries, acknowledgement tracking and re-pushes.
    """

    async def push(self, record: CaseRecordPush) -> PushReceipt:
        """Send one record; the same (receipt number, version) may come again and must not
        be refused for that (the core re-pushes whenever it cannot tell it arrived)."""
        ...

    async def acknowledgements(self, records: Sequence[CaseRecordRef]) -> list[PushReceipt]:
        """Ask the platform about records sent earlier: one receipt per reference, in order."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True, slots=True)
class CaseReporterRegistration:
    """Registers a case reporter factory under a unique ``name``."""

    name: str
    factory: Callable[[Settings], CaseReporter]
    description: str = ""


# --- identity providers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: an authenticated person with one role and that role's scope.

    :ivar id: a stable identifier from the identity provider (never an ID number).
    :ivar name: the person's name (a guardian's: the real name the provider verified).
    :ivar region_code: counter staff: the township (乡镇) whose cases they handle.
    :ivar school_code: school reviewers: their school.
    :ivar verified_id_number: guardians: the real-name ID number the identity provider
        verified (统一身份认证实名). It is what binds a login to a guardian record; it is never
        shown, logged or compared with anything but that record's blind index.
    :ivar provider: the name of the identity provider that vouched for this principal.
    :ivar session_epoch: staff: the account's session epoch when the session was issued.
    :ivar assurance_level: guardians: the real-name assurance level (实名认证等级) the
        provider vouched for, on Ruxue's scale 1 (self-declared) to 4 (in person / face).
    :ivar verified_phone: guardians: the mobile number the provider verified, if any.
    :ivar session_id: guardians: the Ruxue session this request belongs to (for logout).

    Verified personal data (name, ID number, phone) stays out of ``repr``.
    """

    id: str
    role: Role
    name: str = field(default="", repr=False)
    region_code: str | None = None
    school_code: str | None = None
    verified_id_number: str | None = field(default=None, repr=False, compare=False)
    provider: str = ""
    session_epoch: int | None = None
    assurance_level: int | None = None
    verified_phone: str | None = field(default=None, repr=False, compare=False)
    session_id: str | None = field(default=None, repr=False, compare=False)

    @classmethod
    def system(cls) -> Principal:
        """The system itself (workers, scheduled jobs, command-line administration)."""
        return cls(id="system", role=Role.SYSTEM, name="系统")


@runtime_checkable
class IdentityProvider(Protocol):
    """Turns request credentials (a bearer token, a provincial ticket) into a principal."""

    async def authenticate(self, authorization: str) -> Principal | None:
        """The principal for an ``Authorization`` header value, or ``None`` if not this
        provider's (or not valid). Must not raise for malformed input; may do I/O."""
        ...


@dataclass(frozen=True, slots=True)
class IdentityProviderRegistration:
    """Registers an identity provider factory under a unique ``name``.

    :ivar roles: the roles this provider may vouch for; a principal with any other role is
        refused by the core (a provincial login can never make a bureau officer).
    """

    name: str
    factory: Callable[[Settings], IdentityProvider]
    description: str = ""
    roles: frozenset[Role] = frozenset({Role.GUARDIAN})


@runtime_checkable
class RedirectLogin(Protocol):
    """An identity provider whose users sign in in the browser, away from Ruxue: the
    provincial portal's ticket flow or an OpenID Connect authorization-code flow.

    The gateway sends the browser to :meth:`login_url`; the provider sends it back to the
    callback with its one-time parameters (a ticket, a code); :meth:`redeem` exchanges them,
    server to server, for a credential that the provider's ``authenticate`` accepts. The
    core then opens its own short-lived guardian session; nothing the provider issued is kept.
    """

    async def login_url(self, callback_url: str, state: str) -> str:
        """Where to send the browser to sign in; it must come back to ``callback_url`` with
        ``state`` (the core checks it). May do I/O (an OpenID Connect discovery document)."""
        ...

    async def redeem(self, params: Mapping[str, str], callback_url: str) -> str | None:
        """The credential (an ``Authorization`` value) for the callback's query parameters,
        or ``None`` when they are not valid. Must not raise for malformed input."""
        ...

    def logout_url(self, return_url: str) -> str | None:
        """Where to end the provider's own single sign-on session, if it has such a page."""
        ...
