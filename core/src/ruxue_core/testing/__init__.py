"""Testing aids shipped with the core: contract suites that plugins' own tests subclass, fake
plugins (``fakes``) and ready-made principals and commands (``factories``).

Needs pytest and pytest-asyncio (``ruxue-core[testing]``); nothing in the core imports this.
"""

import pytest

# Plain asserts in the suites get pytest's detailed failure messages too.
pytest.register_assert_rewrite("ruxue_core.testing.contracts")

from ruxue_core.testing.contracts import (  # noqa: E402
    CaseReporterContract,
    IdentityProviderContract,
    NotifierContract,
    VerifierContract,
    contains_id_number,
)
from ruxue_core.testing.fakes import (  # noqa: E402
    CapturingNotifier,
    CapturingNotifierPlugin,
    FakeVerifier,
    FakeVerifierPlugin,
    RecordingCaseReporter,
    RecordingCaseReporterPlugin,
    RecordingTransport,
)

__all__ = [
    "CapturingNotifier",
    "CapturingNotifierPlugin",
    "CaseReporterContract",
    "FakeVerifier",
    "FakeVerifierPlugin",
    "IdentityProviderContract",
    "NotifierContract",
    "RecordingCaseReporter",
    "RecordingCaseReporterPlugin",
    "RecordingTransport",
    "VerifierContract",
    "contains_id_number",
]
