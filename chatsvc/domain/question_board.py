"""The Q&A queue as each viewer may see it: an anonymous asker is hidden from other
participants (never from instructors, nor from the asker); each viewer's own upvotes are
marked; open questions rank by upvotes then age, the rest follow, newest first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.domain import views
from chatsvc.storage import questions as store
from chatsvc.storage.tables import QuestionRecord

STATES = {
    "open": pb.QUESTION_STATE_OPEN,
    "answered": pb.QUESTION_STATE_ANSWERED,
    "dismissed": pb.QUESTION_STATE_DISMISSED,
    "withdrawn": pb.QUESTION_STATE_WITHDRAWN,
}
STATE_NAMES: dict[int, str] = {int(number): name for name, number in STATES.items()}
# A join snapshot carries at most this many questions (plus the viewer's own).
SNAPSHOT_QUESTIONS = 200


def question_view(row: QuestionRecord, viewer: Principal | None = None, *, upvoted: bool = False) -> pb.Question:
    """The question as `viewer` sees it; with no viewer, as an event for everyone shows it."""
    reveal = not row.anonymous or (viewer is not None and (viewer.is_instructor or viewer.user_id == row.asker_id))
    view = pb.Question(
        question_id=row.id,
        text=row.text,
        asker_id=row.asker_id if reveal else "",
        asker_name=row.asker_name if reveal else "",
        anonymous=row.anonymous,
        state=STATES[row.state],
        upvote_count=row.upvote_count,
        upvoted_by_me=upvoted,
        pinned=row.pinned_at is not None,
        answer_text=row.answer_text,
        answered_live=row.answered_live,
        answered_by=row.answered_by or "",
        create_time=views.timestamp(row.created_at),
    )
    if row.closed_at is not None:
        view.close_time.CopyFrom(views.timestamp(row.closed_at))
    return view


def ranked(rows: Sequence[QuestionRecord]) -> list[QuestionRecord]:
    """Open questions by upvotes (most first) then age (oldest first); then the others, newest first."""
    open_ = sorted((row for row in rows if row.state == "open"), key=lambda row: (-row.upvote_count, row.created_at, row.id))
    closed = sorted((row for row in rows if row.state != "open"), key=lambda row: (row.closed_at or row.created_at, row.id), reverse=True)
    return open_ + closed


def listed(row: QuestionRecord, viewer: Principal, state: str | None) -> bool:
    """Whether a listing for `viewer` (of one state, or of the default states) shows the question."""
    own = row.asker_id == viewer.user_id
    if state is not None:
        return row.state == state and (viewer.is_instructor or own or state in ("open", "answered"))
    if row.state in ("open", "answered"):
        return True
    return row.state == "dismissed" and (viewer.is_instructor or own)


class QuestionBoard:
    """The session's questions for the given viewers, read once (rows and the viewers' upvotes)."""

    def __init__(self, db: Session, session_id: str, viewers: Sequence[Principal]) -> None:
        self.rows = ranked(store.session_questions(db, session_id))
        self.upvotes = store.upvoted_by(db, [row.id for row in self.rows], [viewer.user_id for viewer in viewers])

    def listing(self, viewer: Principal, state: str | None = None) -> list[pb.Question]:
        return [self._view(row, viewer) for row in self.rows if listed(row, viewer, state)]

    def snapshot(self, viewer: Principal) -> list[pb.Question]:
        """Open and answered questions (at most SNAPSHOT_QUESTIONS), and the viewer's own in any state but withdrawn."""
        shared = [row for row in self.rows if row.state in ("open", "answered")][:SNAPSHOT_QUESTIONS]
        chosen = {row.id for row in shared}
        own = {row.id for row in self.rows if row.asker_id == viewer.user_id and row.state != "withdrawn"}
        return [self._view(row, viewer) for row in self.rows if row.id in chosen or row.id in own]

    def _view(self, row: QuestionRecord, viewer: Principal) -> pb.Question:
        return question_view(row, viewer, upvoted=(viewer.user_id, row.id) in self.upvotes)
