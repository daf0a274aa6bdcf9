"""The polls of a session as each viewer may see them: read once (rows, tallies, the voters of
named polls, the viewers' own votes), then shaped per viewer. ListPolls and join snapshots use it.

What a viewer sees: results while the poll is open only if they are not hidden until it
closes (instructors always see them); who voted for what only as an instructor, and only
in a named poll (an anonymous poll's voters are never read here); their own vote always.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sessionchat.v1 import chat_pb2 as pb
from sqlmodel import Session

from chatsvc.auth import Principal
from chatsvc.clock import as_utc
from chatsvc.domain import views
from chatsvc.storage import polls as store
from chatsvc.storage.tables import PollRecord


def is_closed(poll: PollRecord, now: datetime) -> bool:
    """Closed by an instructor, or past its time limit (whether or not the close was recorded yet)."""
    return poll.closed_at is not None or (poll.closes_at is not None and as_utc(poll.closes_at) <= now)


def results_visible(poll: PollRecord, *, instructor: bool, closed: bool) -> bool:
    return instructor or closed or not poll.results_hidden


def public_view(db: Session, poll: PollRecord, now: datetime) -> pb.Poll:
    """The poll as an event for everyone shows it: results only if participants may see them, no voters."""
    closed = is_closed(poll, now)
    results = None
    if results_visible(poll, instructor=False, closed=closed):
        voter_count, counts = store.tallies(db, [poll.id])[poll.id]
        results = views.poll_results(poll, voter_count, counts)
    return views.poll(poll, closed=closed, results=results, my_option_ids=[])


def own_view(db: Session, poll: PollRecord, now: datetime, viewer: Principal) -> pb.Poll:
    """The poll as one viewer sees it (the answer to their own call)."""
    board = PollBoard(db, poll.session_id, now, [viewer], rows=[poll])
    return board.for_viewer(viewer)[0]


class PollBoard:
    """The session's polls (deleted ones left out), oldest first, for the given viewers."""

    def __init__(
        self, db: Session, session_id: str, now: datetime, viewers: Sequence[Principal], *, rows: Sequence[PollRecord] | None = None
    ) -> None:
        self.now = now
        self.rows = list(store.session_polls(db, session_id) if rows is None else rows)
        ids = [row.id for row in self.rows]
        self.tallies = store.tallies(db, ids)
        named = [row.id for row in self.rows if not row.anonymous]
        self.voters = store.voters_by_option(db, named) if any(viewer.is_instructor for viewer in viewers) else {}
        self.votes = store.votes_by_users(db, ids, [viewer.user_id for viewer in viewers])
        self._views: dict[bool, list[pb.Poll]] = {}

    def for_viewer(self, viewer: Principal) -> list[pb.Poll]:
        shared = self._by_role(viewer.is_instructor)
        polls = []
        for view in shared:
            mine = self.votes.get((viewer.user_id, view.poll_id))
            if mine:
                view = _copy(view)
                view.my_option_ids.extend(mine)
            polls.append(view)
        return polls

    def _by_role(self, instructor: bool) -> list[pb.Poll]:
        if instructor not in self._views:
            polls = []
            for row in self.rows:
                closed = is_closed(row, self.now)
                results = None
                if results_visible(row, instructor=instructor, closed=closed):
                    voter_count, counts = self.tallies.get(row.id, (0, {}))
                    voters = self.voters.get(row.id, {}) if instructor and not row.anonymous else None
                    results = views.poll_results(row, voter_count, counts, voters)
                polls.append(views.poll(row, closed=closed, results=results, my_option_ids=[]))
            self._views[instructor] = polls
        return self._views[instructor]


def _copy(view: pb.Poll) -> pb.Poll:
    copy = pb.Poll()
    copy.CopyFrom(view)
    return copy
