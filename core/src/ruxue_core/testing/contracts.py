"""Contract suites a plugin's own tests subclass to prove the plugin honours its contract.

A city's verifier, a vendor's notifier, a province's case reporter or identity provider: its
test module subclasses one suite, names the subclass
``Test…`` and overrides the fixtures the suite asks for; every test here then runs against the
plugin. A fixture the subclass forgot fails the test loudly, naming what to provide::

    class TestMyVerifier(VerifierContract):
        @pytest.fixture
        async def verifier(self):
            verifier = MyVerifier(base_url=...)
            yield verifier
            await verifier.aclose()

        @pytest.fixture
        def plugin_module(self):
            return my_plugin.plugin

        ...  # matching_request, mismatching_request, unknown_request[, unavailable_request]

The suites need pytest and pytest-asyncio (``pip install ruxue-core[testing]``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Final, NoReturn

import pytest

from ruxue_core.domain.enums import MessageStatus, Outcome, Role
from ruxue_core.errors import PermanentPluginError, TemporaryPluginError
from ruxue_core.plugins.contracts import (
    CaseRecordPush,
    CaseRecordRef,
    CaseReporter,
    CaseReporterRegistration,
    IdentityProvider,
    IdentityProviderRegistration,
    Notifier,
    NotifierRegistration,
    Principal,
    PushOutcome,
    PushReceipt,
    SmsReceipt,
    SmsRequest,
    StatusQuery,
    VerificationRequest,
    VerificationResult,
    Verifier,
    VerifierRegistration,
)
from ruxue_core.plugins.host import PluginHost, build_plugin_manager
from ruxue_core.rules.facts import FACT_NAMES
from ruxue_core.settings import Settings
from ruxue_core.signing import RequestContext, SignatureVerifier

SignedExchange = tuple[str, str, Mapping[str, str], bytes]
"""One request a plugin sent: method, path, headers, body."""

ID_NUMBER_PATTERN: Final = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
"""Anything that looks like an 18-character resident ID number: 17 digits and a check
character, not part of a longer run of digits (a 23-digit receipt number is not one)."""

FACT_TYPES: Final = (str, int, bool, date, type(None))
"""The scalar types a verification fact may have."""

RECEIPT_STATUSES: Final = frozenset(
    {
        MessageStatus.ACCEPTED,
        MessageStatus.DELIVERED,
        MessageStatus.TEMPORARY_FAILURE,
        MessageStatus.PERMANENT_FAILURE,
    }
)
"""The status vocabulary every notifier maps its vendor's codes onto."""


def contains_id_number(text: str) -> bool:
    """Whether ``text`` contains something shaped like a resident ID number."""
    return ID_NUMBER_PATTERN.search(text) is not None


def _missing(suite: str, fixture: str, what: str) -> NoReturn:
    pytest.fail(
        f"{suite} needs the fixture {fixture!r}: override it in your Test… subclass to return "
        f"{what}.",
        pytrace=False,
    )


def _plugin_host(settings: Settings, plugin_module: object) -> PluginHost:
    """A host with only the bundled defaults and ``plugin_module`` registered (the bundled
    module itself is registered once: pluggy refuses a plugin registered twice)."""
    from ruxue_core.plugins import builtin

    extra = [] if plugin_module is builtin else [plugin_module]
    pm = build_plugin_manager(settings, extra_plugins=extra, load_entry_points=False)
    return PluginHost(settings, pm)


def _plugin_name(plugin_module: object) -> str:
    """A module's name, or a plugin object's class name, for failure messages."""
    name = getattr(plugin_module, "__name__", None)
    return name if isinstance(name, str) else type(plugin_module).__name__


def _registrations(plugin_module: object, name: str, settings: Settings) -> list[object]:
    hook = getattr(plugin_module, name, None)
    if not callable(hook):
        pytest.fail(f"{_plugin_name(plugin_module)} has no hook implementation {name!r}")
    registrations = hook(config=settings)
    if not isinstance(registrations, Iterable):
        pytest.fail(
            f"{_plugin_name(plugin_module)}.{name} must return an iterable of registrations"
        )
    return list(registrations)


# --- verifiers -------------------------------------------------------------------------------


