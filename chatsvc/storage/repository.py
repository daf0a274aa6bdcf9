"""Queries. Every function takes an open AsyncSession; callers own transactions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from chatsvc.storage.tables import AuditEntry, ChatSession, EventRecord, Member, Message, MuteRecord, RaisedHandRecord, Strike


async def ensure_session(db: AsyncSession, session_id: str, now: datetime) -> None:
    """Create the session row if it does not exist (safe under concurrency)."""
    insert = postgresql.insert if db.bind.dialect.name == "postgresql" else sqlite.insert
    statement = insert(ChatSession).values(
        id=session_id, last_sequence=0, created_at=now, public_chat=1, private_chat_enabled=True, slow_mode_seconds=0
    )
    await db.exec(statement.on_conflict_do_nothing(index_elements=["id"]))


async def lock_session(db: AsyncSession, session_id: str) -> None:
    """Hold the session's row until the transaction ends: one writer per session at a time,
    across processes (SQLite has a single writer anyway)."""
    if db.bind.dialect.name == "postgresql":
        await db.exec(select(ChatSession.id).where(ChatSession.id == session_id).with_for_update())


async def allocate_sequence(db: AsyncSession, session_id: str) -> int:
    """The session's next sequence; the row stays locked until the transaction ends."""
    statement = (
        update(ChatSession)
        .where(ChatSession.id == session_id)
        .values(last_sequence=ChatSession.last_sequence + 1)
        .returning(ChatSession.last_sequence)
    )
    result = await db.exec(statement)
    return int(result.scalar_one())


async def get_session(db: AsyncSession, session_id: str) -> ChatSession | None:
    return await db.get(ChatSession, session_id)


async def last_sequence(db: AsyncSession, session_id: str) -> int:
    result = await db.exec(select(ChatSession.last_sequence).where(ChatSession.id == session_id))
    value = result.scalar_one_or_none()
    return int(value or 0)


def _visible_messages(session_id: str, viewer_id: str):
    """Public messages, and private ones the viewer sent or received (instructors included:
    a private conversation is between its two parties)."""
    return and_(
        Message.session_id == session_id,
        or_(Message.recipient_id.is_(None), Message.sender_id == viewer_id, Message.recipient_id == viewer_id),
    )


