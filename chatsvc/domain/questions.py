"""The Q&A queue: participants ask and upvote questions; instructors answer, dismiss and pin
them ("now answering"); an asker may withdraw their own open question.

Every change is an event for everyone. An anonymous question's events never name its asker;
instructors and the asker get a `question_author` event that does. Questions go through the
profanity filter (and strikes) and a rate limit like messages; upvotes are rate-limited like
reactions. Instructor actions are in the audit log.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import validation
from chatsvc.domain.events import Change, EventWriter
from chatsvc.domain.moderation import Moderation, require_instructor
from chatsvc.domain.paging import page_of
from chatsvc.domain.question_board import STATE_NAMES, QuestionBoard, question_view
from chatsvc.domain.visibility import concerning
from chatsvc.errors import ChatError, ErrorCode, denied, invalid, not_found
from chatsvc.fanout.hub import EVERYONE
from chatsvc.storage import questions as store
from chatsvc.storage.database import Database
from chatsvc.storage.tables import AuditEntry, QuestionRecord

# Bounds a session's queue (a big class asks a few hundred at most).
MAX_QUESTIONS_PER_SESSION = 2000

Result = tuple[pb.Question, int]  # the question as the caller sees it, and its event's sequence (0: none)


class Questions:
    def __init__(self, *, database: Database, events: EventWriter, moderation: Moderation, clock: Clock, settings: Settings) -> None:
        self.database = database
        self.events = events
        self.moderation = moderation
        self.clock = clock
        self.settings = settings

    # ------------------------------------------------------------ participants

    async def ask(self, principal: Principal, session_id: str, text: str, *, anonymous: bool = False) -> Result:
        validation.enter_session(principal, session_id)
        text = validation.message_text(text, self.settings.max_message_length)
        await self.moderation.limit_questions(principal, session_id)

        def ask(change: Change) -> Result:
            if store.count_questions(change.db, session_id) >= MAX_QUESTIONS_PER_SESSION:
                raise ChatError(ErrorCode.FAILED_PRECONDITION, f"this session has {MAX_QUESTIONS_PER_SESSION} questions; no more can be asked")
            self.moderation.ensure_not_muted(change, principal)
            change.ensure_member(principal)
            shown, severe = self.moderation.censor(text)
            row = QuestionRecord(
                id=uuid.uuid4().hex,
                session_id=session_id,
                text=shown,
                asker_id=principal.user_id,
                asker_name=principal.display_name,
                anonymous=anonymous,
                created_at=change.now,
            )
            change.db.add(row)
            change.db.flush()
            event = change.emit(question_asked=question_view(row))
            if anonymous:
                author = pb.QuestionAuthor(question_id=row.id, asker_id=row.asker_id, asker_name=row.asker_name)
                change.emit(concerning(principal.user_id), question_author=author)
            if severe:
                self.moderation.strike(change, principal, row.id)
            return question_view(row, principal), event.sequence

        return await self.events.run(session_id, ask)

    async def upvote(self, principal: Principal, session_id: str, question_id: str) -> Result:
        """Upvote once; upvoting again changes nothing (sequence 0)."""
        return await self._vote(principal, session_id, question_id, up=True)

    async def retract_upvote(self, principal: Principal, session_id: str, question_id: str) -> Result:
        """Take an upvote back; with none to take back nothing changes (sequence 0)."""
        return await self._vote(principal, session_id, question_id, up=False)

    async def withdraw(self, principal: Principal, session_id: str, question_id: str) -> Result:
        def withdraw(change: Change, row: QuestionRecord) -> str:
            if row.asker_id != principal.user_id:
                raise denied("only the person who asked a question may withdraw it")
            _require_open(row, "withdrawn")
            return "question_withdrawn"

        return await self._close(principal, session_id, question_id, "withdrawn", withdraw)

    # ------------------------------------------------------------ instructors

    async def answer(self, principal: Principal, session_id: str, question_id: str, answer_text: str, *, answered_live: bool) -> Result:
        answer_text = answer_text.strip()
        if not answer_text and not answered_live:
            raise invalid("give the answer's text, or mark the question answered live")
        if len(answer_text) > self.settings.max_message_length:
            raise invalid(f"answer_text is {len(answer_text)} characters long; the limit is {self.settings.max_message_length}")
        require_instructor(principal, "answer questions")

        def answer(change: Change, row: QuestionRecord) -> str:
            _require_open(row, "answered")
            row.answer_text, _ = self.moderation.censor(answer_text) if answer_text else ("", False)
            row.answered_live = answered_live
            return "question_answered"

        return await self._close(principal, session_id, question_id, "answered", answer)

    async def dismiss(self, principal: Principal, session_id: str, question_id: str) -> Result:
        require_instructor(principal, "dismiss questions")

        def dismiss(change: Change, row: QuestionRecord) -> str:
            _require_open(row, "dismissed")
            return "question_dismissed"

        return await self._close(principal, session_id, question_id, "dismissed", dismiss)

    async def pin(self, principal: Principal, session_id: str, question_id: str) -> Result:
        """Pin as "now answering" (unpinning the question pinned before); pinned already: sequence 0."""
        validation.enter_session(principal, session_id)
        require_instructor(principal, "pin questions")
        question_id = _question_id(question_id)

        def pin(change: Change) -> Result:
            row = _question(change, question_id)
            if row.pinned_at is not None:
                return question_view(row, principal), 0
            _require_open(row, "pinned")
            for other in store.pinned_questions(change.db, session_id):
                self._unpin(change, other, principal)
            row.pinned_at = change.now
            change.db.add(row)
            event = change.emit(question_pinned=pb.QuestionChanged(question=question_view(row), changed_by=principal.user_id))
            _audit(change, principal.user_id, "question_pin", row)
            return question_view(row, principal), event.sequence

        return await self.events.run(session_id, pin)

    async def unpin(self, principal: Principal, session_id: str, question_id: str) -> Result:
        validation.enter_session(principal, session_id)
        require_instructor(principal, "unpin questions")
        question_id = _question_id(question_id)

        def unpin(change: Change) -> Result:
            row = _question(change, question_id)
            sequence = self._unpin(change, row, principal) if row.pinned_at is not None else 0
            return question_view(row, principal), sequence

        return await self.events.run(session_id, unpin)

    # ------------------------------------------------------------ everyone

    async def list_questions(
        self, principal: Principal, session_id: str, *, state: int = 0, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[pb.Question], str]:
        validation.enter_session(principal, session_id)
        if state and state not in STATE_NAMES:
            raise invalid(f"state {state} is not a question state")
        wanted = STATE_NAMES.get(state)
        questions = await self.database.read(lambda db: QuestionBoard(db, session_id, [principal]).listing(principal, wanted))
        kind = f"questions-{wanted or 'all'}"
        return page_of(questions, page_size=page_size, page_token=page_token, kind=kind, session_id=session_id)

    # ------------------------------------------------------------ shared steps

    async def _vote(self, principal: Principal, session_id: str, question_id: str, *, up: bool) -> Result:
        validation.enter_session(principal, session_id)
        question_id = _question_id(question_id)
        await self.moderation.limit_upvotes(principal, session_id)

        def vote(change: Change) -> Result:
            row = _question(change, question_id)
            if row.asker_id == principal.user_id:
                raise ChatError(ErrorCode.FAILED_PRECONDITION, "you cannot upvote your own question")
            _require_open(row, "upvoted" if up else "changed")
            if store.has_upvoted(change.db, row.id, principal.user_id) == up:
                return question_view(row, principal, upvoted=up), 0
            change.ensure_member(principal)
            if up:
                store.add_upvote(change.db, row, principal.user_id, change.now)
            else:
                store.remove_upvote(change.db, row, principal.user_id)
            upvotes = pb.QuestionUpvotes(question_id=row.id, upvote_count=row.upvote_count)
            event = change.emit(question_upvotes_changed=upvotes)
            return question_view(row, principal, upvoted=up), event.sequence

        return await self.events.run(session_id, vote)

    async def _close(
        self, principal: Principal, session_id: str, question_id: str, state: str, check: Callable[[Change, QuestionRecord], str]
    ) -> Result:
        """Answer, dismiss or withdraw: `check` refuses or fills in the question and names the event."""
        validation.enter_session(principal, session_id)
        question_id = _question_id(question_id)

        def close(change: Change) -> Result:
            row = _question(change, question_id)
            kind = check(change, row)
            row.state, row.closed_at, row.pinned_at = state, change.now, None
            if state != "withdrawn":
                row.answered_by = principal.user_id
            change.db.add(row)
            change.db.flush()
            event = change.emit(EVERYONE, **{kind: pb.QuestionChanged(question=question_view(row), changed_by=principal.user_id)})
            if state != "withdrawn":
                _audit(change, principal.user_id, f"question_{'answer' if state == 'answered' else 'dismiss'}", row)
            upvoted = store.has_upvoted(change.db, row.id, principal.user_id)
            return question_view(row, principal, upvoted=upvoted), event.sequence

        return await self.events.run(session_id, close)

    @staticmethod
    def _unpin(change: Change, row: QuestionRecord, principal: Principal) -> int:
        row.pinned_at = None
        change.db.add(row)
        event = change.emit(question_unpinned=pb.QuestionChanged(question=question_view(row), changed_by=principal.user_id))
        _audit(change, principal.user_id, "question_unpin", row)
        return event.sequence


def _question_id(value: str) -> str:
    if not value:
        raise invalid("question_id is required")
    return value


def _question(change: Change, question_id: str) -> QuestionRecord:
    row = store.get_question(change.db, change.session_id, question_id)
    if row is None:
        raise not_found(f"question {question_id!r} does not exist in session {change.session_id!r}")
    return row


def _require_open(row: QuestionRecord, verb: str) -> None:
    if row.state != "open":
        raise ChatError(ErrorCode.FAILED_PRECONDITION, f"question {row.id!r} is {row.state}; it can no longer be {verb}")


def _audit(change: Change, actor: str, action: str, row: QuestionRecord) -> None:
    """An audit entry for an instructor's Q&A action (naming the question, never an anonymous asker)."""
    excerpt = row.text if len(row.text) <= 80 else row.text[:79] + "…"
    change.db.add(
        AuditEntry(
            session_id=change.session_id,
            actor_id=actor,
            target_user_id=None if row.anonymous else row.asker_id,
            action=action,
            reason=f"question {row.id}: {excerpt}",
            created_at=change.now,
        )
    )
