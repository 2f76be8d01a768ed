"""The job kinds the core knows, the handler for each, and the periodic ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ruxue_core import audit, casepush, dispatch, notify, receipts, verification
from ruxue_core.jobs import JobHandler
from ruxue_core.services.operations import sequence_handler

HANDLERS: Final[Mapping[str, JobHandler]] = {
    "verification.run": verification.run_handler,
    notify.SEND_KIND: dispatch.send_handler,
    receipts.SWEEP_KIND: receipts.sweep_handler,
    "casesync.push": casepush.push_handler,
    casepush.SWEEP_KIND: casepush.sweep_handler,
    audit.SEQUENCE_KIND: sequence_handler,
}
PERIODIC: Final[Mapping[str, float]] = {
    audit.SEQUENCE_KIND: audit.SEQUENCE_EVERY,
    casepush.SWEEP_KIND: casepush.SWEEP_EVERY,
    receipts.SWEEP_KIND: receipts.SWEEP_EVERY,
}
"""Job kinds that run again every so many seconds."""