class VerifierContract:
    """The verifier contract (not collected itself: subclass it as ``Test…``).

    Fixtures to provide: ``verifier`` (a ready ``Verifier``), ``plugin_module`` (the module
    holding the ``ruxue_verifiers`` hook implementation), ``matching_request``,
    ``mismatching_request`` and ``unknown_request``. Optionally: ``unavailable_request`` (a
    request the source answers with an outage), ``refused_verifier`` (one whose credentials
    the source refuses: a permanent fault), ``hanging_request`` (a request the source never
    answers), ``signed_exchanges`` and ``signature_secrets`` (what the plugin sent over the
    wire, checked with :class:`ruxue_core.SignatureVerifier`) and ``plugin_settings``.

    It checks: each outcome; evidence (request id, aware time, the source's record id on a
    match); temporary faults raise ``TemporaryPluginError`` and refusals
    ``PermanentPluginError``; facts are a few scalars under the standard names of their
    source, never an ID number; a caller's timeout is honoured at once; and signed requests
    carry the request id, purpose, case and consent.
    """

    @pytest.fixture
    def verifier(self) -> Verifier:
        """The verifier under test, ready to answer the requests below."""
        _missing("VerifierContract", "verifier", "a Verifier instance (close it after yield)")

    @pytest.fixture
    def plugin_module(self) -> object:
        """The module (or plugin object) with the plugin's ``@hookimpl def ruxue_verifiers``."""
        _missing("VerifierContract", "plugin_module", "the module with your hook implementation")

    @pytest.fixture
    def plugin_settings(self) -> Settings:
        """Settings passed to the hook and to factories; override to supply plugin options."""
        return Settings()

    @pytest.fixture
    def matching_request(self) -> VerificationRequest:
        """A request the source answers with ``MATCH``."""
        _missing("VerifierContract", "matching_request", "a request the source confirms")

    @pytest.fixture
    def mismatching_request(self) -> VerificationRequest:
        """A request for a known person whose claim differs from the source's record."""
        _missing("VerifierContract", "mismatching_request", "a request that contradicts a record")

    @pytest.fixture
    def unknown_request(self) -> VerificationRequest:
        """A request for a person the source has no record of."""
        _missing("VerifierContract", "unknown_request", "a request for a person with no record")

    @pytest.fixture
    def unavailable_request(self) -> VerificationRequest | None:
        """A request the source answers with an outage; ``None`` skips that test."""
        return None

    @pytest.fixture
    def refused_verifier(self) -> Verifier | None:
        """A verifier whose credentials the source refuses; ``None`` skips that test."""
        return None

    @pytest.fixture
    def hanging_request(self) -> VerificationRequest | None:
        """A request the source never answers in time; ``None`` skips that test."""
        return None

    @pytest.fixture
    def signed_exchanges(self) -> Callable[[], list[SignedExchange]] | None:
        """What the plugin sent, as (method, path, headers, body); ``None`` skips."""
        return None

    @pytest.fixture
    def signature_secrets(self) -> Mapping[str, str]:
        """App key → secret the signed exchanges must verify with."""
        return {}

    @pytest.mark.asyncio
    async def test_match_returns_match_with_evidence(
        self, verifier: Verifier, matching_request: VerificationRequest
    ) -> None:
        """A confirmed claim is ``MATCH``, with the request id echoed and an aware timestamp."""
        result = await verifier.verify(matching_request)
        assert isinstance(result, VerificationResult)
        assert result.outcome is Outcome.MATCH, result
        assert result.evidence.request_id == matching_request.request_id
        checked_at = result.evidence.checked_at
        assert checked_at.utcoffset() is not None, "evidence.checked_at must be timezone-aware"

    @pytest.mark.asyncio
    async def test_mismatch_returns_mismatch(
        self, verifier: Verifier, mismatching_request: VerificationRequest
    ) -> None:
        """A contradicted claim is ``MISMATCH`` (not an error)."""
        result = await verifier.verify(mismatching_request)
        assert result.outcome is Outcome.MISMATCH, result
        assert result.evidence.request_id == mismatching_request.request_id

    @pytest.mark.asyncio
    async def test_unknown_returns_not_found(
        self, verifier: Verifier, unknown_request: VerificationRequest
    ) -> None:
        """A person without a record is ``NOT_FOUND`` (not an error)."""
        result = await verifier.verify(unknown_request)
        assert result.outcome is Outcome.NOT_FOUND, result
        assert result.evidence.request_id == unknown_request.request_id

    @pytest.mark.asyncio
    async def test_unavailable_raises_temporary_error(
        self, verifier: Verifier, unavailable_request: VerificationRequest | None
    ) -> None:
        """An outage raises ``TemporaryPluginError`` so that the core retries it."""
        if unavailable_request is None:
            pytest.skip("no unavailable_request fixture provided")
        with pytest.raises(TemporaryPluginError):
            await verifier.verify(unavailable_request)

    @pytest.mark.asyncio
    async def test_facts_are_minimal_scalars(
        self,
        verifier: Verifier,
        matching_request: VerificationRequest,
        mismatching_request: VerificationRequest,
    ) -> None:
        """Facts are a few scalars, never a whole record, and never carry an ID number; a
        standard source's facts use only that source's names (no extra personal fields)."""
        for request in (matching_request, mismatching_request):
            result = await verifier.verify(request)
            _assert_minimal_facts(result.facts, request)
            allowed = FACT_NAMES.get(request.source)
            if allowed is not None:
                extra = set(result.facts) - allowed
                assert not extra, f"facts beyond the {request.source} contract: {sorted(extra)}"

    @pytest.mark.asyncio
    async def test_match_names_the_sources_record(
        self, verifier: Verifier, matching_request: VerificationRequest
    ) -> None:
        """A match's evidence names the record the source answered from."""
        result = await verifier.verify(matching_request)
        assert result.evidence.source_record_id, "a MATCH must carry the source's record id"

    @pytest.mark.asyncio
    async def test_refused_credentials_raise_permanent_error(
        self, refused_verifier: Verifier | None, matching_request: VerificationRequest
    ) -> None:
        """A refusal (bad credentials, bad request) is permanent: the core does not retry."""
        if refused_verifier is None:
            pytest.skip("no refused_verifier fixture provided")
        with pytest.raises(PermanentPluginError):
            await refused_verifier.verify(matching_request)

    @pytest.mark.asyncio
    async def test_a_callers_timeout_is_honoured(
        self, verifier: Verifier, hanging_request: VerificationRequest | None
    ) -> None:
        """Under the core's timeout, a hanging source gives up at once (no shielded waits):
        either the timeout fires or the plugin's own timeout raises a temporary error."""
        if hanging_request is None:
            pytest.skip("no hanging_request fixture provided")
        started = time.monotonic()
        with pytest.raises((TimeoutError, TemporaryPluginError)):
            async with asyncio.timeout(0.3):
                await verifier.verify(hanging_request)
        assert time.monotonic() - started < 2.0, "the verifier ignored the caller's timeout"

    @pytest.mark.asyncio
    async def test_requests_are_signed_with_their_context(
        self,
        verifier: Verifier,
        matching_request: VerificationRequest,
        signed_exchanges: Callable[[], list[SignedExchange]] | None,
        signature_secrets: Mapping[str, str],
    ) -> None:
        """Every request sent verifies against the app's secret and names the request id,
        purpose, case and consent of the check."""
        if signed_exchanges is None:
            pytest.skip("no signed_exchanges fixture provided")
        before = len(signed_exchanges())
        await verifier.verify(matching_request)
        sent = signed_exchanges()[before:]
        assert sent, "the verifier sent nothing"
        checker = SignatureVerifier(signature_secrets)
        for method, path, headers, body in sent:
            checker.verify(method, path, headers, body)
            context = RequestContext.from_headers(headers)
            assert context.request_id == matching_request.request_id
            assert context.purpose == matching_request.purpose
            assert context.case_ref == matching_request.case_ref
            assert context.consent_ref == matching_request.consent_ref

    @pytest.mark.asyncio
    async def test_registration(self, plugin_module: object, plugin_settings: Settings) -> None:
        """The hook registers uniquely named verifiers with sources and a working factory."""
        registrations = _registrations(plugin_module, "ruxue_verifiers", plugin_settings)
        assert registrations, "ruxue_verifiers registered nothing"
        names = [r.name for r in registrations if isinstance(r, VerifierRegistration)]
        assert len(names) == len(registrations), "ruxue_verifiers must yield VerifierRegistration"
        assert len(set(names)) == len(names), f"duplicate verifier names: {names}"
        available = _plugin_host(plugin_settings, plugin_module).available()["verifiers"]
        for registration in registrations:
            assert isinstance(registration, VerifierRegistration)
            assert registration.name in available
            assert registration.sources, f"{registration.name} answers no source"
            assert all(isinstance(s, str) and s for s in registration.sources)
            built = registration.factory(plugin_settings)
            assert isinstance(built, Verifier)
            await built.aclose()

    @pytest.mark.asyncio
    async def test_aclose_is_idempotent(self, verifier: Verifier) -> None:
        """Closing twice is harmless (the host and the test both may close)."""
        await verifier.aclose()
        await verifier.aclose()