async def list_messages(
    db: AsyncSession,
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
        statement = statement.where(Message.sequence > after_sequence).order_by(Message.sequence.asc())
    else:
        if before_sequence is not None:
            statement = statement.where(Message.sequence < before_sequence)
        statement = statement.order_by(Message.sequence.desc())
    result = await db.exec(statement.limit(limit))
    return result.scalars().all()


async def get_message(db: AsyncSession, session_id: str, message_id: str) -> Message | None:
    message = await db.get(Message, message_id)
    if message is None or message.session_id != session_id:
        return None
    return message


async def find_by_client_id(db: AsyncSession, session_id: str, sender_id: str, client_message_id: str) -> Message | None:
    result = await db.exec(
        select(Message).where(
            Message.session_id == session_id,
            Message.sender_id == sender_id,
            Message.client_message_id == client_message_id,
        )
    )
    return result.scalars().first()


async def pinned_messages(db: AsyncSession, session_id: str, *, viewer_id: str) -> Sequence[Message]:
    statement = (
        select(Message)
        .where(_visible_messages(session_id, viewer_id), Message.pinned_at.is_not(None))
        .order_by(Message.pinned_at.asc())
    )
    return (await db.exec(statement)).scalars().all()


async def events_after(
    db: AsyncSession,
    session_id: str,
    after_sequence: int,
    *,
    through_sequence: int,
    viewer_id: str,
    is_instructor: bool,
) -> Sequence[tuple[int, bytes]]:
    """(sequence, payload) of the events in (after, through] that the viewer may see."""
    visible = or_(EventRecord.everyone, EventRecord.party_a == viewer_id, EventRecord.party_b == viewer_id)
    if is_instructor:
        visible = or_(visible, EventRecord.instructors)
    statement = (
        select(EventRecord.sequence, EventRecord.payload)
        .where(
            EventRecord.session_id == session_id,
            EventRecord.sequence > after_sequence,
            EventRecord.sequence <= through_sequence,
            visible,
        )
        .order_by(EventRecord.sequence.asc())
    )
    return [(int(s), bytes(p)) for s, p in (await db.exec(statement)).all()]


async def oldest_event_sequence(db: AsyncSession, session_id: str) -> int | None:
    result = await db.exec(select(func.min(EventRecord.sequence)).where(EventRecord.session_id == session_id))
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


async def upsert_member(db: AsyncSession, session_id: str, user_id: str, display_name: str, role: str, now: datetime) -> Member:
    member = await db.get(Member, (session_id, user_id))
    if member is None:
        member = Member(session_id=session_id, user_id=user_id, display_name=display_name, role=role, first_seen=now)
        db.add(member)
    elif member.display_name != display_name or member.role != role:
        member.display_name, member.role = display_name, role
        db.add(member)
    return member


async def get_member(db: AsyncSession, session_id: str, user_id: str) -> Member | None:
    return await db.get(Member, (session_id, user_id))


async def list_members(db: AsyncSession, session_id: str, *, after_user_id: str, limit: int) -> Sequence[Member]:
    statement = (
        select(Member)
        .where(Member.session_id == session_id, Member.user_id > after_user_id)
        .order_by(Member.user_id.asc())
        .limit(limit)
    )
    return (await db.exec(statement)).scalars().all()


async def active_mutes(db: AsyncSession, session_id: str, now: datetime) -> Sequence[MuteRecord]:
    statement = select(MuteRecord).where(
        MuteRecord.session_id == session_id, or_(MuteRecord.ends_at.is_(None), MuteRecord.ends_at > now)
    )
    return (await db.exec(statement.order_by(MuteRecord.started_at.asc()))).scalars().all()


async def raised_hands(db: AsyncSession, session_id: str) -> Sequence[RaisedHandRecord]:
    statement = select(RaisedHandRecord).where(RaisedHandRecord.session_id == session_id)
    return (await db.exec(statement.order_by(RaisedHandRecord.raised_at.asc(), RaisedHandRecord.user_id))).scalars().all()


async def get_mute(db: AsyncSession, session_id: str, user_id: str) -> MuteRecord | None:
    return await db.get(MuteRecord, (session_id, user_id))


async def last_message_time(db: AsyncSession, session_id: str, sender_id: str) -> datetime | None:
    statement = select(func.max(Message.created_at)).where(Message.session_id == session_id, Message.sender_id == sender_id)
    return (await db.exec(statement)).scalar_one_or_none()


async def count_strikes(db: AsyncSession, session_id: str, user_id: str, since: datetime) -> int:
    statement = select(func.count()).where(
        Strike.session_id == session_id, Strike.user_id == user_id, Strike.created_at > since
    )
    return int((await db.exec(statement)).scalar_one())


async def clear_strikes(db: AsyncSession, session_id: str, user_id: str) -> None:
    await db.exec(delete(Strike).where(Strike.session_id == session_id, Strike.user_id == user_id))


async def list_audit(db: AsyncSession, session_id: str, *, before_id: int | None, limit: int) -> Sequence[AuditEntry]:
    statement = select(AuditEntry).where(AuditEntry.session_id == session_id)
    if before_id is not None:
        statement = statement.where(AuditEntry.id < before_id)
    return (await db.exec(statement.order_by(AuditEntry.id.desc()).limit(limit))).scalars().all()


async def all_mutes(db: AsyncSession, session_id: str) -> Sequence[MuteRecord]:
    """Every mute row of the session, including ones whose time has passed."""
    statement = select(MuteRecord).where(MuteRecord.session_id == session_id)
    return (await db.exec(statement.order_by(MuteRecord.started_at.asc()))).scalars().all()


async def event_records(db: AsyncSession, session_id: str, after_sequence: int, through_sequence: int) -> Sequence[EventRecord]:
    """Every stored event in (after, through], whoever may see it, in order (fan-out gap filling)."""
    statement = (
        select(EventRecord)
        .where(
            EventRecord.session_id == session_id,
            EventRecord.sequence > after_sequence,
            EventRecord.sequence <= through_sequence,
        )
        .order_by(EventRecord.sequence.asc())
    )
    return (await db.exec(statement)).scalars().all()


async def last_sequences(db: AsyncSession, session_ids: list[str]) -> dict[str, int]:
    statement = select(ChatSession.id, ChatSession.last_sequence).where(ChatSession.id.in_(session_ids))
    return {session_id: int(sequence) for session_id, sequence in (await db.exec(statement)).all()}
