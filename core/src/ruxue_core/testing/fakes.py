"""Fake plugins for tests: a scriptable verifier and a notifier that keeps every SMS.

They are real implementations of the ``Verifier`` and ``Notifier`` protocols, registered through
real hook implementations, so a test exercises the core exactly as an installed plugin would::

    verifier = FakeVerifier(Outcome.MISMATCH)
    notifier = CapturingNotifier()
    runtime = Runtime.create(
        settings.model_copy(update={"verifiers": ["fake"], "notifiers": ["fake"]}),
        extra_plugins=[FakeVerifierPlugin(verifier), CapturingNotifierPlugin(notifier)],
    )
    ...  # submit, run the worker
    assert verifier.requests[0].source == "hukou"
    assert notifier.sent[0].template == "..."

Select a fake by its registered name (``fake`` unless you pass ``name=``). The objects are
plain and mutable: change ``verifier.behaviour`` or ``verifier.delay`` between steps of a test.
Nothing here needs pytest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final, TypeAlias

import httpx

from ruxue_core.domain.enums import MessageStatus, Outcome
from ruxue_core.domain.types import utcnow
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import (
    CaseRecordPush,
    CaseRecordRef,
    CaseReporterRegistration,
    EvidenceRef,
    NotifierRegistration,
    PushOutcome,
    PushReceipt,
    SmsReceipt,
    SmsRequest,
    VerificationRequest,
    VerificationResult,
    VerifierRegistration,
)
from ruxue_core.plugins.hookspecs import hookimpl
from ruxue_core.settings import Settings

__all__ = [
    "DEFAULT_FACTS",
    "DEFAULT_TOWNSHIP",
    "CapturingNotifier",
    "CapturingNotifierPlugin",
    "FactValue",
    "FakeVerifier",
    "FakeVerifierPlugin",
    "RecordingCaseReporter",
    "RecordingCaseReporterPlugin",
    "RecordingTransport",
    "VerifierBehaviour",
    "default_facts",
]

FactValue: TypeAlias = str | int | bool | date | None
"""The scalar types a verification fact may have (as in ``VerificationResult.facts``)."""

VerifierBehaviour: TypeAlias = Outcome | type[TemporaryPluginError] | type[PermanentPluginError]
"""What a :class:`FakeVerifier` does: answer with an outcome, or raise that kind of fault."""

DEFAULT_FACTS: Final[Mapping[str, FactValue]] = {
    "move_in_date": date(2020, 5, 1),
    "relationship": "father",
}
"""Hukou facts a :class:`FakeVerifier` reports unless given others."""

DEFAULT_TOWNSHIP: Final = "420704101"
"""The township (燕矶镇 in the sample season) a :class:`FakeVerifier`'s records are in when
the declared address names none of the sample season's townships."""

SAMPLE_TOWNSHIPS: Final[Mapping[str, str]] = {
    "燕矶镇": "420704101",
    "杨叶镇": "420704102",
    "沙窝乡": "420704103",
    "花湖镇": "420704104",
    "碧石渡镇": "420704105",
    "汀祖镇": "420704106",
    "新庙镇": "420704107",
    "三江港": "420704108",
}


def default_facts(request: VerificationRequest, township: str | None) -> dict[str, FactValue]:
    """Facts that prove the request's claim: a local hukou, a fully owned home, a valid
    residence permit and a year of insurance, all at the declared address, in ``township``
    (``None``: the sample season's township the address names, else :data:`DEFAULT_TOWNSHIP`)."""
    named = (code for name, code in SAMPLE_TOWNSHIPS.items() if name in request.claimed_address)
    at = {
        "address": request.claimed_address,
        "township_code": township or next(named, DEFAULT_TOWNSHIP),
    }
    by_source: dict[str, dict[str, FactValue]] = {
        "hukou": {**at, "household": "HH-FAKE", **DEFAULT_FACTS},
        "property": {
            **at,
            "use": "residential",
            "share": "full",
            "registration_date": date(2019, 6, 1),
            "certificate": "certificate",
        },
        "residence_permit": {
            **at,
            "issue_date": date(2025, 1, 1),
            "expiry_date": date(2030, 12, 31),
        },
        "social_insurance": {"scheme": "employee", "months": 12},
    }
    return by_source.get(request.source, {})


