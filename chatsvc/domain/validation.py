"""Checks on what clients send, with messages a person understands."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from chatsvc.errors import invalid

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


def message_id(value: str) -> str:
    if not value:
        raise invalid("message_id is required")
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


# ------------------------------------------------------------ every string field of a request

# Characters no stored text may hold: C0 controls (NUL among them: PostgreSQL refuses it,
# SQLite stored it), DEL and C1 controls. Message text may keep line breaks and tabs.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
TEXT_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Fields holding free text (controls other than line breaks and tabs refused).
TEXT_FIELDS = frozenset({"text", "answer_text"})
# The longest value of each string field, by field name; any other string field: MAX_ID_LENGTH.
# Ids fit their 128-character columns; a JWT of a few claims is well under 8 KB.
MAX_ID_LENGTH = 128
FIELD_LIMITS = {
    "reason": 500,
    "question": 500,
    "query": 200,
    "options": 200,
    "emoji": 32,
    "page_token": 512,
    "token": 8192,
}


# Message text's own limit (a setting) is checked by `message_text` after trimming; this
# outer bound only keeps a huge value from being scanned.
MAX_TEXT_FIELD_LENGTH = 65536


def request_fields(request: Message, prefix: str = "") -> None:
    """Refuse a request with a control character or an over-long value in any string field.

    Run on every request of every RPC and stream action before anything else, so that
    what the database would refuse never reaches a batch, and both backends store the same.
    """
    for field, value in request.ListFields():
        name = prefix + field.name
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            values = value if field.is_repeated else [value]
            for item in values:
                request_fields(item, name + ".")
        elif field.type == FieldDescriptor.TYPE_STRING:
            values = value if field.is_repeated else [value]
            for item in values:
                string_field(name, field.name, item)


def string_field(name: str, short_name: str, value: str) -> None:
    is_text = short_name in TEXT_FIELDS
    limit = MAX_TEXT_FIELD_LENGTH if is_text else FIELD_LIMITS.get(short_name, MAX_ID_LENGTH)
    if len(value) > limit:
        raise invalid(f"{name} is {len(value)} characters long; the limit is {limit}")
    found = (TEXT_CONTROL_CHARACTERS if is_text else CONTROL_CHARACTERS).search(value)
    if found:
        allowed = "; only line breaks and tabs are allowed" if is_text else ""
        raise invalid(
            f"{name} contains the control character U+{ord(found.group()):04X} at position {found.start()}{allowed}"
        )


# ------------------------------------------------------------ page tokens

# Page tokens are signed: a client can only hand back what the server gave it, so a crafted
# position (not a number, 10**30, nested JSON) never reaches a query. The key derives from
# the JWT secret, so tokens survive a restart and work on every process of a deployment;
# without a shared secret (RS256 public key) the key is random per process.
_page_token_key = secrets.token_bytes(32)
SIGNATURE_BYTES = 16
INVALID_PAGE_TOKEN = "page_token is not valid for this request; start again without it"


def sign_page_tokens_with(secret: str | None) -> None:
    """Derive the page-token key from the server's JWT secret (random per process without one)."""
    global _page_token_key
    if secret:
        _page_token_key = hmac.new(secret.encode(), b"sessionchat page tokens", hashlib.sha256).digest()


def _signature(raw: bytes) -> bytes:
    return hmac.new(_page_token_key, raw, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def encode_page_token(kind: str, session: str, position: str | int) -> str:
    raw = json.dumps({"k": kind, "s": session, "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(_signature(raw) + raw).decode().rstrip("=")


def decode_page_token(token: str, kind: str, session: str) -> str | int | None:
    """The position a page token continues from (None for the first page)."""
    if not token:
        return None
    try:
        signed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise invalid(INVALID_PAGE_TOKEN) from None
    signature, raw = signed[:SIGNATURE_BYTES], signed[SIGNATURE_BYTES:]
    if not hmac.compare_digest(signature, _signature(raw)):
        raise invalid(INVALID_PAGE_TOKEN)
    data = json.loads(raw)  # signed by this server: its own JSON
    if data.get("k") != kind or data.get("s") != session:
        raise invalid(INVALID_PAGE_TOKEN)
    return data["p"]
