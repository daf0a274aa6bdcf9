"""Queries for polls and their votes.

Every function takes an open Session (on a database thread); callers own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from chatsvc.storage.tables import PollRecord, PollVote

# poll id -> (voters, option id -> votes)
Tallies = dict[str, tuple[int, dict[str, int]]]


def get_poll(db: Session, session_id: str, poll_id: str) -> PollRecord | None:
    poll = db.get(PollRecord, poll_id)
    return poll if poll is not None and poll.session_id == session_id else None


def session_polls(db: Session, session_id: str) -> Sequence[PollRecord]:
    """The session's polls that are not deleted, oldest first."""
    statement = (
        select(PollRecord)
        .where(col(PollRecord.session_id) == session_id, col(PollRecord.deleted_at).is_(None))
        .order_by(col(PollRecord.created_at).asc(), col(PollRecord.id).asc())
    )
    return db.exec(statement).all()


def count_polls(db: Session, session_id: str) -> int:
    statement = select(func.count()).select_from(PollRecord).where(
        col(PollRecord.session_id) == session_id, col(PollRecord.deleted_at).is_(None)
    )
    return int(db.exec(statement).one())


def vote_of(db: Session, poll_id: str, user_id: str) -> list[str]:
    """The option ids the user chose in the poll, in option order."""
    statement = select(PollVote.option_id).where(col(PollVote.poll_id) == poll_id, col(PollVote.user_id) == user_id)
    return sorted(db.exec(statement).all(), key=_option_order)


def replace_vote(db: Session, session_id: str, poll_id: str, user_id: str, option_ids: Sequence[str], now: datetime) -> None:
    db.exec(delete(PollVote).where(col(PollVote.poll_id) == poll_id, col(PollVote.user_id) == user_id))
    db.add_all(
        PollVote(poll_id=poll_id, user_id=user_id, option_id=option_id, session_id=session_id, created_at=now)
        for option_id in option_ids
    )
    db.flush()


def tallies(db: Session, poll_ids: Sequence[str]) -> Tallies:
    """Each poll's number of voters and votes per option (options nobody chose are absent)."""
    if not poll_ids:
        return {}
    result: Tallies = {poll_id: (0, {}) for poll_id in poll_ids}
    per_option = (
        select(PollVote.poll_id, PollVote.option_id, func.count())
        .where(col(PollVote.poll_id).in_(list(poll_ids)))
        .group_by(col(PollVote.poll_id), col(PollVote.option_id))
    )
    for poll_id, option_id, count in db.exec(per_option).all():
        result[poll_id][1][option_id] = int(count)
    voters = (
        select(PollVote.poll_id, func.count(func.distinct(PollVote.user_id)))
        .where(col(PollVote.poll_id).in_(list(poll_ids)))
        .group_by(col(PollVote.poll_id))
    )
    for poll_id, count in db.exec(voters).all():
        result[poll_id] = (int(count), result[poll_id][1])
    return result


def voters_by_option(db: Session, poll_ids: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """poll id -> option id -> user ids, in the order they voted. Callers pass named polls only."""
    if not poll_ids:
        return {}
    statement = (
        select(PollVote.poll_id, PollVote.option_id, PollVote.user_id)
        .where(col(PollVote.poll_id).in_(list(poll_ids)))
        .order_by(col(PollVote.created_at).asc(), col(PollVote.user_id).asc())
    )
    voters: dict[str, dict[str, list[str]]] = {}
    for poll_id, option_id, user_id in db.exec(statement).all():
        voters.setdefault(poll_id, {}).setdefault(option_id, []).append(user_id)
    return voters


def votes_by_users(db: Session, poll_ids: Sequence[str], user_ids: Sequence[str]) -> dict[tuple[str, str], list[str]]:
    """(user id, poll id) -> the option ids that user chose, for the given polls and users."""
    if not poll_ids or not user_ids:
        return {}
    statement = select(PollVote.poll_id, PollVote.user_id, PollVote.option_id).where(
        col(PollVote.poll_id).in_(list(poll_ids)), col(PollVote.user_id).in_(list(set(user_ids)))
    )
    votes: dict[tuple[str, str], list[str]] = {}
    for poll_id, user_id, option_id in db.exec(statement).all():
        votes.setdefault((user_id, poll_id), []).append(option_id)
    for chosen in votes.values():
        chosen.sort(key=_option_order)
    return votes


def _option_order(option_id: str) -> int:
    return int(option_id) if option_id.isdigit() else 0
