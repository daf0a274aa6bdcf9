"""Queries. Every function takes an open Session (on a database thread); callers own transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from chatsvc.storage.tables import (
    AuditEntry,
    ChatSession,
    EventRecord,
    Member,
    Message,
    MuteRecord,
    RaisedHandRecord,
    Strike,
    table_of,
)

SESSION_TABLE = table_of(ChatSession)
EVENT_TABLE = table_of(EventRecord)


def ensure_session(db: Session, session_id: str, now: datetime) -> None:
    """Create the session row if it does not exist (safe under concurrency)."""
    dialect_insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = dialect_insert(ChatSession).values(
        id=session_id, last_sequence=0, created_at=now, public_chat=1, private_chat_enabled=True, slow_mode_seconds=0
    )
    db.exec(statement.on_conflict_do_nothing(index_elements=["id"]))


def lock_session(db: Session, session_id: str) -> None:
    """Hold the session's row until the transaction ends: one writer per session at a time,
    across processes (SQLite has a single writer anyway)."""
    if db.get_bind().dialect.name == "postgresql":
        db.exec(select(ChatSession.id).where(col(ChatSession.id) == session_id).with_for_update())


def allocate_sequence(db: Session, session_id: str) -> int:
    """The session's next sequence; the row stays locked until the transaction ends."""
    # Core statements (no ORM session bookkeeping): they run for every change.
    sessions = SESSION_TABLE.c
    statement = (
        update(SESSION_TABLE)
        .where(sessions.id == session_id)
        .values(last_sequence=sessions.last_sequence + 1)
        .returning(sessions.last_sequence)
    )
    return int(db.connection().execute(statement).scalar_one())


def set_last_sequence(db: Session, session_id: str, sequence: int) -> None:
    sessions = SESSION_TABLE.c
    db.connection().execute(update(SESSION_TABLE).where(sessions.id == session_id).values(last_sequence=sequence))


def insert_events(db: Session, rows: list[dict]) -> None:
    """Insert event rows (the columns of `EventRecord`) in one statement."""
    db.connection().execute(insert(EVENT_TABLE), rows)


def get_session(db: Session, session_id: str) -> ChatSession | None:
    return db.get(ChatSession, session_id)


def last_sequence(db: Session, session_id: str) -> int:
    result = db.exec(select(ChatSession.last_sequence).where(col(ChatSession.id) == session_id))
    value = result.one_or_none()
    return int(value or 0)


def _visible_messages(session_id: str, viewer_id: str) -> ColumnElement[bool]:
    """Public messages, and private ones the viewer sent or received (instructors included:
    a private conversation is between its two parties)."""
    return and_(
        col(Message.session_id) == session_id,
        or_(col(Message.recipient_id).is_(None), col(Message.sender_id) == viewer_id, col(Message.recipient_id) == viewer_id),
    )


def list_messages(
    db: Session,
    session_id: str,
    *,
    viewer_id: str,
    limit: int,
    before_sequence: int | None = None,
    after_sequence: int | None = None,
) -> Sequence[Message]:
    """Newest first, or oldest first when `after_sequence` is given."""
    statement = select(Message).where(_visible_messages(session_id, viewer_id))
    if after_sequence is not None:
        statement = statement.where(col(Message.sequence) > after_sequence).order_by(col(Message.sequence).asc())
    else:
        if before_sequence is not None:
            statement = statement.where(col(Message.sequence) < before_sequence)
        statement = statement.order_by(col(Message.sequence).desc())
    result = db.exec(statement.limit(limit))
    return result.all()


def get_message(db: Session, session_id: str, message_id: str) -> Message | None:
    message = db.get(Message, message_id)
    if message is None or message.session_id != session_id:
        return None
    return message


def find_by_client_ids(db: Session, session_id: str, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Message]:
    """The stored messages with these (sender id, client message id) keys, by key."""
    if not keys:
        return {}
    statement = select(Message).where(
        col(Message.session_id) == session_id, col(Message.client_message_id).in_({client_id for _, client_id in keys})
    )
    wanted = set(keys)
    found = {}
    for message in db.exec(statement):
        key = (message.sender_id, message.client_message_id)
        if key in wanted:
            found[key] = message
    return found


