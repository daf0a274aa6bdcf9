"""The raise-hand queue: participants raise and lower, instructors acknowledge and lower anyone's."""

from __future__ import annotations

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.domain import validation, views
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.paging import page_of
from chatsvc.errors import denied, not_found
from chatsvc.storage import interactions as store
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import RaisedHandRecord


class Hands:
    def __init__(self, *, database: Database, events: EventWriter) -> None:
        self.database = database
        self.events = events

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
