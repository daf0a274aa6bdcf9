"""Checks on what clients send, with messages a person understands."""

from __future__ import annotations

import base64
import json
import re

from chatsvc.domain.errors import invalid

SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
MAX_CLIENT_ID_LENGTH = 128
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def session_id(value: str) -> str:
    if not value:
        raise invalid("session_id is required")
    if not SESSION_ID_PATTERN.match(value):
        raise invalid("session_id must be 1 to 128 letters, digits or . _ : @ - (starting with a letter or digit)")
    return value


def enter_session(principal, session: str) -> None:
    """A valid session id that the caller's token allows (chatsvc.auth.Principal)."""
    session_id(session)
    principal.check_session(session)


def user_id(value: str, field: str = "user_id") -> str:
    if not value or not value.strip():
        raise invalid(f"{field} is required")
    if len(value) > 128:
        raise invalid(f"{field} is longer than 128 characters")
    return value


def message_text(text: str, max_length: int) -> str:
    text = text.strip()
    if not text:
        raise invalid("message text is empty")
    if len(text) > max_length:
        raise invalid(f"message text is {len(text)} characters long; the limit is {max_length}")
    return text


def client_message_id(value: str) -> str | None:
    if len(value) > MAX_CLIENT_ID_LENGTH:
        raise invalid(f"client_message_id is longer than {MAX_CLIENT_ID_LENGTH} characters")
    return value or None


def page_size(value: int) -> int:
    if value < 0:
        raise invalid("page_size must not be negative")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_page_token(kind: str, session: str, position: str | int) -> str:
    raw = json.dumps({"k": kind, "s": session, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, kind: str, session: str) -> str | int | None:
    """The position a page token continues from (None for the first page)."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if data["k"] == kind and data["s"] == session:
            return data["p"]
    except (ValueError, KeyError, TypeError):
        pass
    raise invalid("page_token is not valid for this request; start again without it")
