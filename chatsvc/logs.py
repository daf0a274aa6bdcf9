"""The server's log lines: human-readable (the default) or one JSON object per line (`--log-format json`),
with the RPC method, session and user of the call they were written in.

A call's fields live in `current_call` (set by the transport when a call starts, filled in as it
learns who calls and which session it is about); every line logged while handling the call,
in its task or in tasks it starts, carries them without being passed them.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Fields a log call may give in `extra=` (or that a call's context supplies), in the order a JSON line lists them.
FIELDS = ("method", "code", "duration_ms", "session_id", "user_id", "error_id", "events_sent", "end_reason", "component")


class CallContext:
    """Who and what the call being handled is about (empty until known)."""

    __slots__ = ("method", "session_id", "user_id")

    def __init__(self, method: str) -> None:
        self.method = method
        self.session_id = ""
        self.user_id = ""


current_call: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar("current_call", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then whichever of
    `FIELDS` apply, then `exception` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        call = current_call.get()
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is None and call is not None and name in CallContext.__slots__:
                value = getattr(call, name) or None
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(log_format: str = "text") -> None:
    """Send the server's log to stderr in `log_format` ("text" or "json"), at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
