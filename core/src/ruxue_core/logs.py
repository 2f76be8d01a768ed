"""Logging that keeps personal data out: a last line of defence behind "never log variables".

:class:`RedactingFilter` rewrites every record reaching a handler so that anything shaped like
a resident ID number or a mainland mobile number is masked, in the message, its arguments and
its traceback. :func:`configure_logging` installs it on the root handler, with either a
plain text or a structured JSON formatter (:class:`JsonFormatter`: one object per line,
carrying the request id of the request being served, see :data:`REQUEST_ID`).
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final, Literal

REQUEST_ID: Final[ContextVar[str | None]] = ContextVar("ruxue_request_id", default=None)
"""The id of the request being served (set by the gateway for each request), or ``None``."""

ID_NUMBER: Final = re.compile(r"(?<![0-9A-Za-z])(\d{4})\d{10}(\d{3}[\dXx])(?![0-9A-Za-z])")
MOBILE: Final = re.compile(r"(?<![0-9])(1[3-9]\d)\d{4}(\d{4})(?![0-9])")


def redact(text: str) -> str:
    """``text`` with ID-number-shaped and mobile-number-shaped strings masked."""
    text = ID_NUMBER.sub(r"\1**********\2", text)
    return MOBILE.sub(r"\1****\2", text)


class RedactingFilter(logging.Filter):
    """Masks personal numbers in a record's message, arguments and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drop it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, exception.

    It formats what the redacting filter left (the filter runs first, on the handler), and
    never adds a record's arguments or extra attributes.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()  # handlers format in the thread that logs
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: int = logging.INFO, *, log_format: Literal["text", "json"] = "text"
) -> None:
    """One stderr handler on the root logger, with the redacting filter; idempotent.

    :param log_format: ``json`` for one JSON object per line (with the request id), ``text``
        for people reading a terminal.
    """
    root = logging.getLogger()
    root.setLevel(level)
    for handler in root.handlers:
        if any(isinstance(f, RedactingFilter) for f in handler.filters):
            return
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