def pinned_messages(db: Session, session_id: str, *, viewer_id: str) -> Sequence[Message]:
    statement = (
        select(Message)
        .where(_visible_messages(session_id, viewer_id), col(Message.pinned_at).is_not(None))
        .order_by(col(Message.pinned_at).asc())
    )
    return (db.exec(statement)).all()


def events_after(
    db: Session,
    session_id: str,
    after_sequence: int,
    *,
    through_sequence: int,
    viewer_id: str,
    is_instructor: bool,
) -> Sequence[tuple[int, bytes]]:
    """(sequence, payload) of the events in (after, through] that the viewer may see."""
    visible = or_(col(EventRecord.everyone), col(EventRecord.party_a) == viewer_id, col(EventRecord.party_b) == viewer_id)
    if is_instructor:
        visible = or_(visible, col(EventRecord.instructors))
    statement = (
        select(EventRecord.sequence, EventRecord.payload)
        .where(
            col(EventRecord.session_id) == session_id,
            col(EventRecord.sequence) > after_sequence,
            col(EventRecord.sequence) <= through_sequence,
            visible,
        )
        .order_by(col(EventRecord.sequence).asc())
    )
    return [(int(s), bytes(p)) for s, p in (db.exec(statement)).all()]


def event_rows_between(db: Session, session_id: str, after_sequence: int, through_sequence: int) -> list[tuple]:
    """(sequence, everyone, instructors, party_a, party_b, payload) of the events in (after, through],
    oldest first: one read that serves many viewers, filtered by `EventRecord.visible_to` semantics."""
    # Six columns: more than sqlmodel's typed select takes, so SQLAlchemy's own.
    statement = (
        sa_select(
            col(EventRecord.sequence),
            col(EventRecord.everyone),
            col(EventRecord.instructors),
            col(EventRecord.party_a),
            col(EventRecord.party_b),
            col(EventRecord.payload),
        )
        .where(
            col(EventRecord.session_id) == session_id,
            col(EventRecord.sequence) > after_sequence,
            col(EventRecord.sequence) <= through_sequence,
        )
        .order_by(col(EventRecord.sequence).asc())
    )
    return [
        (int(sequence), bool(everyone), bool(instructors), party_a, party_b, bytes(payload))
        for sequence, everyone, instructors, party_a, party_b, payload in db.execute(statement).all()
    ]


def users_with_private_messages(db: Session, session_id: str) -> set[str]:
    """Everyone who sent or received a private message in the session."""
    statement = (
        select(col(Message.sender_id), col(Message.recipient_id))
        .where(col(Message.session_id) == session_id, col(Message.recipient_id).is_not(None))
        .distinct()
    )
    users: set[str] = set()
    for sender_id, recipient_id in db.exec(statement).all():
        users.add(sender_id)
        if recipient_id is not None:
            users.add(recipient_id)
    return users


def oldest_event_sequence(db: Session, session_id: str) -> int | None:
    result = db.exec(select(func.min(EventRecord.sequence)).where(col(EventRecord.session_id) == session_id))
    value = result.one_or_none()
    return None if value is None else int(value)


def upsert_member(db: Session, session_id: str, user_id: str, display_name: str, role: str, now: datetime) -> Member:
    member = db.get(Member, (session_id, user_id))
    if member is None:
        member = Member(session_id=session_id, user_id=user_id, display_name=display_name, role=role, first_seen=now)
        db.add(member)
    elif member.display_name != display_name or member.role != role:
        member.display_name, member.role = display_name, role
        db.add(member)
    return member


def upsert_members(db: Session, session_id: str, people: dict[str, tuple[str, str]], now: datetime) -> None:
    """`upsert_member` for many users (user id -> name, role) with one query for those already known."""
    statement = select(Member).where(col(Member.session_id) == session_id, col(Member.user_id).in_(list(people)))
    existing = {member.user_id: member for member in db.exec(statement).all()}
    for user_id, (display_name, role) in people.items():
        member = existing.get(user_id)
        if member is None:
            db.add(Member(session_id=session_id, user_id=user_id, display_name=display_name, role=role, first_seen=now))
        elif member.display_name != display_name or member.role != role:
            member.display_name, member.role = display_name, role
            db.add(member)


