"""Ruxue (入学) headless core: the enrollment lifecycle, rules, outbox and plugin host.

This package's top level is the plugin API: everything a verifier, notifier, case reporter or
identity provider needs is importable from ``ruxue_core`` itself, and plugins import nothing
else of the core (``ruxue_core.testing`` holds the contract suites their tests subclass).
Plugins never import pluggy either: ``hookimpl`` is here.
"""

from ruxue_core.department import (
    DepartmentClient,
    DepartmentOptions,
    DepartmentVerifier,
    request_context,
    result_from_answer,
)
from ruxue_core.domain.enums import MessageStatus, Outcome, Relationship, Role, Source
from ruxue_core.errors import (
    ConfigurationError,
    PermanentPluginError,
    PluginError,
    TemporaryPluginError,
)
from ruxue_core.plugins.contracts import (
    CaseRecordPush,
    CaseRecordRef,
    CaseReporter,
    CaseReporterRegistration,
    EvidenceRef,
    IdentityProvider,
    IdentityProviderRegistration,
    Notifier,
    NotifierRegistration,
    Principal,
    PushOutcome,
    PushReceipt,
    RedirectLogin,
    SmsReceipt,
    SmsRequest,
    StatusQuery,
    VerificationRequest,
    VerificationResult,
    Verifier,
    VerifierRegistration,
)
from ruxue_core.plugins.hookspecs import hookimpl
from ruxue_core.security import mask_id_number, mask_phone
from ruxue_core.settings import Mode, Settings
from ruxue_core.signing import RequestContext, SignatureError, SignatureVerifier, sign_request

__all__ = [
    "CaseRecordPush",
    "CaseRecordRef",
    "CaseReporter",
    "CaseReporterRegistration",
    "ConfigurationError",
    "DepartmentClient",
    "DepartmentOptions",
    "DepartmentVerifier",
    "EvidenceRef",
    "IdentityProvider",
    "IdentityProviderRegistration",
    "MessageStatus",
    "Mode",
    "Notifier",
    "NotifierRegistration",
    "Outcome",
    "PermanentPluginError",
    "PluginError",
    "Principal",
    "PushOutcome",
    "PushReceipt",
    "RedirectLogin",
    "Relationship",
    "RequestContext",
    "Role",
    "Settings",
    "SignatureError",
    "SignatureVerifier",
    "SmsReceipt",
    "SmsRequest",
    "Source",
    "StatusQuery",
    "TemporaryPluginError",
    "VerificationRequest",
    "VerificationResult",
    "Verifier",
    "VerifierRegistration",
    "hookimpl",
    "mask_id_number",
    "mask_phone",
    "request_context",
    "result_from_answer",
    "sign_request",
]
