"""Quick polls: instructors create, close, reopen and delete them; participants vote.

Every change is an event. A vote is answered at once with the voter's own vote, and its
event goes to the voter alone (and, in a named poll, to instructors); everyone else learns
of votes through the coalesced tallies of `poll_tallies.py`. An anonymous poll's voters
are stored only to count each user once: no event, list, snapshot, export or audit entry
names them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock, as_utc
from chatsvc.config import Settings
from chatsvc.domain import validation
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.moderation import Moderation, require_instructor
from chatsvc.domain.paging import page_of
from chatsvc.domain.poll_board import PollBoard, is_closed, own_view, public_view
from chatsvc.domain.poll_tallies import PollTallies
from chatsvc.domain.visibility import concerning, only
from chatsvc.errors import ChatError, ErrorCode, denied, invalid, not_found
from chatsvc.storage import polls as store
from chatsvc.storage.database import Database
from chatsvc.storage.tables import AuditEntry, PollRecord

log = logging.getLogger(__name__)

MIN_OPTIONS, MAX_OPTIONS = 2, 10
MAX_QUESTION_LENGTH, MAX_OPTION_LENGTH = 500, 200
MAX_DURATION = timedelta(hours=24)
# Polls are few (a handful per class); the bound keeps snapshots and ListPolls small.
MAX_POLLS_PER_SESSION = 200


class _Expired(Exception):
    """A vote reached a poll past its time limit whose close is not recorded yet."""


class Polls:
    def __init__(
        self, *, database: Database, events: EventWriter, moderation: Moderation, clock: Clock, settings: Settings
    ) -> None:
        self.database = database
        self.events = events
        self.moderation = moderation
        self.clock = clock
        self.tallies = PollTallies(events=events, settings=settings)
        # This process's timers for polls with a time limit it created or reopened.
        self._deadlines: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------ instructors

    async def create_poll(
        self,
        principal: Principal,
        session_id: str,
        question: str,
        options: list[str],
        *,
        multiple_choice: bool = False,
        anonymous: bool = False,
        results_hidden: bool = False,
        instructors_vote: bool = False,
        duration: Duration | None = None,
    ) -> tuple[pb.Poll, int]:
        validation.enter_session(principal, session_id)
        require_instructor(principal, "create polls")
        question = question.strip()
        if not question:
            raise invalid("question is required")
        if len(question) > MAX_QUESTION_LENGTH:
            raise invalid(f"question is longer than {MAX_QUESTION_LENGTH} characters")
        texts = [text.strip() for text in options]
        if not MIN_OPTIONS <= len(texts) <= MAX_OPTIONS:
            raise invalid(f"a poll has {MIN_OPTIONS} to {MAX_OPTIONS} options; this one has {len(texts)}")
        if not all(texts):
            raise invalid("an option is empty; give every option a text")
        if any(len(text) > MAX_OPTION_LENGTH for text in texts):
            raise invalid(f"an option is longer than {MAX_OPTION_LENGTH} characters")
        if len({text.casefold() for text in texts}) != len(texts):
            raise invalid("two options have the same text; make each option different")
        limit = _duration(duration)

        def create(change: Change) -> tuple[pb.Poll, int]:
            if store.count_polls(change.db, session_id) >= MAX_POLLS_PER_SESSION:
                raise ChatError(ErrorCode.FAILED_PRECONDITION, f"this session has {MAX_POLLS_PER_SESSION} polls; delete one first")
            change.ensure_member(principal)
            poll = PollRecord(
                id=uuid.uuid4().hex,
                session_id=session_id,
                question=question,
                options=texts,
                multiple_choice=multiple_choice,
                anonymous=anonymous,
                results_hidden=results_hidden,
                instructors_vote=instructors_vote,
                created_by=principal.user_id,
                created_at=change.now,
                closes_at=change.now + limit if limit else None,
            )
            change.db.add(poll)
            change.db.flush()
            view = public_view(change.db, poll, change.now)
            event = change.emit(poll_created=pb.PollCreated(poll=view))
            _audit(change, principal.user_id, "poll_create", poll, "anonymous" if anonymous else "named")
            return view, event.sequence

        view, sequence = await self.events.run(session_id, create)
        if limit:
            self._close_after(session_id, view.poll_id, limit)
        return view, sequence

    async def close_poll(self, principal: Principal, session_id: str, poll_id: str) -> tuple[pb.Poll, int]:
        """Close a poll (final results go to everyone); closing it again returns it with sequence 0."""
        validation.enter_session(principal, session_id)
        require_instructor(principal, "close polls")
        poll_id = _poll_id(poll_id)

        def close(change: Change) -> tuple[pb.Poll, int]:
            poll = self._live_poll(change, poll_id)
            if poll.closed_at is not None:
                return own_view(change.db, poll, change.now, principal), 0
            sequence = self._record_close(change, poll, principal.user_id)
            return own_view(change.db, poll, change.now, principal), sequence

        result = await self.events.run(session_id, close)
        self._forget_deadline(session_id, poll_id)
        return result

    async def reopen_poll(self, principal: Principal, session_id: str, poll_id: str) -> tuple[pb.Poll, int]:
        """Open a closed poll again, without its time limit; an open poll is returned with sequence 0."""
        validation.enter_session(principal, session_id)
        require_instructor(principal, "reopen polls")
        poll_id = _poll_id(poll_id)

        def reopen(change: Change) -> tuple[pb.Poll, int]:
            poll = self._live_poll(change, poll_id)
            if not is_closed(poll, change.now):
                return own_view(change.db, poll, change.now, principal), 0
            poll.closed_at, poll.closed_by, poll.closes_at = None, None, None
            change.db.add(poll)
            event = change.emit(poll_reopened=pb.PollReopened(poll=public_view(change.db, poll, change.now), reopened_by=principal.user_id))
            _audit(change, principal.user_id, "poll_reopen", poll, "")
            return own_view(change.db, poll, change.now, principal), event.sequence

        result = await self.events.run(session_id, reopen)
        self._forget_deadline(session_id, poll_id)
        return result

    async def delete_poll(self, principal: Principal, session_id: str, poll_id: str) -> int:
        """Delete a poll and its results; 0 when it was deleted already."""
        validation.enter_session(principal, session_id)
        require_instructor(principal, "delete polls")
        poll_id = _poll_id(poll_id)

        def delete(change: Change) -> int:
            poll = self._poll(change, poll_id)
            if poll.deleted_at is not None:
                return 0
            poll.deleted_at = change.now
            change.db.add(poll)
            event = change.emit(poll_deleted=pb.PollDeleted(poll_id=poll.id, deleted_by=principal.user_id))
            _audit(change, principal.user_id, "poll_delete", poll, "")
            return event.sequence

        sequence = await self.events.run(session_id, delete)
        self._forget_deadline(session_id, poll_id)
        return sequence

    # ------------------------------------------------------------ everyone

    async def cast_vote(self, principal: Principal, session_id: str, poll_id: str, option_ids: list[str]) -> tuple[list[str], int]:
        """Vote (replacing the voter's earlier vote; no options withdraws it): returns the vote as
        recorded and its event's sequence (0 when it is the same as before)."""
        validation.enter_session(principal, session_id)
        poll_id = _poll_id(poll_id)
        chosen = list(option_ids)
        if len(set(chosen)) != len(chosen):
            raise invalid("option_ids names an option twice")
        await self.moderation.limit_votes(principal, session_id)

        def vote(change: Change) -> tuple[list[str], int]:
            poll = self._live_poll(change, poll_id)
            if poll.closed_at is not None:
                raise ChatError(ErrorCode.FAILED_PRECONDITION, f"poll {poll_id!r} is closed; it takes no more votes")
            if is_closed(poll, change.now):
                raise _Expired()
            if principal.is_instructor and not poll.instructors_vote:
                raise denied("this poll counts participants' votes only")
            valid = [str(index) for index in range(1, len(poll.options) + 1)]
            for option_id in chosen:
                if option_id not in valid:
                    raise invalid(f"option {option_id!r} is not an option of this poll; its options are {', '.join(valid)}")
            if len(chosen) > 1 and not poll.multiple_choice:
                raise invalid("this poll takes one option per vote")
            ordered = sorted(chosen, key=int)
            if store.vote_of(change.db, poll.id, principal.user_id) == ordered:
                return ordered, 0
            change.ensure_member(principal)
            store.replace_vote(change.db, session_id, poll.id, principal.user_id, ordered, change.now)
            # The voter's other streams learn their vote; in a named poll instructors do too.
            audience = only(principal.user_id) if poll.anonymous else concerning(principal.user_id)
            cast = pb.VoteCast(poll_id=poll.id, user_id=principal.user_id, option_ids=ordered)
            return ordered, change.emit(audience, vote_cast=cast).sequence

        try:
            recorded, sequence = await self.events.run(session_id, vote)
        except _Expired:
            await self._close_when_due(session_id, poll_id)
            raise ChatError(ErrorCode.FAILED_PRECONDITION, f"poll {poll_id!r} has closed: its time is up") from None
        if sequence:
            self.tallies.changed(session_id, poll_id)
        return recorded, sequence

    async def list_polls(
        self, principal: Principal, session_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.Poll], str]:
        """The session's polls, oldest first, as the caller may see them: a page and the next page's token."""
        validation.enter_session(principal, session_id)
        now = self.clock.now()
        polls = await self.database.read(lambda db: PollBoard(db, session_id, now, [principal]).for_viewer(principal))
        return page_of(polls, page_size=page_size, page_token=page_token, kind="polls", session_id=session_id)

    def close(self) -> None:
        """Stop this process's timers (the server is stopping)."""
        for timer in self._deadlines.values():
            timer.cancel()
        self._deadlines.clear()
        self.tallies.close()

    # ------------------------------------------------------------ shared steps

    @staticmethod
    def _poll(change: Change, poll_id: str) -> PollRecord:
        poll = store.get_poll(change.db, change.session_id, poll_id)
        if poll is None:
            raise not_found(f"poll {poll_id!r} does not exist in session {change.session_id!r}")
        return poll

    def _live_poll(self, change: Change, poll_id: str) -> PollRecord:
        poll = self._poll(change, poll_id)
        if poll.deleted_at is not None:
            raise ChatError(ErrorCode.FAILED_PRECONDITION, f"poll {poll_id!r} was deleted")
        return poll

    @staticmethod
    def _record_close(change: Change, poll: PollRecord, closed_by: str | None) -> int:
        poll.closed_at, poll.closed_by = change.now, closed_by
        change.db.add(poll)
        change.db.flush()
        closed = pb.PollClosed(poll=public_view(change.db, poll, change.now), closed_by=closed_by or "")
        event = change.emit(poll_closed=closed)
        _audit(change, closed_by, "poll_close", poll, "" if closed_by else "time limit")
        return event.sequence

    def _close_after(self, session_id: str, poll_id: str, delay: timedelta) -> None:
        key = (session_id, poll_id)
        self._forget_deadline(*key)
        self._deadlines[key] = asyncio.get_running_loop().call_later(delay.total_seconds(), self._deadline_reached, key)

    def _forget_deadline(self, session_id: str, poll_id: str) -> None:
        timer = self._deadlines.pop((session_id, poll_id), None)
        if timer is not None:
            timer.cancel()

    def _deadline_reached(self, key: tuple[str, str]) -> None:
        self._deadlines.pop(key, None)
        task = asyncio.get_running_loop().create_task(self._close_when_due(*key))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("closing a poll at its time limit failed", exc_info=task.exception())

    async def _close_when_due(self, session_id: str, poll_id: str) -> None:
        """Record the close of a poll whose time is up (once, whichever process gets there first)."""

        def close(change: Change) -> None:
            poll = store.get_poll(change.db, session_id, poll_id)
            if poll is None or poll.deleted_at is not None or poll.closed_at is not None or poll.closes_at is None:
                return
            if as_utc(poll.closes_at) <= change.now:
                self._record_close(change, poll, None)

        await self.events.run(session_id, close)


def _poll_id(value: str) -> str:
    if not value:
        raise invalid("poll_id is required")
    return value


def _duration(duration: Duration | None) -> timedelta | None:
    if duration is None or (duration.seconds == 0 and duration.nanos == 0):
        return None
    limit = duration.ToTimedelta()
    if not timedelta(seconds=1) <= limit <= MAX_DURATION:
        raise invalid("duration must be between 1 second and 24 hours (or unset: no time limit)")
    return limit


def _audit(change: Change, actor: str | None, action: str, poll: PollRecord, detail: str) -> None:
    """An audit entry for a poll (never naming a voter: votes are not audited)."""
    reason = f"poll {poll.id}: {poll.question}" + (f" ({detail})" if detail else "")
    change.db.add(
        AuditEntry(session_id=change.session_id, actor_id=actor, target_user_id=None, action=action, reason=reason, created_at=change.now)
    )
