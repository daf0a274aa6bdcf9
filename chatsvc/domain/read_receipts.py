"""Read receipts: clients report the highest sequence they have displayed (cheap enough to
send on every scroll); instructors see, per message, how many of the people online when it
was posted have read it, and who has not. Participants see nothing of others' reading.

Marks are coalesced: every mark arriving within `read_flush_ms` goes into one transaction
(one row per user, the highest mark kept), and each caller is answered once it is stored.
After a flush, each session whose marks rose gets one `read_counts_changed` for its
instructors with the counts of its newest messages that changed — not an event for everyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import validation
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.moderation import require_instructor
from chatsvc.domain.visibility import instructors_only
from chatsvc.errors import ChatError, ErrorCode, invalid
from chatsvc.storage import reads as store
from chatsvc.storage import repository as repo
from chatsvc.storage.database import Database
from chatsvc.storage.tables import Message

log = logging.getLogger(__name__)

# A live count update covers at most this many of the session's newest messages.
LIVE_COUNT_MESSAGES = 100
MAX_OFFSET = 10_000


@dataclass
class _Mark:
    session_id: str
    user_id: str
    sequence: int
    answer: asyncio.Future


Counted = tuple[pb.MessageReadCount, list[pb.Participant]]


def counts(messages: Sequence[Message], changes: list[tuple[int, str, str, bool]], marks: dict[str, int]) -> list[Counted]:
    """Each message's read count and the audience that has not read it: the people online when
    it was posted (from the presence changes before it), its sender left out; a private
    message's audience is its recipient."""
    online: dict[str, str] = {}
    at = 0
    results: dict[str, Counted] = {}
    for message in sorted(messages, key=lambda row: row.sequence):
        while at < len(changes) and changes[at][0] < message.sequence:
            _, user_id, name, joined = changes[at]
            if joined:
                online[user_id] = name
            else:
                online.pop(user_id, None)
            at += 1
        if message.recipient_id:
            audience = {message.recipient_id: online.get(message.recipient_id, message.recipient_id)}
        else:
            audience = {user_id: name for user_id, name in online.items() if user_id != message.sender_id}
        unread = [pb.Participant(user_id=u, display_name=n) for u, n in sorted(audience.items()) if marks.get(u, 0) < message.sequence]
        count = pb.MessageReadCount(
            message_id=message.id, sequence=message.sequence, audience_count=len(audience), read_count=len(audience) - len(unread)
        )
        results[message.id] = (count, unread)
    return [results[message.id] for message in messages]


