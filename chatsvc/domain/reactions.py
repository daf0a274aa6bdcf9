"""Emoji reactions: add, take back, and who reacted with what."""

from __future__ import annotations

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.config import Settings
from chatsvc.domain import messages, validation, views
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.moderation import Moderation
from chatsvc.domain.paging import page_of
from chatsvc.domain.visibility import message_audience
from chatsvc.errors import invalid
from chatsvc.storage import interactions as store
from chatsvc.storage.database import Database
from chatsvc.storage.tables import Reaction

VARIATION_SELECTORS = dict.fromkeys(map(ord, "\ufe0e\ufe0f"))


class Reactions:
    """The configured reactions (`settings.reactions`) on messages; participants are rate-limited, muted users cannot react."""

    def __init__(self, *, database: Database, events: EventWriter, moderation: Moderation, settings: Settings) -> None:
        self.database = database
        self.events = events
        self.moderation = moderation
        self.settings = settings

    def allowed_emoji(self, emoji: str) -> str:
        """The configured spelling of an allowed reaction (❤ and ❤️ are the same reaction)."""
        emoji = emoji.strip()
        if not emoji:
            raise invalid("emoji is required")
        bare = emoji.translate(VARIATION_SELECTORS)
        for allowed in self.settings.reactions:
            if allowed.translate(VARIATION_SELECTORS) == bare:
                return allowed
        raise invalid(f"{emoji!r} is not an allowed reaction; use one of {' '.join(self.settings.reactions)}")

    async def add_reaction(self, principal: Principal, session_id: str, message_id_: str, emoji: str) -> tuple[int, int]:
        """React to a message; returns (the reaction's count, the event's sequence: 0 for a repeat)."""
        validation.enter_session(principal, session_id)
        message_id_ = validation.message_id(message_id_)
        emoji = self.allowed_emoji(emoji)
        await self.moderation.limit_reactions(principal, session_id)

        def add(change: Change) -> tuple[int, int]:
            db = change.db
            self.moderation.ensure_not_muted(change, principal)
            message = messages.live_message(db, session_id, message_id_, principal)
            if store.get_reaction(db, message.id, principal.user_id, emoji) is not None:
                return store.count_reactions(db, message.id, emoji), 0
            change.ensure_member(principal)
            db.add(
                Reaction(
                    message_id=message.id,
                    user_id=principal.user_id,
                    emoji=emoji,
                    session_id=session_id,
                    display_name=principal.display_name,
                    created_at=change.now,
                )
            )
            # The sequence row lock orders concurrent writers before the count is taken.
            sequence = change.allocate()
            db.flush()
            count = store.count_reactions(db, message.id, emoji)
            changed = pb.ReactionChanged(message_id=message.id, user_id=principal.user_id, emoji=emoji, count=count)
            change.record(sequence, message_audience(message), reaction_added=changed)
            return count, sequence

        return await self.events.run(session_id, add)

    async def remove_reaction(self, principal: Principal, session_id: str, message_id_: str, emoji: str) -> tuple[int, int]:
        """Take a reaction back; returns (the count left, the event's sequence: 0 when there was none)."""
        validation.enter_session(principal, session_id)
        message_id_ = validation.message_id(message_id_)
        emoji = self.allowed_emoji(emoji)

        def remove(change: Change) -> tuple[int, int]:
            db = change.db
            message = messages.live_message(db, session_id, message_id_, principal)
            if store.get_reaction(db, message.id, principal.user_id, emoji) is None:
                return store.count_reactions(db, message.id, emoji), 0
            store.delete_reaction(db, message.id, principal.user_id, emoji)
            sequence = change.allocate()
            count = store.count_reactions(db, message.id, emoji)
            changed = pb.ReactionChanged(message_id=message.id, user_id=principal.user_id, emoji=emoji, count=count)
            change.record(sequence, message_audience(message), reaction_removed=changed)
            return count, sequence

        return await self.events.run(session_id, remove)

    async def list_reactions(
        self, principal: Principal, session_id: str, message_id_: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.UserReaction], str]:
        """Who reacted with what, oldest first: a page of them and the next page's token."""
        validation.enter_session(principal, session_id)
        message_id_ = validation.message_id(message_id_)

        def read(db):
            return store.reactions_of(db, messages.live_message(db, session_id, message_id_, principal).id)

        rows, next_token = page_of(
            await self.database.read(read), page_size=page_size, page_token=page_token, kind=f"reactions/{message_id_}", session_id=session_id
        )
        return [
            pb.UserReaction(user_id=row.user_id, display_name=row.display_name, emoji=row.emoji, time=views.timestamp(row.created_at))
            for row in rows
        ], next_token