def _assert_minimal_facts(facts: Mapping[str, object], request: VerificationRequest) -> None:
    secrets = {request.id_number, request.guardian_id_number} - {None}
    for key, value in facts.items():
        assert isinstance(key, str), f"fact name {key!r} is not a string"
        assert isinstance(value, FACT_TYPES), f"fact {key!r} is not a scalar: {value!r}"
        if isinstance(value, str):
            assert value not in secrets, f"fact {key!r} carries an ID number"
            assert not contains_id_number(value), f"fact {key!r} carries an ID number"


# --- notifiers -------------------------------------------------------------------------------


class NotifierContract:
    """The notifier contract (not collected itself: subclass it as ``Test…``).

    Fixtures to provide: ``notifier``, ``plugin_module`` (the module holding the
    ``ruxue_notifiers`` hook implementation), ``sms_request``, ``receipt_body`` (a delivery
    receipt callback body as the vendor sends it) and ``expected_receipt_statuses`` (the
    statuses it must parse into, in order); optionally ``plugin_settings``.
    """

    @pytest.fixture
    def notifier(self) -> Notifier:
        """The notifier under test."""
        _missing("NotifierContract", "notifier", "a Notifier instance (close it after yield)")

    @pytest.fixture
    def plugin_module(self) -> object:
        """The module (or plugin object) with the plugin's ``@hookimpl def ruxue_notifiers``."""
        _missing("NotifierContract", "plugin_module", "the module with your hook implementation")

    @pytest.fixture
    def plugin_settings(self) -> Settings:
        """Settings passed to the hook and to factories; override to supply plugin options."""
        return Settings()

    @pytest.fixture
    def sms_request(self) -> SmsRequest:
        """An SMS the notifier accepts."""
        _missing("NotifierContract", "sms_request", "an SmsRequest the vendor accepts")

    @pytest.fixture
    def receipt_body(self) -> bytes:
        """A delivery-receipt callback body in the vendor's own format."""
        _missing("NotifierContract", "receipt_body", "a sample receipt callback body (bytes)")

    @pytest.fixture
    def expected_receipt_statuses(self) -> list[MessageStatus]:
        """The statuses ``receipt_body`` parses into, in order."""
        _missing(
            "NotifierContract", "expected_receipt_statuses", "the statuses receipt_body maps to"
        )

    @pytest.mark.asyncio
    async def test_send_returns_accepted(self, notifier: Notifier, sms_request: SmsRequest) -> None:
        """A sent message is ``accepted`` and carries the vendor's message id."""
        receipt = await notifier.send(sms_request)
        assert isinstance(receipt, SmsReceipt)
        assert receipt.status is MessageStatus.ACCEPTED, receipt
        assert isinstance(receipt.vendor_message_id, str)
        assert receipt.vendor_message_id, "accepted without a vendor message id"

    @pytest.mark.asyncio
    async def test_sms_carries_no_id_number(
        self, notifier: Notifier, sms_request: SmsRequest
    ) -> None:
        """Neither the SMS (text and params) nor the receipt carries an ID number."""
        for part in (sms_request.text, *sms_request.params.values()):
            assert not contains_id_number(part), "the sample SMS carries an ID number"
        receipt = await notifier.send(sms_request)
        for field in (receipt.vendor_message_id, receipt.vendor_code, receipt.detail):
            assert field is None or not contains_id_number(field)

    def test_parse_receipts(
        self,
        notifier: Notifier,
        receipt_body: bytes,
        expected_receipt_statuses: list[MessageStatus],
    ) -> None:
        """The vendor's receipt body maps onto the shared status vocabulary."""
        receipts = notifier.parse_receipts(receipt_body)
        assert [r.status for r in receipts] == list(expected_receipt_statuses)
        for receipt in receipts:
            assert receipt.status in RECEIPT_STATUSES, receipt
            assert receipt.vendor_message_id, "a receipt must name the vendor's message id"

    @pytest.mark.asyncio
    async def test_registration(self, plugin_module: object, plugin_settings: Settings) -> None:
        """The hook registers uniquely named notifiers with a working factory."""
        registrations = _registrations(plugin_module, "ruxue_notifiers", plugin_settings)
        assert registrations, "ruxue_notifiers registered nothing"
        names = [r.name for r in registrations if isinstance(r, NotifierRegistration)]
        assert len(names) == len(registrations), "ruxue_notifiers must yield NotifierRegistration"
        assert len(set(names)) == len(names), f"duplicate notifier names: {names}"
        available = _plugin_host(plugin_settings, plugin_module).available()["notifiers"]
        for registration in registrations:
            assert isinstance(registration, NotifierRegistration)
            assert registration.name in available
            built = registration.factory(plugin_settings)
            assert isinstance(built, Notifier)
            await built.aclose()

    @pytest.fixture
    def unknown_template_request(self, sms_request: SmsRequest) -> SmsRequest | None:
        """An SMS whose template the notifier has no vendor template for (``None``: the
        vendor sends text and needs none)."""
        return replace(sms_request, template="RX_NO_SUCH_TEMPLATE")

    @pytest.fixture
    def unavailable_notifier(self) -> Notifier | None:
        """The notifier pointed at a vendor that is down (``None``: cannot be arranged)."""
        return None

    @pytest.fixture
    def misconfigured_notifier(self) -> Notifier | None:
        """The notifier with credentials the vendor refuses (``None``: it has none)."""
        return None

    @pytest.mark.asyncio
    async def test_concurrent_sends_are_each_accepted_once(
        self, notifier: Notifier, sms_request: SmsRequest
    ) -> None:
        """Concurrent sends (the core runs many) each get their own vendor message id, and
        the correlation id comes back as it went out when the vendor echoes it."""
        requests = [replace(sms_request, message_id=f"{9000 + i}") for i in range(8)]
        receipts = await asyncio.gather(*(notifier.send(r) for r in requests))
        assert all(r.status is MessageStatus.ACCEPTED for r in receipts), receipts
        assert len({r.vendor_message_id for r in receipts}) == len(requests)
        for request, receipt in zip(requests, receipts, strict=True):
            assert receipt.message_id in (None, request.message_id)

    @pytest.mark.asyncio
    async def test_unknown_template_is_refused_for_good(
        self, notifier: Notifier, unknown_template_request: SmsRequest | None
    ) -> None:
        """A template the vendor has no counterpart for is a permanent failure, not a retry."""
        if unknown_template_request is None:
            pytest.skip("this notifier sends text, not vendor templates")
        try:
            receipt = await notifier.send(unknown_template_request)
        except PermanentPluginError:
            return
        assert receipt.status is MessageStatus.PERMANENT_FAILURE, receipt

    @pytest.mark.asyncio
    async def test_an_unavailable_vendor_is_a_temporary_failure(
        self, unavailable_notifier: Notifier | None, sms_request: SmsRequest
    ) -> None:
        """A vendor that cannot be reached is temporary, so the core fails over."""
        if unavailable_notifier is None:
            pytest.skip("no unavailable vendor arranged")
        try:
            receipt = await unavailable_notifier.send(sms_request)
        except TemporaryPluginError:
            return
        finally:
            await unavailable_notifier.aclose()
        assert receipt.status is MessageStatus.TEMPORARY_FAILURE, receipt

    @pytest.mark.asyncio
    async def test_refused_credentials_are_never_accepted(
        self, misconfigured_notifier: Notifier | None, sms_request: SmsRequest
    ) -> None:
        """A vendor that refuses the signature never yields ``accepted``."""
        if misconfigured_notifier is None:
            pytest.skip("no credentials to get wrong")
        try:
            receipt = await misconfigured_notifier.send(sms_request)
        except (TemporaryPluginError, PermanentPluginError):
            return
        finally:
            await misconfigured_notifier.aclose()
        assert receipt.status not in {MessageStatus.ACCEPTED, MessageStatus.DELIVERED}, receipt

    @pytest.mark.asyncio
    async def test_query_status_finds_a_sent_message(
        self, notifier: Notifier, sms_request: SmsRequest
    ) -> None:
        """The optional ``query_status`` hook: a message the vendor took is found by its
        correlation id (polling a few seconds, as vendors may list it only once reported)."""
        if not isinstance(notifier, StatusQuery):
            pytest.skip("no query_status: the core fails over after a timeout (the default)")
        request = replace(sms_request, message_id="7301")
        sent_at = datetime.now(UTC) - timedelta(seconds=1)
        sent = await notifier.send(request)
        assert sent.status is MessageStatus.ACCEPTED, sent
        deadline = time.monotonic() + 5.0
        while True:
            try:
                found = await notifier.query_status(request, sent_at)
            except TemporaryPluginError:
                found = None
            if found is not None or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert found is not None, "the vendor took the message but query_status cannot find it"
        assert found.status in {MessageStatus.ACCEPTED, MessageStatus.DELIVERED}, found
        assert found.message_id in (None, request.message_id)

    @pytest.mark.asyncio
    async def test_query_status_never_invents_a_message(
        self, notifier: Notifier, sms_request: SmsRequest
    ) -> None:
        """A correlation id never sent is ``None`` (or "cannot tell yet"), never a receipt."""
        if not isinstance(notifier, StatusQuery):
            pytest.skip("no query_status")
        request = replace(sms_request, message_id="7302-never-sent")
        try:
            found = await notifier.query_status(request, datetime.now(UTC))
        except TemporaryPluginError:
            return
        assert found is None, found

    @pytest.mark.asyncio
    async def test_query_status_of_an_unavailable_vendor_cannot_tell(
        self, unavailable_notifier: Notifier | None, sms_request: SmsRequest
    ) -> None:
        """A vendor that cannot be reached raises ``TemporaryPluginError`` (never ``None``,
        which would let the core send the message elsewhere)."""
        if unavailable_notifier is None or not isinstance(unavailable_notifier, StatusQuery):
            pytest.skip("no unavailable vendor arranged, or no query_status")
        try:
            with pytest.raises(TemporaryPluginError):
                await unavailable_notifier.query_status(sms_request, datetime.now(UTC))
        finally:
            await unavailable_notifier.aclose()

    @pytest.mark.parametrize("body", [b"not json", b"{}", b"[{}]", b"\xff\xfe"])
    def test_malformed_receipts_are_refused(self, notifier: Notifier, body: bytes) -> None:
        """A malformed callback raises ``PermanentPluginError`` (the gateway answers 400)."""
        with pytest.raises(PermanentPluginError):
            notifier.parse_receipts(body)

    @pytest.mark.asyncio
    async def test_aclose_is_idempotent(self, notifier: Notifier, sms_request: SmsRequest) -> None:
        """Closing twice after use is harmless."""
        await notifier.send(sms_request)
        await notifier.aclose()
        await notifier.aclose()