class ReadReceipts:
    def __init__(self, *, database: Database, events: EventWriter, clock: Clock, settings: Settings) -> None:
        self.database = database
        self.events = events
        self.clock = clock
        self.flush_seconds = settings.read_flush_ms / 1000
        self._pending: list[_Mark] = []
        self._flushing: asyncio.Task | None = None

    async def mark_read(self, principal: Principal, session_id: str, sequence: int) -> int:
        """Store the caller's mark (coalesced with others); returns their mark as stored."""
        validation.enter_session(principal, session_id)
        if sequence < 0:
            raise invalid("sequence must not be negative")
        mark = _Mark(session_id, principal.user_id, sequence, asyncio.get_running_loop().create_future())
        self._pending.append(mark)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush_soon())
        return await mark.answer

    async def list_receipts(self, principal: Principal, session_id: str, *, page_size: int = 0, page_token: str = "") -> tuple[list[pb.ReadReceipt], str]:
        validation.enter_session(principal, session_id)
        require_instructor(principal, "see who has read what")
        limit = validation.page_size(page_size)
        offset = validation.decode_page_token(page_token, "read-receipts", session_id) or 0
        if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
            raise invalid(validation.INVALID_PAGE_TOKEN)

        def read(db) -> list[pb.ReadReceipt]:
            messages = store.receipt_messages(db, session_id, principal.user_id, offset=offset, limit=limit + 1)
            if not messages:
                return []
            changes = store.presence_changes(db, session_id, max(row.sequence for row in messages))
            found = counts(messages, changes, store.marks(db, session_id))
            return [pb.ReadReceipt(count=count, unread=unread) for count, unread in found]

        receipts = await self.database.read(read)
        more = len(receipts) > limit and offset + limit <= MAX_OFFSET
        return receipts[:limit], validation.encode_page_token("read-receipts", session_id, offset + limit) if more else ""

    def close(self) -> None:
        """The server is stopping: marks not yet stored are refused as unavailable, not left waiting."""
        if self._flushing is not None:
            self._flushing.cancel()
        for mark in self._pending:
            if not mark.answer.done():
                mark.answer.set_exception(ChatError(ErrorCode.UNAVAILABLE, "the server is shutting down; mark again", retry_after=timedelta(seconds=1)))
        self._pending = []

    # ------------------------------------------------------------ coalescing

    async def _flush_soon(self) -> None:
        try:
            while self._pending:
                await asyncio.sleep(self.flush_seconds)
                batch, self._pending = self._pending, []
                await self._flush(batch)
        finally:
            self._flushing = None

    async def _flush(self, batch: list[_Mark]) -> None:
        now = self.clock.now()

        def store_marks(db) -> tuple[dict[int, int | ChatError], dict[str, int]]:
            latest = {session_id: repo.last_sequence(db, session_id) for session_id in {mark.session_id for mark in batch}}
            wanted: dict[tuple[str, str], int] = {}
            answers: dict[int, int | ChatError] = {}
            for index, mark in enumerate(batch):
                if mark.sequence > latest[mark.session_id]:
                    answers[index] = invalid(
                        f"sequence {mark.sequence} is beyond the session's latest event ({latest[mark.session_id]})"
                    )
                    continue
                key = (mark.session_id, mark.user_id)
                wanted[key] = max(wanted.get(key, 0), mark.sequence)
            before: dict[tuple[str, str], int] = {}
            for session_id in {s for s, _ in wanted}:
                users = [u for s, u in wanted if s == session_id]
                before.update({(session_id, u): q for u, q in store.marks(db, session_id, users).items()})
            if wanted:
                store.raise_marks(db, wanted, now)
            stored = {key: max(before.get(key, 0), sequence) for key, sequence in wanted.items()}
            for index, mark in enumerate(batch):
                answers.setdefault(index, stored.get((mark.session_id, mark.user_id), 0))
            # The lowest sequence whose counts may have changed, per session.
            risen: dict[str, int] = {}
            for key, sequence in stored.items():
                if sequence > before.get(key, 0):
                    risen[key[0]] = min(risen.get(key[0], sequence), before.get(key, 0))
            return answers, risen

        try:
            answers, risen = await self.database.transaction(store_marks)
        except Exception as error:
            for mark in batch:
                if not mark.answer.done():
                    mark.answer.set_exception(error)
            return
        for index, mark in enumerate(batch):
            answer = answers[index]
            if mark.answer.done():
                continue
            if isinstance(answer, ChatError):
                mark.answer.set_exception(answer)
            else:
                mark.answer.set_result(answer)
        for session_id, since in risen.items():
            try:
                await self._announce(session_id, since)
            except Exception:
                log.exception("announcing read counts failed")

    async def _announce(self, session_id: str, since: int) -> None:
        """One `read_counts_changed` for the session's instructors: its newest messages after `since`."""

        def announce(change: Change) -> None:
            db = change.db
            messages = store.receipt_messages(db, session_id, "", offset=0, limit=LIVE_COUNT_MESSAGES, since=since)
            if not messages:
                return
            changes = store.presence_changes(db, session_id, max(row.sequence for row in messages))
            found = counts(messages, changes, store.marks(db, session_id))
            change.emit(instructors_only(), read_counts_changed=pb.ReadCounts(counts=[count for count, _ in reversed(found)]))

        await self.events.run(session_id, announce)
