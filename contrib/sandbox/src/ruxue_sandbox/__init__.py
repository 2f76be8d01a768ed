"""Ruxue sandbox: fake department services for development, demos and plugin tests.

Nothing here is used in production. The services speak plausible HTTP APIs so that the real
plugin code runs against them; faults (outages, latency, random failures) can be injected.
"""

from ruxue_sandbox.gongan import (
    DEFAULT_API_KEY,
    GonganDataset,
    HukouRecord,
    QueryLogEntry,
    Record,
    RecordError,
    ResidencePermitRecord,
    create_gongan_app,
    normalise_address,
    record_from_json,
)
from ruxue_sandbox.server import serve_in_thread

__all__ = [
    "DEFAULT_API_KEY",
    "GonganDataset",
    "HukouRecord",
    "QueryLogEntry",
    "Record",
    "RecordError",
    "ResidencePermitRecord",
    "create_gongan_app",
    "normalise_address",
    "record_from_json",
    "serve_in_thread",
]
