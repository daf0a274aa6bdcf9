"""Queries for the Q&A queue: questions and their upvotes.

Every function takes an open Session (on a database thread); callers own transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from chatsvc.storage.tables import QuestionRecord, QuestionUpvote


def get_question(db: Session, session_id: str, question_id: str) -> QuestionRecord | None:
    question = db.get(QuestionRecord, question_id)
    return question if question is not None and question.session_id == session_id else None


def session_questions(db: Session, session_id: str) -> Sequence[QuestionRecord]:
    """Every question of the session, oldest first."""
    statement = (
        select(QuestionRecord)
        .where(col(QuestionRecord.session_id) == session_id)
        .order_by(col(QuestionRecord.created_at).asc(), col(QuestionRecord.id).asc())
    )
    return db.exec(statement).all()


def count_questions(db: Session, session_id: str) -> int:
    statement = select(func.count()).select_from(QuestionRecord).where(col(QuestionRecord.session_id) == session_id)
    return int(db.exec(statement).one())


def pinned_questions(db: Session, session_id: str) -> Sequence[QuestionRecord]:
    statement = select(QuestionRecord).where(col(QuestionRecord.session_id) == session_id, col(QuestionRecord.pinned_at).is_not(None))
    return db.exec(statement).all()


def has_upvoted(db: Session, question_id: str, user_id: str) -> bool:
    return db.get(QuestionUpvote, (question_id, user_id)) is not None


def add_upvote(db: Session, question: QuestionRecord, user_id: str, now) -> None:
    db.add(QuestionUpvote(question_id=question.id, user_id=user_id, session_id=question.session_id, created_at=now))
    db.flush()
    question.upvote_count = _count(db, question.id)
    db.add(question)


def remove_upvote(db: Session, question: QuestionRecord, user_id: str) -> None:
    db.exec(delete(QuestionUpvote).where(col(QuestionUpvote.question_id) == question.id, col(QuestionUpvote.user_id) == user_id))
    question.upvote_count = _count(db, question.id)
    db.add(question)


def upvoted_by(db: Session, question_ids: Sequence[str], user_ids: Sequence[str]) -> set[tuple[str, str]]:
    """(user id, question id) of the given users' upvotes of the given questions."""
    if not question_ids or not user_ids:
        return set()
    statement = select(QuestionUpvote.user_id, QuestionUpvote.question_id).where(
        col(QuestionUpvote.question_id).in_(list(question_ids)), col(QuestionUpvote.user_id).in_(list(set(user_ids)))
    )
    return {(user_id, question_id) for user_id, question_id in db.exec(statement).all()}


def _count(db: Session, question_id: str) -> int:
    statement = select(func.count()).select_from(QuestionUpvote).where(col(QuestionUpvote.question_id) == question_id)
    return int(db.exec(statement).one())
