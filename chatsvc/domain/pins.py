"""Pinned messages: instructors pin and unpin, everyone sees the pins they may see."""

from __future__ import annotations

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain import messages, validation
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.messages import MessageViews
from chatsvc.domain.paging import page_of
from chatsvc.domain.visibility import message_audience
from chatsvc.errors import denied
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database


class Pins:
    def __init__(self, *, database: Database, events: EventWriter, message_views: MessageViews) -> None:
        self.database = database
        self.events = events
        self.message_views = message_views

    async def pin_message(self, principal: Principal, session_id: str, message_id_: str) -> tuple[pb.ChatMessage, int]:
        """Instructors: pin a message (a repeat returns it with sequence 0)."""
        validation.enter_session(principal, session_id)
        if not principal.is_instructor:
            raise denied("only instructors may pin messages")
        message_id_ = validation.message_id(message_id_)

        def pin(change: Change) -> tuple[pb.ChatMessage, int]:
            db = change.db
            message = messages.live_message(db, session_id, message_id_, principal)
            repeat = message.pinned_at is not None
            if not repeat:
                message.pinned_at, message.pinned_by = change.now, principal.user_id
                db.add(message)
            [view] = self.message_views(db, session_id, [message], principal.user_id)
            if repeat:
                return view, 0
            broadcast = pb.ChatMessage()
            broadcast.CopyFrom(view)
            for count in broadcast.reactions:
                count.reacted_by_me = False  # one event for everyone: no per-viewer flags
            pinned = pb.MessagePinned(message=broadcast, pinned_by=principal.user_id)
            return view, change.emit(message_audience(message), message_pinned=pinned).sequence

        return await self.events.run(session_id, pin)

    async def unpin_message(self, principal: Principal, session_id: str, message_id_: str) -> int:
        """Instructors: unpin a message (deleted ones too); 0 when it was not pinned."""
        validation.enter_session(principal, session_id)
        if not principal.is_instructor:
            raise denied("only instructors may unpin messages")
        message_id_ = validation.message_id(message_id_)

        def unpin(change: Change) -> int:
            db = change.db
            message = messages.visible_message(db, session_id, message_id_, principal)
            if message.pinned_at is None:
                return 0
            message.pinned_at, message.pinned_by = None, None
            db.add(message)
            unpinned = pb.MessageUnpinned(message_id=message.id, unpinned_by=principal.user_id)
            return change.emit(message_audience(message), message_unpinned=unpinned).sequence

        return await self.events.run(session_id, unpin)

    async def list_pinned_messages(
        self, principal: Principal, session_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.ChatMessage], str]:
        """The pinned messages the user may see, in the order they were pinned: a page and the next page's token."""
        validation.enter_session(principal, session_id)

        def read(db) -> tuple[list[pb.ChatMessage], str]:
            rows = repo.pinned_messages(db, session_id, viewer_id=principal.user_id)
            page, next_token = page_of(rows, page_size=page_size, page_token=page_token, kind="pins", session_id=session_id)
            return self.message_views(db, session_id, page, principal.user_id), next_token

        return await self.database.read(read)
