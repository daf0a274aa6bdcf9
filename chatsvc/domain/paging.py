"""Pages of the short lists a caller reads whole (mutes, raised hands, pins, one message's
reactions): bounded by the session's size, so they are read in one query and cut here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from chatsvc.domain import validation
from chatsvc.errors import invalid

Item = TypeVar("Item")


def page_of(items: Sequence[Item], *, page_size: int, page_token: str, kind: str, session_id: str) -> tuple[list[Item], str]:
    """One page of `items` (in their order) and the token of the next page ("" on the last).

    page_size 0 is the whole list, as before these listings had pages. The token
    holds the offset, signed like every page token; a list that changes between
    two pages may shift by the items added or removed before the offset.
    """
    if page_size < 0:
        raise invalid("page_size must not be negative")
    start = validation.decode_page_token(page_token, kind, session_id) or 0
    if not isinstance(start, int) or start < 0:
        raise invalid(validation.INVALID_PAGE_TOKEN)
    limit = validation.page_size(page_size) if page_size else len(items)
    end = start + limit
    page = list(items[start:end])
    return page, validation.encode_page_token(kind, session_id, end) if end < len(items) else ""
