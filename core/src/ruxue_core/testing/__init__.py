"""Testing aids shipped with the core: contract suites that plugins' own tests subclass.

Needs pytest and pytest-asyncio (``ruxue-core[testing]``); nothing in the core imports this.
"""

import pytest

# Plain asserts in the suites get pytest's detailed failure messages too.
pytest.register_assert_rewrite("ruxue_core.testing.contracts")

from ruxue_core.testing.contracts import (  # noqa: E402
    NotifierContract,
    VerifierContract,
    contains_id_number,
)

__all__ = ["NotifierContract", "VerifierContract", "contains_id_number"]
