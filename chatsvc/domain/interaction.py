"""Interaction rules: reactions, the raise-hand queue, pins and mentions (typing: `typing_indicators.py`).

`ChatService.interaction` is an `Interaction`; the transport calls it for the
interaction RPCs and stream actions, and `ChatService.send_message` calls its
mention and typing hooks. No gRPC here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import messages, validation, views
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.moderation import Moderation
from chatsvc.domain.paging import page_of
from chatsvc.domain.typing_indicators import TypingIndicators
from chatsvc.domain.visibility import message_audience, only
from chatsvc.errors import denied, invalid, not_found
from chatsvc.fanout.channel import Fanout
from chatsvc.fanout.typing_registry import TypingRegistry
from chatsvc.storage import interactions as store
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import Message, RaisedHandRecord, Reaction

log = logging.getLogger(__name__)

VARIATION_SELECTORS = dict.fromkeys(map(ord, "\ufe0e\ufe0f"))
# A mention starts with @ that does not follow a letter or digit (so e-mail addresses are not mentions).
MENTION_START = re.compile(r"(?<![\w@])@")


def message_id(value: str) -> str:
    if not value:
        raise invalid("message_id is required")
    return value


class Interaction:
    def __init__(
        self,
        *,
        database: Database,
        events: EventWriter,
        moderation: Moderation,
        fanout: Fanout,
        clock: Clock,
        settings: Settings,
        typing_registry: TypingRegistry,
    ) -> None:
        self.database = database
        self.events = events
        self.moderation = moderation
        self.settings = settings
        self.typing = TypingIndicators(fanout=fanout, clock=clock, settings=settings, registry=typing_registry)

    def close(self) -> None:
        self.typing.close()

    # ------------------------------------------------------------ reactions

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
        message_id_ = message_id(message_id_)
        emoji = self.allowed_emoji(emoji)
        await self.moderation.limit_reactions(principal, session_id)

        def add(change: Change) -> tuple[int, int]:
            db = change.db
            self.moderation.ensure_not_muted(change, principal)
            message = self.live_message(db, session_id, message_id_, principal)
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
        message_id_ = message_id(message_id_)
        emoji = self.allowed_emoji(emoji)

        def remove(change: Change) -> tuple[int, int]:
            db = change.db
            message = self.live_message(db, session_id, message_id_, principal)
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
        message_id_ = message_id(message_id_)

        def read(db):
            return store.reactions_of(db, self.live_message(db, session_id, message_id_, principal).id)

        rows, next_token = page_of(
            await self.database.read(read), page_size=page_size, page_token=page_token, kind=f"reactions/{message_id_}", session_id=session_id
        )
        return [
            pb.UserReaction(user_id=row.user_id, display_name=row.display_name, emoji=row.emoji, time=views.timestamp(row.created_at))
            for row in rows
        ], next_token

    def reaction_counts(self, db, rows: Sequence[Message], viewer_id: str) -> dict[str, list[pb.ReactionCount]]:
        """message id -> its reaction counts as `viewer_id` sees them (configured emoji first)."""
        tallies = store.reaction_tallies(db, [row.id for row in rows], viewer_id)
        order = {emoji: index for index, emoji in enumerate(self.settings.reactions)}
        counts: dict[str, list[pb.ReactionCount]] = {}
        for message_id_, items in tallies.items():
            items = sorted(items, key=lambda item: order.get(item[0], len(order)))
            counts[message_id_] = [pb.ReactionCount(emoji=e, count=n, reacted_by_me=mine) for e, n, mine in items]
        return counts

    def live_message(self, db, session_id: str, message_id_: str, principal: Principal) -> Message:
        """A message the user may see and that is not deleted."""
        message = messages.visible_message(db, session_id, message_id_, principal)
        if message.deleted_at is not None:
            raise not_found(f"message {message_id_!r} was deleted")
        return message

    # ------------------------------------------------------------ raised hands

    async def raise_hand(self, principal: Principal, session_id: str, user_id: str = "") -> tuple[pb.RaisedHand, int]:
        """Join the queue (a repeat returns the hand as it is, with sequence 0)."""
        validation.enter_session(principal, session_id)
        if user_id and user_id != principal.user_id:
            raise denied("you can raise only your own hand")
        if principal.is_instructor:
            raise denied("only participants raise their hands; instructors acknowledge them")

        def raise_(change: Change) -> tuple[pb.RaisedHand, int]:
            db = change.db
            hand = store.get_hand(db, session_id, principal.user_id)
            if hand is not None:
                return self._hand_view(db, hand), 0
            change.ensure_member(principal)
            hand = RaisedHandRecord(
                session_id=session_id, user_id=principal.user_id, display_name=principal.display_name, raised_at=change.now
            )
            db.add(hand)
            db.flush()
            view = self._hand_view(db, hand)
            event = change.emit(hand_raised=pb.HandRaised(hand=view))
            return view, event.sequence

        return await self.events.run(session_id, raise_)

    async def lower_hand(self, principal: Principal, session_id: str, user_id: str = "") -> int:
        """Leave the queue (yours, or anyone's for instructors); 0 when the hand was not raised."""
        validation.enter_session(principal, session_id)
        target = validation.user_id(user_id) if user_id else principal.user_id
        if target != principal.user_id and not principal.is_instructor:
            raise denied("only instructors may lower someone else's hand")

        def lower(change: Change) -> int:
            if store.get_hand(change.db, session_id, target) is None:
                return 0
            store.delete_hand(change.db, session_id, target)
            return change.emit(hand_lowered=pb.HandLowered(user_id=target, lowered_by=principal.user_id)).sequence

        return await self.events.run(session_id, lower)

    async def acknowledge_hand(self, principal: Principal, session_id: str, user_id: str) -> tuple[pb.RaisedHand, int]:
        """Instructors: mark a raised hand as seen (it stays in the queue until lowered)."""
        validation.enter_session(principal, session_id)
        if not principal.is_instructor:
            raise denied("only instructors may acknowledge raised hands")
        target = validation.user_id(user_id)

        def acknowledge(change: Change) -> tuple[pb.RaisedHand, int]:
            db = change.db
            hand = store.get_hand(db, session_id, target)
            if hand is None:
                raise not_found(f"{target!r} has no raised hand in session {session_id!r}")
            if hand.acknowledged_by is not None:
                return self._hand_view(db, hand), 0
            hand.acknowledged_by = principal.user_id
            db.add(hand)
            view = self._hand_view(db, hand)
            event = change.emit(hand_acknowledged=pb.HandAcknowledged(hand=view))
            return view, event.sequence

        return await self.events.run(session_id, acknowledge)

    async def list_raised_hands(
        self, principal: Principal, session_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.RaisedHand], str]:
        """The queue in order, with positions: a page of it and the next page's token."""
        validation.enter_session(principal, session_id)
        hands = await self.database.read(lambda db: repo.raised_hands(db, session_id))
        queue = [views.raised_hand(row, position) for position, row in enumerate(hands, start=1)]
        return page_of(queue, page_size=page_size, page_token=page_token, kind="hands", session_id=session_id)

    def _hand_view(self, db, hand: RaisedHandRecord) -> pb.RaisedHand:
        queue = repo.raised_hands(db, hand.session_id)
        position = next(index for index, row in enumerate(queue, start=1) if row.user_id == hand.user_id)
        return views.raised_hand(hand, position)

    # ------------------------------------------------------------ typing

    async def set_typing(self, principal: Principal, session_id: str, typing: bool, recipient_id: str = "") -> None:
        validation.enter_session(principal, session_id)
        if recipient_id:
            validation.user_id(recipient_id, "recipient_id")
            if recipient_id == principal.user_id:
                raise invalid("you cannot type a private message to yourself")
            if typing:
                await self.database.read(
                    lambda db: messages.check_private_recipient(db, session_id, principal, recipient_id)
                )
        if typing:
            await self.typing.start(principal, session_id, recipient_id)
        else:
            await self.typing.stop(principal, session_id, recipient_id)

    # ------------------------------------------------------------ pins

    async def pin_message(self, principal: Principal, session_id: str, message_id_: str) -> tuple[pb.ChatMessage, int]:
        """Instructors: pin a message (a repeat returns it with sequence 0)."""
        validation.enter_session(principal, session_id)
        if not principal.is_instructor:
            raise denied("only instructors may pin messages")
        message_id_ = message_id(message_id_)

        def pin(change: Change) -> tuple[pb.ChatMessage, int]:
            db = change.db
            message = self.live_message(db, session_id, message_id_, principal)
            repeat = message.pinned_at is not None
            if not repeat:
                message.pinned_at, message.pinned_by = change.now, principal.user_id
                db.add(message)
            view = self._full_view(db, message, viewer_id=principal.user_id)
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
        message_id_ = message_id(message_id_)

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

    def message_views(self, db, session_id: str, rows: Sequence[Message], viewer_id: str) -> list[pb.ChatMessage]:
        """Messages as `viewer_id` sees them: with the replied-to excerpts and reaction counts."""
        replies = messages.reply_originals(db, session_id, rows)
        reactions = self.reaction_counts(db, rows, viewer_id)
        return [views.message(row, reply_to=replies.get(row.reply_to_id), reactions=reactions.get(row.id, ())) for row in rows]

    def _full_view(self, db, message: Message, *, viewer_id: str) -> pb.ChatMessage:
        [view] = self.message_views(db, message.session_id, [message], viewer_id)
        return view

    # ------------------------------------------------------------ mentions

    def find_mentions(self, db, session_id: str, sender: Principal, text: str, recipient_id: str) -> list[str]:
        """The user ids `@mentioned` in a message, in order of appearance.

        A mention is `@` followed by a member's user id or display name (any
        case, the longest that fits, ending at a non-word character). Members
        are everyone who joined or acted in the session; in a private message
        only its other party can be mentioned; nobody mentions themselves.
        """
        if "@" not in text:
            return []
        members = store.member_names(db, session_id)
        names: list[tuple[str, str]] = []
        for user_id, display_name in members:
            if user_id == sender.user_id or (recipient_id and user_id != recipient_id):
                continue
            for name in {user_id.casefold(), display_name.strip().casefold()}:
                if name:
                    names.append((name, user_id))
        names.sort(key=lambda item: -len(item[0]))
        found: list[str] = []
        for start in MENTION_START.finditer(text):
            rest = text[start.end() : start.end() + 130].casefold()  # user ids: up to 128 characters
            for name, user_id in names:
                if rest.startswith(name) and (len(rest) == len(name) or not _is_word(rest[len(name)])):
                    if user_id not in found:
                        found.append(user_id)
                    break
        return found

    def announce_mentions(self, change: Change, view: pb.ChatMessage) -> None:
        """A `mentioned` event to each mentioned user only (persisted: it is replayed on resume)."""
        for user_id in view.mentioned_user_ids:
            change.emit(only(user_id), mentioned=pb.Mentioned(message=view))


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"
