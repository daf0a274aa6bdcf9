"""The database tables. Times are timezone-aware UTC; ids are strings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    Table,
    UniqueConstraint,
    inspect,
)
from sqlmodel import JSON, Field, SQLModel


def utc_column(nullable: bool = False) -> Column:
    return Column(DateTime(timezone=True), nullable=nullable)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for statements without ORM overhead (SQLModel sets
    `__table__` on the class but its type hints do not declare it)."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


class ChatSession(SQLModel, table=True):
    __tablename__ = "chat_sessions"

    id: str = Field(primary_key=True, max_length=128)
    # The sequence of the session's newest event; allocation takes a row lock.
    last_sequence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    created_at: datetime = Field(sa_column=utc_column())
    # The chat policy (issue: moderation).
    public_chat: int = 1
    private_chat_enabled: bool = True
    slow_mode_seconds: int = 0


class Member(SQLModel, table=True):
    """Everyone who ever joined or acted in a session, with the role they had."""

    __tablename__ = "session_members"

    session_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    first_seen: datetime = Field(sa_column=utc_column())


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("session_id", "sequence", name="uq_messages_session_sequence"),
        UniqueConstraint("session_id", "sender_id", "client_message_id", name="uq_messages_client_id"),
        # Slow mode reads a sender's latest message; the join snapshot reads the pins.
        Index("ix_messages_session_sender_time", "session_id", "sender_id", "created_at"),
        Index("ix_messages_session_pinned", "session_id", "pinned_at"),
    )

    id: str = Field(primary_key=True, max_length=32)
    session_id: str = Field(max_length=128)
    sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    sender_id: str = Field(max_length=128)
    sender_name: str = Field(max_length=100)
    sender_role: str = Field(max_length=16)
    # None for a public message.
    recipient_id: str | None = Field(default=None, max_length=128)
    text: str
    client_message_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=utc_column())
    deleted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    deleted_by: str | None = Field(default=None, max_length=128)
    reply_to_id: str | None = Field(default=None, max_length=32)
    mentions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, default=list))
    pinned_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    pinned_by: str | None = Field(default=None, max_length=128)


class EventRecord(SQLModel, table=True):
    """Every persisted event, as the serialized `sessionchat.v1.Event` clients receive.

    Who may see it: everyone, or its parties (party_a, party_b) plus, when
    `instructors` is set, the session's instructors.
    """

    __tablename__ = "events"

    session_id: str = Field(primary_key=True, max_length=128)
    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    everyone: bool = True
    instructors: bool = True
    party_a: str | None = Field(default=None, max_length=128)
    party_b: str | None = Field(default=None, max_length=128)
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(sa_column=utc_column())
    # SHA-256 chained to the session's previous event (storage/chain.py).
    chain_hash: str | None = Field(default=None, max_length=64)


class MuteRecord(SQLModel, table=True):
    __tablename__ = "mutes"

    session_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    muted_by: str | None = Field(default=None, max_length=128)
    reason: str = ""
    started_at: datetime = Field(sa_column=utc_column())
    # None for a permanent mute.
    ends_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    automatic: bool = False


class RaisedHandRecord(SQLModel, table=True):
    __tablename__ = "raised_hands"

    session_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    display_name: str = Field(max_length=100)
    raised_at: datetime = Field(sa_column=utc_column())
    acknowledged_by: str | None = Field(default=None, max_length=128)


class Reaction(SQLModel, table=True):
    __tablename__ = "reactions"

    message_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=128)
    emoji: str = Field(primary_key=True, max_length=16)
    session_id: str = Field(max_length=128)
    display_name: str = Field(max_length=100)
    created_at: datetime = Field(sa_column=utc_column())


class Strike(SQLModel, table=True):
    __tablename__ = "strikes"
    __table_args__ = (Index("ix_strikes_session_user", "session_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=128)
    user_id: str = Field(max_length=128)
    message_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=utc_column())


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_session_id", "session_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: str = Field(max_length=128)
    # None for an automatic action.
    actor_id: str | None = Field(default=None, max_length=128)
    target_user_id: str | None = Field(default=None, max_length=128)
    action: str = Field(max_length=32)
    reason: str = ""
    message_id: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_column=utc_column())


class ProcessLease(SQLModel, table=True):
    """A server process serving this database: renewed while it runs, deleted when it stops.

    A process without Redis fans out only within itself, so it must be the
    only one; processes with Redis may be many (chatsvc.storage.lease).
    """

    __tablename__ = "process_leases"

    owner: str = Field(primary_key=True, max_length=32)
    pid: int
    host: str = Field(max_length=255)
    # True when the process fans out through Redis (several may then share the database).
    shared: bool
    expires_at: datetime = Field(sa_column=utc_column())


class PollRecord(SQLModel, table=True):
    """A poll of a session; its options are texts whose ids are their positions ("1", "2", ...)."""

    __tablename__ = "polls"
    __table_args__ = (Index("ix_polls_session_created", "session_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    session_id: str = Field(max_length=128)
    question: str
    options: list[str] = Field(sa_column=Column(JSON, nullable=False))
    multiple_choice: bool = False
    anonymous: bool = False
    results_hidden: bool = False
    instructors_vote: bool = False
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=utc_column())
    # None without a time limit; else when the poll closes by itself.
    closes_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_by: str | None = Field(default=None, max_length=128)
    deleted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class PollVote(SQLModel, table=True):
    """One option a user chose in a poll (a multiple-choice vote is several rows)."""

    __tablename__ = "poll_votes"

    poll_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=128)
    option_id: str = Field(primary_key=True, max_length=8)
    session_id: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=utc_column())


class QuestionRecord(SQLModel, table=True):
    """A question of a session's Q&A queue. `state`: open, answered, dismissed or withdrawn."""

    __tablename__ = "questions"
    __table_args__ = (Index("ix_questions_session_created", "session_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=32)
    session_id: str = Field(max_length=128)
    text: str
    asker_id: str = Field(max_length=128)
    asker_name: str = Field(max_length=100)
    anonymous: bool = False
    state: str = Field(default="open", max_length=16)
    upvote_count: int = 0
    pinned_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    answer_text: str = ""
    answered_live: bool = False
    answered_by: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class QuestionUpvote(SQLModel, table=True):
    """One user's upvote of a question (at most one each)."""

    __tablename__ = "question_upvotes"

    question_id: str = Field(primary_key=True, max_length=32)
    user_id: str = Field(primary_key=True, max_length=128)
    session_id: str = Field(max_length=128)
    created_at: datetime = Field(sa_column=utc_column())


class ReadMark(SQLModel, table=True):
    """How far one user has read a session: one row per user, the highest sequence marked."""

    __tablename__ = "read_marks"

    session_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    last_read_sequence: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column())


class PresenceChange(SQLModel, table=True):
    """A `user_joined` or `user_left` as it was stored: who was online when each message came."""

    __tablename__ = "presence_changes"

    session_id: str = Field(primary_key=True, max_length=128)
    sequence: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    user_id: str = Field(primary_key=True, max_length=128)
    display_name: str = Field(max_length=100)
    joined: bool


class PresenceCarried(SQLModel, table=True):
    """A user still in their presence grace when a server stopped (their stream ended by the
    stop): the next server to start keeps them online for the grace, so that a deploy or a
    restart announces no leave and join of everyone (chatsvc.domain.streams)."""

    __tablename__ = "presence_carried"

    session_id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    display_name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    stopped_at: datetime = Field(sa_column=utc_column())