# --- case reporters --------------------------------------------------------------------------


class CaseReporterContract:
    """The case reporter contract (not collected itself: subclass it as ``Test…``).

    Fixtures to provide: ``reporter`` (a ready ``CaseReporter`` against a platform, real or
    fake), ``plugin_module`` (the module holding the ``ruxue_case_reporters`` hook
    implementation) and ``case_record`` (a record the platform accepts); optionally
    ``malformed_record`` (one the platform refuses), ``ack_wait_seconds`` (how long the
    platform may take to acknowledge) and ``plugin_settings``.
    """

    @pytest.fixture
    def reporter(self) -> CaseReporter:
        """The case reporter under test."""
        _missing("CaseReporterContract", "reporter", "a CaseReporter (close it after yield)")

    @pytest.fixture
    def plugin_module(self) -> object:
        """The module (or plugin object) with the ``@hookimpl def ruxue_case_reporters``."""
        _missing("CaseReporterContract", "plugin_module", "the module with your hook")

    @pytest.fixture
    def plugin_settings(self) -> Settings:
        """Settings passed to the hook and to factories; override to supply plugin options."""
        return Settings()

    @pytest.fixture
    def case_record(self) -> CaseRecordPush:
        """A record the platform accepts."""
        _missing("CaseReporterContract", "case_record", "a CaseRecordPush the platform accepts")

    @pytest.fixture
    def malformed_record(self) -> CaseRecordPush | None:
        """A record the platform refuses; ``None`` skips that test."""
        return None

    @pytest.fixture
    def ack_wait_seconds(self) -> float:
        """How long the platform may take to acknowledge a record it received."""
        return 5.0

    @pytest.mark.asyncio
    async def test_push_is_received_or_acknowledged(
        self, reporter: CaseReporter, case_record: CaseRecordPush
    ) -> None:
        """An accepted record is received (acknowledged later) or acknowledged at once."""
        receipt = await reporter.push(case_record)
        assert isinstance(receipt, PushReceipt)
        assert receipt.outcome in {PushOutcome.RECEIVED, PushOutcome.ACKNOWLEDGED}, receipt

    @pytest.mark.asyncio
    async def test_acknowledgement_arrives(
        self, reporter: CaseReporter, case_record: CaseRecordPush, ack_wait_seconds: float
    ) -> None:
        """Asked about a pushed record, the platform acknowledges it in time (one answer per
        reference, in order)."""
        await reporter.push(case_record)
        deadline = time.monotonic() + ack_wait_seconds
        while True:
            answers = await reporter.acknowledgements([case_record.ref])
            assert len(answers) == 1 and isinstance(answers[0], PushReceipt)
            if answers[0].outcome is PushOutcome.ACKNOWLEDGED:
                return
            assert answers[0].outcome is PushOutcome.RECEIVED, answers[0]
            assert time.monotonic() < deadline, "no acknowledgement in time"
            await asyncio.sleep(0.05)

    @pytest.mark.asyncio
    async def test_push_is_idempotent(
        self, reporter: CaseReporter, case_record: CaseRecordPush
    ) -> None:
        """The same (receipt number, version) pushed again is not refused: the core pushes
        again whenever it cannot tell that an earlier push arrived."""
        for _ in range(2):
            receipt = await reporter.push(case_record)
            assert receipt.outcome in {PushOutcome.RECEIVED, PushOutcome.ACKNOWLEDGED}, receipt

    @pytest.mark.asyncio
    async def test_a_record_never_pushed_is_unknown(
        self, reporter: CaseReporter, case_record: CaseRecordPush
    ) -> None:
        """The platform does not claim to hold a record it never received."""
        never = CaseRecordRef(case_record.receipt_no, case_record.version + 10_000, "process")
        [answer] = await reporter.acknowledgements([never])
        assert answer.outcome is PushOutcome.UNKNOWN, answer

    @pytest.mark.asyncio
    async def test_malformed_record_is_rejected_with_a_reason(
        self, reporter: CaseReporter, malformed_record: CaseRecordPush | None
    ) -> None:
        """A record the platform refuses is a ``REJECTED`` receipt with its reason, not an
        exception (the core keeps the reason for the operator)."""
        if malformed_record is None:
            pytest.skip("no malformed_record fixture provided")
        receipt = await reporter.push(malformed_record)
        assert receipt.outcome is PushOutcome.REJECTED, receipt
        assert receipt.reason, "a rejection must carry the platform's reason"

    @pytest.mark.asyncio
    async def test_record_carries_no_id_number(self, case_record: CaseRecordPush) -> None:
        """The canonical record the core hands over holds no personal number (those come
        separately, in ``personal``)."""
        for value in case_record.payload.values():
            assert not (isinstance(value, str) and contains_id_number(value))
        assert case_record.personal is not None
        assert "applicant_id_number" not in repr(case_record)

    @pytest.mark.asyncio
    async def test_registration(self, plugin_module: object, plugin_settings: Settings) -> None:
        """The hook registers uniquely named reporters with a working factory."""
        registrations = _registrations(plugin_module, "ruxue_case_reporters", plugin_settings)
        assert registrations, "ruxue_case_reporters registered nothing"
        names = [r.name for r in registrations if isinstance(r, CaseReporterRegistration)]
        assert len(names) == len(registrations), "must yield CaseReporterRegistration"
        assert len(set(names)) == len(names), f"duplicate reporter names: {names}"
        available = _plugin_host(plugin_settings, plugin_module).available()["case_reporters"]
        for registration in registrations:
            assert isinstance(registration, CaseReporterRegistration)
            assert registration.name in available
            built = registration.factory(plugin_settings)
            assert isinstance(built, CaseReporter)
            await built.aclose()

    @pytest.mark.asyncio
    async def test_aclose_is_idempotent(
        self, reporter: CaseReporter, case_record: CaseRecordPush
    ) -> None:
        """Closing twice after use is harmless."""
        await reporter.push(case_record)
        await reporter.aclose()
        await reporter.aclose()


