"""Searching a session's messages (or, for instructors, every session their token names):
what the caller may see (public messages and their own private conversations, never a
deleted message), newest first or best first, a page at a time, each hit with a snippet."""

from __future__ import annotations

import hashlib

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain import validation
from chatsvc.domain.messages import MessageViews
from chatsvc.domain.search_query import fts5, parse, tsquery
from chatsvc.errors import invalid
from chatsvc.storage import search as store
from chatsvc.storage.database import Database

ALL_SESSIONS = "*"  # the page token's session for a search across sessions
# Offset paging: deeper pages get slower; past this, refine the query instead.
MAX_OFFSET = 10_000


class Search:
    def __init__(self, *, database: Database, message_views: MessageViews) -> None:
        self.database = database
        self.message_views = message_views

    async def search_messages(
        self, principal: Principal, session_id: str, query: str, *, order: int = 0, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.SearchHit], str]:
        sessions = self._sessions(principal, session_id)
        terms = parse(query)
        if order not in (pb.SEARCH_ORDER_UNSPECIFIED, pb.SEARCH_ORDER_NEWEST, pb.SEARCH_ORDER_RELEVANCE):
            raise invalid(f"order {order} is not a search order")
        limit = validation.page_size(page_size)
        scope = session_id or ALL_SESSIONS
        kind = f"search:{order}:{hashlib.sha256(query.encode()).hexdigest()[:16]}"  # a token pages this query only
        offset = validation.decode_page_token(page_token, kind, scope) or 0
        if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise invalid(validation.INVALID_PAGE_TOKEN)

        def find(db) -> list[pb.SearchHit]:
            found = store.search(
                db, sessions, principal.user_id, fts5_query=fts5(terms), tsquery=tsquery(terms),
                relevance=order == pb.SEARCH_ORDER_RELEVANCE, limit=limit + 1, offset=offset,
            )
            views: dict[str, pb.ChatMessage] = {}
            for session in {row.session_id for row, _ in found}:  # replies and reactions read once per session
                rows = [row for row, _ in found if row.session_id == session]
                views.update(zip((row.id for row in rows), self.message_views(db, session, rows, principal.user_id), strict=True))
            return [pb.SearchHit(message=views[row.id], snippet=snippet) for row, snippet in found]

        hits = await self.database.read(find)
        more = len(hits) > limit
        token = validation.encode_page_token(kind, scope, offset + limit) if more and offset + limit <= MAX_OFFSET else ""
        return hits[:limit], token

    @staticmethod
    def _sessions(principal: Principal, session_id: str) -> list[str]:
        if session_id:
            validation.enter_session(principal, session_id)
            return [session_id]
        if not principal.is_instructor:
            raise invalid("session_id is required (only instructors search across sessions)")
        if principal.sessions is None:
            raise invalid("session_id is required: your token allows every session, so name the one to search")
        return sorted(principal.sessions)