class FakeVerifier:
    """A verifier that answers every request the same, scripted way and remembers each one.

    ``behaviour`` is either an :class:`Outcome`, returned with evidence (request id echoed,
    source record id ``HK-<n>`` for the n-th request) and facts, or a fault class:
    :class:`TemporaryPluginError` (the core retries it) or :class:`PermanentPluginError` (it does
    not), raised with a message containing ``fake``. A result other than ``MATCH`` carries the
    reason ``fake <outcome>``.

    ``delay`` seconds pass before the answer; set it above the configured verification timeout
    to simulate a source that hangs.

    Every request is appended to :attr:`requests` as it arrives, before the delay, so a request
    that timed out or raised is recorded too.
    """

    def __init__(
        self,
        behaviour: VerifierBehaviour = Outcome.MATCH,
        *,
        delay: float = 0.0,
        facts: Mapping[str, FactValue] | None = None,
    ) -> None:
        self.behaviour: VerifierBehaviour = behaviour
        self.delay = delay
        self.facts: dict[str, FactValue] = dict(facts or {})
        """Facts reported for every source, over :func:`default_facts`."""
        self.township: str | None = None
        """The township of every record (``None``: the one the declared address names)."""
        self.requests: list[VerificationRequest] = []

    async def verify(self, request: VerificationRequest) -> VerificationResult:
        """Record ``request``, wait :attr:`delay` seconds, then answer or raise per
        :attr:`behaviour`."""
        self.requests.append(request)
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        behaviour = self.behaviour
        if isinstance(behaviour, Outcome):
            return VerificationResult(
                behaviour,
                EvidenceRef(request.request_id, utcnow(), f"HK-{len(self.requests)}"),
                facts={**default_facts(request, self.township), **self.facts},
                reason=None if behaviour is Outcome.MATCH else f"fake {behaviour}",
            )
        if issubclass(behaviour, TemporaryPluginError):
            raise behaviour("fake source is down")
        raise behaviour("fake source refused the request")

    async def aclose(self) -> None:
        """Nothing to release; safe to call any number of times."""


class FakeVerifierPlugin:
    """A plugin object registering one :class:`FakeVerifier` (pass it to ``extra_plugins``).

    The verifier is registered under ``name`` for ``sources``; its factory always returns the
    same instance, :attr:`verifier`, so the test can script and inspect it. Without a
    ``verifier`` argument a new one (answering ``MATCH``) is created.
    """

    def __init__(
        self,
        verifier: FakeVerifier | None = None,
        *,
        name: str = "fake",
        sources: Sequence[str] = ("hukou", "residence_permit", "property", "social_insurance"),
    ) -> None:
        self.verifier = verifier if verifier is not None else FakeVerifier()
        self.name = name
        self.sources = tuple(sources)

    @hookimpl
    def ruxue_verifiers(self, config: Settings) -> list[VerifierRegistration]:
        """Register :attr:`verifier` under :attr:`name` for :attr:`sources`."""
        return [
            VerifierRegistration(
                self.name,
                self.sources,
                lambda _settings: self.verifier,
                description="fake verifier for tests",
            )
        ]


class CapturingNotifier:
    """A notifier that accepts every SMS and keeps it in :attr:`sent`.

    Each send returns ``ACCEPTED`` with the vendor message id ``fake-<n>`` for the n-th SMS, so
    message rows reach their final state. It parses no delivery receipts.
    """

    def __init__(self) -> None:
        self.sent: list[SmsRequest] = []

    async def send(self, request: SmsRequest) -> SmsReceipt:
        """Keep ``request`` and accept it."""
        self.sent.append(request)
        return SmsReceipt(MessageStatus.ACCEPTED, vendor_message_id=f"fake-{len(self.sent)}")

    def parse_receipts(self, body: bytes) -> list[SmsReceipt]:
        """No vendor sends receipts to a fake: always empty."""
        return []

    async def aclose(self) -> None:
        """Nothing to release; safe to call any number of times."""