# --- identity providers ----------------------------------------------------------------------

GARBAGE_AUTHORIZATIONS: Final = (
    "",
    "Bearer",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "Bearer \x00\xff",
    "Bearer " + "A" * 4000,
    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "Bearer dev.stf.x.y.z",
)
"""Authorization values no provider may accept, and none may raise on."""


class IdentityProviderContract:
    """The identity provider contract (not collected itself: subclass it as ``Test…``).

    Fixtures to provide: ``provider``, ``plugin_module`` (the module holding the
    ``ruxue_identity_providers`` hook implementation) and ``valid_authorization`` (an
    ``Authorization`` header value the provider accepts); optionally ``plugin_settings``.
    """

    @pytest.fixture
    def provider(self) -> IdentityProvider:
        """The identity provider under test."""
        _missing("IdentityProviderContract", "provider", "an IdentityProvider instance")

    @pytest.fixture
    def plugin_module(self) -> object:
        """The module (or plugin object) with the ``@hookimpl def ruxue_identity_providers``."""
        _missing("IdentityProviderContract", "plugin_module", "the module with your hook")

    @pytest.fixture
    def plugin_settings(self) -> Settings:
        """Settings passed to the hook and to factories; override to supply plugin options."""
        return Settings()

    @pytest.fixture
    def valid_authorization(self) -> str:
        """An ``Authorization`` header value the provider accepts."""
        _missing("IdentityProviderContract", "valid_authorization", "a header value it accepts")

    @pytest.mark.asyncio
    async def test_valid_credentials_give_a_principal(
        self, provider: IdentityProvider, valid_authorization: str
    ) -> None:
        """A valid credential gives a principal with an id and a role that is not ``system``;
        a guardian comes with the verified real-name ID number, which its repr never shows."""
        principal = await provider.authenticate(valid_authorization)
        assert isinstance(principal, Principal)
        assert principal.id
        assert principal.role is not Role.SYSTEM
        if principal.role is Role.GUARDIAN:
            assert principal.verified_id_number, "a guardian login must carry the verified ID"
            assert principal.verified_id_number not in repr(principal)

    @pytest.mark.asyncio
    @pytest.mark.parametrize("authorization", GARBAGE_AUTHORIZATIONS)
    async def test_garbage_is_anonymous_not_an_error(
        self, provider: IdentityProvider, authorization: str
    ) -> None:
        """Malformed or foreign credentials give ``None``, never an exception."""
        assert await provider.authenticate(authorization) is None

    @pytest.mark.asyncio
    async def test_the_scheme_is_required(
        self, provider: IdentityProvider, valid_authorization: str
    ) -> None:
        """A bearer credential sent without its ``Bearer`` scheme is refused."""
        scheme, _, credential = valid_authorization.partition(" ")
        if scheme.lower() != "bearer":
            pytest.skip("this provider's credentials do not use the Bearer scheme")
        assert await provider.authenticate(credential) is None
        assert await provider.authenticate(f"Basic {credential}") is None

    @pytest.mark.asyncio
    async def test_tampered_credentials_are_refused(
        self, provider: IdentityProvider, valid_authorization: str
    ) -> None:
        """Changing any one character of a valid credential's signature part refuses it."""
        last = valid_authorization[-2]
        flipped = "A" if last != "A" else "B"
        tampered = valid_authorization[:-2] + flipped + valid_authorization[-1]
        assert await provider.authenticate(tampered) is None

    @pytest.mark.asyncio
    async def test_registration(self, plugin_module: object, plugin_settings: Settings) -> None:
        """The hook registers uniquely named providers, each naming the roles it may vouch
        for (never ``system``), with a working factory."""
        registrations = _registrations(plugin_module, "ruxue_identity_providers", plugin_settings)
        assert registrations, "ruxue_identity_providers registered nothing"
        names = [r.name for r in registrations if isinstance(r, IdentityProviderRegistration)]
        assert len(names) == len(registrations), "must yield IdentityProviderRegistration"
        assert len(set(names)) == len(names), f"duplicate provider names: {names}"
        host = _plugin_host(plugin_settings, plugin_module)
        available = host.available()["identity_providers"]
        for registration in registrations:
            assert isinstance(registration, IdentityProviderRegistration)
            assert registration.name in available
            assert registration.roles, f"{registration.name} vouches for no role"
            assert Role.SYSTEM not in registration.roles
            assert isinstance(registration.factory(plugin_settings), IdentityProvider)
