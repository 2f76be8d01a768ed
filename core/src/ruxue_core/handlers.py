"""The job kinds the core knows and the handler for each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ruxue_core import casesync, notify, verification
from ruxue_core.jobs import JobHandler

HANDLERS: Final[Mapping[str, JobHandler]] = {
    "verification.run": verification.run_handler,
    "notify.send": notify.send_handler,
    "casesync.push": casesync.push_handler,
}