class CapturingNotifierPlugin:
    """A plugin object registering one :class:`CapturingNotifier` (pass it to ``extra_plugins``).

    The notifier is registered under ``name``; its factory always returns the same instance,
    :attr:`notifier`. Without a ``notifier`` argument a new one is created.
    """

    def __init__(self, notifier: CapturingNotifier | None = None, *, name: str = "fake") -> None:
        self.notifier = notifier if notifier is not None else CapturingNotifier()
        self.name = name

    @hookimpl
    def ruxue_notifiers(self, config: Settings) -> list[NotifierRegistration]:
        """Register :attr:`notifier` under :attr:`name`."""
        return [
            NotifierRegistration(
                self.name, lambda _settings: self.notifier, description="capturing notifier"
            )
        ]


class RecordingCaseReporter:
    """A case reporter that keeps each record once per (receipt number, version).

    :attr:`records` maps ``(receipt_no, version)`` to the first push of it; :attr:`pushes`
    counts every push, repeats included; :attr:`order` lists first arrivals. With
    :attr:`acknowledge` ``True`` (the default) a push is acknowledged at once; with
    ``False`` it is only ``received`` and acknowledged when :meth:`acknowledgements` is asked
    after :meth:`release` (a late acknowledgement). Receipt numbers in :attr:`reject` are
    refused with a reason; :attr:`fail` pushes raise ``TemporaryPluginError``.
    """

    def __init__(self) -> None:
        self.records: dict[tuple[str, int], CaseRecordPush] = {}
        self.order: list[tuple[str, int]] = []
        self.pushes = 0
        self.acknowledge = True
        self.released: set[tuple[str, int]] = set()
        self.reject: set[str] = set()
        self.fail = 0

    async def push(self, record: CaseRecordPush) -> PushReceipt:
        """Keep ``record`` (once per receipt number and version); answer as configured."""
        self.pushes += 1
        if self.fail > 0:
            self.fail -= 1
            raise TemporaryPluginError("平台暂时不可用")
        if record.receipt_no in self.reject:
            return PushReceipt(PushOutcome.REJECTED, reason="事项编码不存在")
        key = (record.receipt_no, record.version)
        if key not in self.records:
            self.records[key] = record
            self.order.append(key)
        if self.acknowledge or key in self.released:
            return PushReceipt(PushOutcome.ACKNOWLEDGED)
        return PushReceipt(PushOutcome.RECEIVED)

    def release(self) -> None:
        """Acknowledge every record received so far (at the next status query)."""
        self.released |= set(self.records)

    async def acknowledgements(self, records: Sequence[CaseRecordRef]) -> list[PushReceipt]:
        """Each record's state: acknowledged once released, else received (or unknown)."""
        answers = []
        for ref in records:
            key = (ref.receipt_no, ref.version)
            if key not in self.records:
                answers.append(PushReceipt(PushOutcome.UNKNOWN))
            elif self.acknowledge or key in self.released:
                answers.append(PushReceipt(PushOutcome.ACKNOWLEDGED))
            else:
                answers.append(PushReceipt(PushOutcome.RECEIVED))
        return answers

    async def aclose(self) -> None:
        """Nothing to release; safe to call any number of times."""


class RecordingCaseReporterPlugin:
    """A plugin object registering one :class:`RecordingCaseReporter` under ``name``."""

    def __init__(
        self, reporter: RecordingCaseReporter | None = None, *, name: str = "fake"
    ) -> None:
        self.reporter = reporter if reporter is not None else RecordingCaseReporter()
        self.name = name

    @hookimpl
    def ruxue_case_reporters(self, config: Settings) -> list[CaseReporterRegistration]:
        """Register :attr:`reporter` under :attr:`name`."""
        return [
            CaseReporterRegistration(
                self.name, lambda _settings: self.reporter, description="recording reporter"
            )
        ]


class RecordingTransport(httpx.AsyncBaseTransport):
    """An httpx transport that keeps (method, path, headers, body) of every request and
    passes it on to ``inner`` (e.g. ``httpx.ASGITransport(app=sandbox_app)``): hand it to
    a verifier to check what went over the wire (``VerifierContract.signed_exchanges``)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Record the request, then let ``inner`` answer it."""
        body = await request.aread()
        self.sent.append((request.method, request.url.path, dict(request.headers), body))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close ``inner``."""
        await self.inner.aclose()
