"""What an export's cells and lines may hold: CSV cells a spreadsheet shows as text, text a
terminal shows without being driven by it, and times in one ISO-8601 form."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime

# A cell starting with one of these runs as a formula in spreadsheets (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Terminal escape sequences: CSI (ESC [ or the one-byte 0x9b), OSC (ESC ], up to BEL or ESC \\),
# and the two-character ones (ESC and one of @ to _).
TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]"
)
# Characters that reorder how the text around them is displayed (bidirectional overrides).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def neutralise_cell(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: one starting like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def printable(text: str) -> str:
    """Text safe to show in a terminal: escape sequences removed, line breaks as \\n, a tab as a
    space, and any other control or bidirectional-override character as U+FFFD."""
    text = TERMINAL_SEQUENCE.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    return "".join(
        "\ufffd" if (unicodedata.category(c) == "Cc" and c != "\n") or c in BIDI_CONTROLS else c for c in text
    )


def iso(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a Z, to the millisecond."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC)  # naive values (SQLite) are UTC already
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
