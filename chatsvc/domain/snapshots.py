"""What a fresh stream starts with: the session's snapshot as one viewer may see it.

In a join storm many viewers need a snapshot at the same sequence, and most
of it is the same for all of them: the recent public messages, the pins, the
hand queue, the policy, the polls, the questions. `Snapshots` reads and builds those once and gives each
viewer a copy with what is theirs: their reactions and poll votes marked, their mute, all
mutes for instructors. A viewer with private messages in the session gets a
snapshot built for them alone (their conversations are among the recent messages).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.domain import views
from chatsvc.domain.messages import MessageViews
from chatsvc.domain.poll_board import PollBoard
from chatsvc.domain.question_board import QuestionBoard
from chatsvc.storage import interactions as store
from chatsvc.storage import reads
from chatsvc.storage import repository as repo

# The viewer id of the shared part: no user has it, so it sees public messages only and has reacted to none.
NOBODY = ""


def viewer_snapshot(
    db: Session, session_id: str, viewer_id: str, as_of: int, now: datetime, *, recent_limit: int, message_views: MessageViews
) -> pb.SessionSnapshot:
    """The snapshot as `viewer_id` sees it, built for them alone (without mutes and the online list)."""
    recent = repo.list_messages(db, session_id, viewer_id=viewer_id, limit=recent_limit)
    hands = repo.raised_hands(db, session_id)
    return pb.SessionSnapshot(
        as_of_sequence=as_of,
        recent_messages=message_views(db, session_id, list(reversed(recent)), viewer_id),
        raised_hands=[views.raised_hand(row, position) for position, row in enumerate(hands, start=1)],
        pinned_messages=message_views(db, session_id, repo.pinned_messages(db, session_id, viewer_id=viewer_id), viewer_id),
        policy=views.policy(repo.get_session(db, session_id)),
    )


class Snapshots:
    """Snapshots of one session at one sequence for many viewers (on a database thread, in one read)."""

    def __init__(
        self,
        db: Session,
        session_id: str,
        as_of: int,
        now: datetime,
        viewers: Sequence[Principal],
        *,
        recent_limit: int,
        message_views: MessageViews,
    ) -> None:
        self.db = db
        self.session_id = session_id
        self.as_of = as_of
        self.now = now
        self.recent_limit = recent_limit
        self.message_views = message_views
        self.mutes = repo.active_mutes(db, session_id, now)
        self._private = repo.users_with_private_messages(db, session_id)
        self._shared: pb.SessionSnapshot | None = None
        self._reactions: dict[str, dict[str, set[str]]] = {}  # user id -> message id -> emoji
        self._viewers = [viewer.user_id for viewer in viewers if viewer.user_id not in self._private]
        # Every viewer's polls from one read: the tallies once, each viewer's own vote from one query.
        self._polls = PollBoard(db, session_id, now, viewers)
        self._questions = QuestionBoard(db, session_id, viewers)
        self._marks = reads.marks(db, session_id, [viewer.user_id for viewer in viewers])

    def for_viewer(self, viewer: Principal) -> pb.SessionSnapshot:
        if viewer.user_id in self._private:
            snapshot = viewer_snapshot(
                self.db, self.session_id, viewer.user_id, self.as_of, self.now,
                recent_limit=self.recent_limit, message_views=self.message_views,
            )
        else:
            snapshot = pb.SessionSnapshot()
            snapshot.CopyFrom(self._shared_part())
            mine = self._reactions.get(viewer.user_id)
            if mine:
                for message in (*snapshot.recent_messages, *snapshot.pinned_messages):
                    for count in message.reactions:
                        count.reacted_by_me = count.emoji in mine.get(message.message_id, ())
        snapshot.polls.extend(self._polls.for_viewer(viewer))
        snapshot.questions.extend(self._questions.snapshot(viewer))
        snapshot.my_last_read_sequence = self._marks.get(viewer.user_id, 0)
        snapshot.active_mutes.extend(views.mute(row) for row in self.mutes if viewer.is_instructor or row.user_id == viewer.user_id)
        own = next((row for row in self.mutes if row.user_id == viewer.user_id), None)
        if own is not None:
            snapshot.my_mute.CopyFrom(views.mute(own))
        return snapshot

    def _shared_part(self) -> pb.SessionSnapshot:
        if self._shared is None:
            self._shared = viewer_snapshot(
                self.db, self.session_id, NOBODY, self.as_of, self.now, recent_limit=self.recent_limit, message_views=self.message_views
            )
            ids = [message.message_id for message in (*self._shared.recent_messages, *self._shared.pinned_messages)]
            for message_id, user_id, emoji in store.reactions_by_users(self.db, ids, self._viewers):
                self._reactions.setdefault(user_id, {}).setdefault(message_id, set()).add(emoji)
        return self._shared
