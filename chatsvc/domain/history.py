"""History and who is in a session: pages of the messages a user may see, and of the participants
(online now, or everyone who ever joined)."""

from __future__ import annotations

from collections.abc import Sequence

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.domain import validation, views
from chatsvc.domain.messages import MessageViews
from chatsvc.errors import invalid
from chatsvc.fanout.presence import Presence
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import Message


class History:
    def __init__(self, *, database: Database, presence: Presence, message_views: MessageViews) -> None:
        self.database = database
        self.presence = presence
        self.message_views = message_views

    async def list_messages(
        self, principal: Principal, session_id: str, *, page_size: int, page_token: str, after_sequence: int
    ) -> tuple[list[pb.ChatMessage], str]:
        validation.enter_session(principal, session_id)
        if after_sequence < 0:
            raise invalid("after_sequence must not be negative")
        limit = validation.page_size(page_size)
        kind = "after" if after_sequence else "before"
        position = validation.decode_page_token(page_token, kind, session_id)

        def read(db: Session) -> tuple[Sequence[Message], list[pb.ChatMessage]]:
            if after_sequence:
                start = int(position) if position is not None else after_sequence
                rows = repo.list_messages(db, session_id, viewer_id=principal.user_id, limit=limit + 1, after_sequence=start)
            else:
                before = int(position) if position is not None else None
                rows = repo.list_messages(db, session_id, viewer_id=principal.user_id, limit=limit + 1, before_sequence=before)
            return rows, self.message_views(db, session_id, rows[:limit], principal.user_id)

        rows, messages = await self.database.read(read)
        more = len(rows) > limit
        next_token = validation.encode_page_token(kind, session_id, rows[limit - 1].sequence) if more else ""
        return messages, next_token

    async def list_participants(
        self, principal: Principal, session_id: str, *, page_size: int, page_token: str, include_offline: bool
    ) -> tuple[list[pb.Participant], str]:
        validation.enter_session(principal, session_id)
        limit = validation.page_size(page_size)
        kind = "all" if include_offline else "online"
        after = str(validation.decode_page_token(page_token, kind, session_id) or "")
        if include_offline:
            rows = await self.database.read(
                lambda db: repo.list_members(db, session_id, after_user_id=after, limit=limit + 1)
            )
            online_ids = {p.user_id for p in await self.presence.online(session_id)}
            people = [views.member(row, online=row.user_id in online_ids) for row in rows]
        else:
            online = [p for p in await self.presence.online(session_id) if p.user_id > after]
            people = [views.participant(p, online=True) for p in online[: limit + 1]]
        page, more = people[:limit], len(people) > limit
        next_token = validation.encode_page_token(kind, session_id, page[-1].user_id) if more else ""
        return page, next_token