def get_member(db: Session, session_id: str, user_id: str) -> Member | None:
    return db.get(Member, (session_id, user_id))


def list_members(db: Session, session_id: str, *, after_user_id: str, limit: int) -> Sequence[Member]:
    statement = (
        select(Member)
        .where(col(Member.session_id) == session_id, col(Member.user_id) > after_user_id)
        .order_by(col(Member.user_id).asc())
        .limit(limit)
    )
    return (db.exec(statement)).all()


def active_mutes(db: Session, session_id: str, now: datetime) -> Sequence[MuteRecord]:
    statement = select(MuteRecord).where(
        col(MuteRecord.session_id) == session_id, or_(col(MuteRecord.ends_at).is_(None), col(MuteRecord.ends_at) > now)
    )
    return (db.exec(statement.order_by(col(MuteRecord.started_at).asc()))).all()


def raised_hands(db: Session, session_id: str) -> Sequence[RaisedHandRecord]:
    statement = select(RaisedHandRecord).where(col(RaisedHandRecord.session_id) == session_id)
    return (db.exec(statement.order_by(col(RaisedHandRecord.raised_at).asc(), col(RaisedHandRecord.user_id)))).all()


def last_message_time(db: Session, session_id: str, sender_id: str) -> datetime | None:
    statement = select(func.max(Message.created_at)).where(
        col(Message.session_id) == session_id, col(Message.sender_id) == sender_id
    )
    return (db.exec(statement)).one_or_none()


def count_strikes(db: Session, session_id: str, user_id: str, since: datetime) -> int:
    statement = select(func.count()).where(
        col(Strike.session_id) == session_id, col(Strike.user_id) == user_id, col(Strike.created_at) > since
    )
    return int((db.exec(statement)).one())


def clear_strikes(db: Session, session_id: str, user_id: str) -> None:
    db.exec(delete(Strike).where(col(Strike.session_id) == session_id, col(Strike.user_id) == user_id))


def list_audit(db: Session, session_id: str, *, before_id: int | None, limit: int) -> Sequence[AuditEntry]:
    statement = select(AuditEntry).where(col(AuditEntry.session_id) == session_id)
    if before_id is not None:
        statement = statement.where(col(AuditEntry.id) < before_id)
    return (db.exec(statement.order_by(col(AuditEntry.id).desc()).limit(limit))).all()


def all_mutes(db: Session, session_id: str) -> Sequence[MuteRecord]:
    """Every mute row of the session, including ones whose time has passed."""
    statement = select(MuteRecord).where(col(MuteRecord.session_id) == session_id)
    return (db.exec(statement.order_by(col(MuteRecord.started_at).asc()))).all()


def event_records(db: Session, session_id: str, after_sequence: int, through_sequence: int) -> Sequence[EventRecord]:
    """Every stored event in (after, through], whoever may see it, in order (fan-out gap filling)."""
    statement = (
        select(EventRecord)
        .where(
            col(EventRecord.session_id) == session_id,
            col(EventRecord.sequence) > after_sequence,
            col(EventRecord.sequence) <= through_sequence,
        )
        .order_by(col(EventRecord.sequence).asc())
    )
    return (db.exec(statement)).all()


def last_sequences(db: Session, session_ids: list[str]) -> dict[str, int]:
    statement = select(ChatSession.id, ChatSession.last_sequence).where(col(ChatSession.id).in_(session_ids))
    return {session_id: int(sequence) for session_id, sequence in (db.exec(statement)).all()}


def deleted_messages(db: Session, session_id: str) -> dict[str, datetime]:
    """message id -> deletion time, for every deleted message of the session.

    Read from the audit log (every delete writes its entry in the same
    transaction; see `Moderation.delete_message`): its rows are a session's few
    moderation actions, found through ix_audit_session_id, where the messages
    table would be scanned for the whole session.
    """
    statement = select(AuditEntry.message_id, AuditEntry.created_at).where(
        col(AuditEntry.session_id) == session_id, col(AuditEntry.action) == "delete", col(AuditEntry.message_id).is_not(None)
    )
    # The query already leaves out rows without a message id; the check tells the type checker.
    return {message_id: created_at for message_id, created_at in db.exec(statement).all() if message_id is not None}
