"""Ruxue (入学) headless core: the enrollment lifecycle, rules, outbox and plugin host.

Plugins import what they need from here; they never import pluggy themselves.
"""

from ruxue_core.plugins.contracts import (
    CaseRecordPush,
    CaseReporter,
    CaseReporterRegistration,
    EvidenceRef,
    IdentityProvider,
    IdentityProviderRegistration,
    Notifier,
    NotifierRegistration,
    Principal,
    SmsReceipt,
    SmsRequest,
    VerificationRequest,
    VerificationResult,
    Verifier,
    VerifierRegistration,
)
from ruxue_core.plugins.hookspecs import hookimpl

__all__ = [
    "CaseRecordPush",
    "CaseReporter",
    "CaseReporterRegistration",
    "EvidenceRef",
    "IdentityProvider",
    "IdentityProviderRegistration",
    "Notifier",
    "NotifierRegistration",
    "Principal",
    "SmsReceipt",
    "SmsRequest",
    "VerificationRequest",
    "VerificationResult",
    "Verifier",
    "VerifierRegistration",
    "hookimpl",
]
