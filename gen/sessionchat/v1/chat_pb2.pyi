import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ROLE_INSTRUCTOR: _ClassVar[Role]
    ROLE_PARTICIPANT: _ClassVar[Role]

class PublicChat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PUBLIC_CHAT_UNSPECIFIED: _ClassVar[PublicChat]
    PUBLIC_CHAT_EVERYONE: _ClassVar[PublicChat]
    PUBLIC_CHAT_INSTRUCTORS_ONLY: _ClassVar[PublicChat]

class SearchOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEARCH_ORDER_UNSPECIFIED: _ClassVar[SearchOrder]
    SEARCH_ORDER_NEWEST: _ClassVar[SearchOrder]
    SEARCH_ORDER_RELEVANCE: _ClassVar[SearchOrder]

class PollState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    POLL_STATE_UNSPECIFIED: _ClassVar[PollState]
    POLL_STATE_OPEN: _ClassVar[PollState]
    POLL_STATE_CLOSED: _ClassVar[PollState]

class QuestionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUESTION_STATE_UNSPECIFIED: _ClassVar[QuestionState]
    QUESTION_STATE_OPEN: _ClassVar[QuestionState]
    QUESTION_STATE_ANSWERED: _ClassVar[QuestionState]
    QUESTION_STATE_DISMISSED: _ClassVar[QuestionState]
    QUESTION_STATE_WITHDRAWN: _ClassVar[QuestionState]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_JSON: _ClassVar[ExportFormat]
    EXPORT_FORMAT_CSV: _ClassVar[ExportFormat]
    EXPORT_FORMAT_TEXT: _ClassVar[ExportFormat]
ROLE_UNSPECIFIED: Role
ROLE_INSTRUCTOR: Role
ROLE_PARTICIPANT: Role
PUBLIC_CHAT_UNSPECIFIED: PublicChat
PUBLIC_CHAT_EVERYONE: PublicChat
PUBLIC_CHAT_INSTRUCTORS_ONLY: PublicChat
SEARCH_ORDER_UNSPECIFIED: SearchOrder
SEARCH_ORDER_NEWEST: SearchOrder
SEARCH_ORDER_RELEVANCE: SearchOrder
POLL_STATE_UNSPECIFIED: PollState
POLL_STATE_OPEN: PollState
POLL_STATE_CLOSED: PollState
QUESTION_STATE_UNSPECIFIED: QuestionState
QUESTION_STATE_OPEN: QuestionState
QUESTION_STATE_ANSWERED: QuestionState
QUESTION_STATE_DISMISSED: QuestionState
QUESTION_STATE_WITHDRAWN: QuestionState
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_JSON: ExportFormat
EXPORT_FORMAT_CSV: ExportFormat
EXPORT_FORMAT_TEXT: ExportFormat

class Participant(_message.Message):
    __slots__ = ("user_id", "display_name", "role", "online")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    role: Role
    online: bool
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., online: _Optional[bool] = ...) -> None: ...

class ReactionCount(_message.Message):
    __slots__ = ("emoji", "count", "reacted_by_me")
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    REACTED_BY_ME_FIELD_NUMBER: _ClassVar[int]
    emoji: str
    count: int
    reacted_by_me: bool
    def __init__(self, emoji: _Optional[str] = ..., count: _Optional[int] = ..., reacted_by_me: _Optional[bool] = ...) -> None: ...

class ReplyRef(_message.Message):
    __slots__ = ("message_id", "sender_id", "excerpt")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    EXCERPT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    sender_id: str
    excerpt: str
    def __init__(self, message_id: _Optional[str] = ..., sender_id: _Optional[str] = ..., excerpt: _Optional[str] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ("message_id", "session_id", "sequence", "sender_id", "sender_name", "sender_role", "recipient_id", "text", "create_time", "client_message_id", "deleted", "delete_time", "reply_to", "mentioned_user_ids", "reactions", "pinned")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SENDER_ID_FIELD_NUMBER: _ClassVar[int]
    SENDER_NAME_FIELD_NUMBER: _ClassVar[int]
    SENDER_ROLE_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    DELETE_TIME_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    session_id: str
    sequence: int
    sender_id: str
    sender_name: str
    sender_role: Role
    recipient_id: str
    text: str
    create_time: _timestamp_pb2.Timestamp
    client_message_id: str
    deleted: bool
    delete_time: _timestamp_pb2.Timestamp
    reply_to: ReplyRef
    mentioned_user_ids: _containers.RepeatedScalarFieldContainer[str]
    reactions: _containers.RepeatedCompositeFieldContainer[ReactionCount]
    pinned: bool
    def __init__(self, message_id: _Optional[str] = ..., session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., sender_id: _Optional[str] = ..., sender_name: _Optional[str] = ..., sender_role: _Optional[_Union[Role, str]] = ..., recipient_id: _Optional[str] = ..., text: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_message_id: _Optional[str] = ..., deleted: _Optional[bool] = ..., delete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reply_to: _Optional[_Union[ReplyRef, _Mapping]] = ..., mentioned_user_ids: _Optional[_Iterable[str]] = ..., reactions: _Optional[_Iterable[_Union[ReactionCount, _Mapping]]] = ..., pinned: _Optional[bool] = ...) -> None: ...

class Mute(_message.Message):
    __slots__ = ("user_id", "muted_by", "reason", "start_time", "end_time", "automatic")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    MUTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    AUTOMATIC_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    muted_by: str
    reason: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    automatic: bool
    def __init__(self, user_id: _Optional[str] = ..., muted_by: _Optional[str] = ..., reason: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., automatic: _Optional[bool] = ...) -> None: ...

class RaisedHand(_message.Message):
    __slots__ = ("user_id", "display_name", "raise_time", "position", "acknowledged", "acknowledged_by")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    RAISE_TIME_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_BY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    raise_time: _timestamp_pb2.Timestamp
    position: int
    acknowledged: bool
    acknowledged_by: str
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., raise_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., position: _Optional[int] = ..., acknowledged: _Optional[bool] = ..., acknowledged_by: _Optional[str] = ...) -> None: ...

class ChatPolicy(_message.Message):
    __slots__ = ("public_chat", "private_chat_enabled", "slow_mode_seconds")
    PUBLIC_CHAT_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_CHAT_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SLOW_MODE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    public_chat: PublicChat
    private_chat_enabled: bool
    slow_mode_seconds: int
    def __init__(self, public_chat: _Optional[_Union[PublicChat, str]] = ..., private_chat_enabled: _Optional[bool] = ..., slow_mode_seconds: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("session_id", "sequence", "time", "stream_started", "message_posted", "private_message_posted", "message_deleted", "user_muted", "user_unmuted", "reaction_added", "reaction_removed", "hand_raised", "hand_lowered", "hand_acknowledged", "typing_started", "typing_stopped", "user_joined", "user_left", "chat_policy_changed", "message_pinned", "message_unpinned", "mentioned", "strikes_changed", "action_accepted", "error", "poll_created", "poll_closed", "poll_reopened", "poll_deleted", "poll_results_changed", "vote_cast", "question_asked", "question_author", "question_upvotes_changed", "question_answered", "question_dismissed", "question_withdrawn", "question_pinned", "question_unpinned", "read_counts_changed")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STREAM_STARTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_POSTED_FIELD_NUMBER: _ClassVar[int]
    PRIVATE_MESSAGE_POSTED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_DELETED_FIELD_NUMBER: _ClassVar[int]
    USER_MUTED_FIELD_NUMBER: _ClassVar[int]
    USER_UNMUTED_FIELD_NUMBER: _ClassVar[int]
    REACTION_ADDED_FIELD_NUMBER: _ClassVar[int]
    REACTION_REMOVED_FIELD_NUMBER: _ClassVar[int]
    HAND_RAISED_FIELD_NUMBER: _ClassVar[int]
    HAND_LOWERED_FIELD_NUMBER: _ClassVar[int]
    HAND_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    TYPING_STARTED_FIELD_NUMBER: _ClassVar[int]
    TYPING_STOPPED_FIELD_NUMBER: _ClassVar[int]
    USER_JOINED_FIELD_NUMBER: _ClassVar[int]
    USER_LEFT_FIELD_NUMBER: _ClassVar[int]
    CHAT_POLICY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_PINNED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_UNPINNED_FIELD_NUMBER: _ClassVar[int]
    MENTIONED_FIELD_NUMBER: _ClassVar[int]
    STRIKES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ACTION_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    POLL_CREATED_FIELD_NUMBER: _ClassVar[int]
    POLL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    POLL_REOPENED_FIELD_NUMBER: _ClassVar[int]
    POLL_DELETED_FIELD_NUMBER: _ClassVar[int]
    POLL_RESULTS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    VOTE_CAST_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ASKED_FIELD_NUMBER: _ClassVar[int]
    QUESTION_AUTHOR_FIELD_NUMBER: _ClassVar[int]
    QUESTION_UPVOTES_CHANGED_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ANSWERED_FIELD_NUMBER: _ClassVar[int]
    QUESTION_DISMISSED_FIELD_NUMBER: _ClassVar[int]
    QUESTION_WITHDRAWN_FIELD_NUMBER: _ClassVar[int]
    QUESTION_PINNED_FIELD_NUMBER: _ClassVar[int]
    QUESTION_UNPINNED_FIELD_NUMBER: _ClassVar[int]
    READ_COUNTS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    sequence: int
    time: _timestamp_pb2.Timestamp
    stream_started: StreamStarted
    message_posted: ChatMessage
    private_message_posted: ChatMessage
    message_deleted: MessageDeleted
    user_muted: UserMuted
    user_unmuted: UserUnmuted
    reaction_added: ReactionChanged
    reaction_removed: ReactionChanged
    hand_raised: HandRaised
    hand_lowered: HandLowered
    hand_acknowledged: HandAcknowledged
    typing_started: TypingChanged
    typing_stopped: TypingChanged
    user_joined: UserJoined
    user_left: UserLeft
    chat_policy_changed: ChatPolicyChanged
    message_pinned: MessagePinned
    message_unpinned: MessageUnpinned
    mentioned: Mentioned
    strikes_changed: StrikesChanged
    action_accepted: ActionAccepted
    error: ErrorEvent
    poll_created: PollCreated
    poll_closed: PollClosed
    poll_reopened: PollReopened
    poll_deleted: PollDeleted
    poll_results_changed: PollResults
    vote_cast: VoteCast
    question_asked: Question
    question_author: QuestionAuthor
    question_upvotes_changed: QuestionUpvotes
    question_answered: QuestionChanged
    question_dismissed: QuestionChanged
    question_withdrawn: QuestionChanged
    question_pinned: QuestionChanged
    question_unpinned: QuestionChanged
    read_counts_changed: ReadCounts
    def __init__(self, session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., stream_started: _Optional[_Union[StreamStarted, _Mapping]] = ..., message_posted: _Optional[_Union[ChatMessage, _Mapping]] = ..., private_message_posted: _Optional[_Union[ChatMessage, _Mapping]] = ..., message_deleted: _Optional[_Union[MessageDeleted, _Mapping]] = ..., user_muted: _Optional[_Union[UserMuted, _Mapping]] = ..., user_unmuted: _Optional[_Union[UserUnmuted, _Mapping]] = ..., reaction_added: _Optional[_Union[ReactionChanged, _Mapping]] = ..., reaction_removed: _Optional[_Union[ReactionChanged, _Mapping]] = ..., hand_raised: _Optional[_Union[HandRaised, _Mapping]] = ..., hand_lowered: _Optional[_Union[HandLowered, _Mapping]] = ..., hand_acknowledged: _Optional[_Union[HandAcknowledged, _Mapping]] = ..., typing_started: _Optional[_Union[TypingChanged, _Mapping]] = ..., typing_stopped: _Optional[_Union[TypingChanged, _Mapping]] = ..., user_joined: _Optional[_Union[UserJoined, _Mapping]] = ..., user_left: _Optional[_Union[UserLeft, _Mapping]] = ..., chat_policy_changed: _Optional[_Union[ChatPolicyChanged, _Mapping]] = ..., message_pinned: _Optional[_Union[MessagePinned, _Mapping]] = ..., message_unpinned: _Optional[_Union[MessageUnpinned, _Mapping]] = ..., mentioned: _Optional[_Union[Mentioned, _Mapping]] = ..., strikes_changed: _Optional[_Union[StrikesChanged, _Mapping]] = ..., action_accepted: _Optional[_Union[ActionAccepted, _Mapping]] = ..., error: _Optional[_Union[ErrorEvent, _Mapping]] = ..., poll_created: _Optional[_Union[PollCreated, _Mapping]] = ..., poll_closed: _Optional[_Union[PollClosed, _Mapping]] = ..., poll_reopened: _Optional[_Union[PollReopened, _Mapping]] = ..., poll_deleted: _Optional[_Union[PollDeleted, _Mapping]] = ..., poll_results_changed: _Optional[_Union[PollResults, _Mapping]] = ..., vote_cast: _Optional[_Union[VoteCast, _Mapping]] = ..., question_asked: _Optional[_Union[Question, _Mapping]] = ..., question_author: _Optional[_Union[QuestionAuthor, _Mapping]] = ..., question_upvotes_changed: _Optional[_Union[QuestionUpvotes, _Mapping]] = ..., question_answered: _Optional[_Union[QuestionChanged, _Mapping]] = ..., question_dismissed: _Optional[_Union[QuestionChanged, _Mapping]] = ..., question_withdrawn: _Optional[_Union[QuestionChanged, _Mapping]] = ..., question_pinned: _Optional[_Union[QuestionChanged, _Mapping]] = ..., question_unpinned: _Optional[_Union[QuestionChanged, _Mapping]] = ..., read_counts_changed: _Optional[_Union[ReadCounts, _Mapping]] = ...) -> None: ...

class SessionSnapshot(_message.Message):
    __slots__ = ("as_of_sequence", "online", "recent_messages", "raised_hands", "pinned_messages", "active_mutes", "my_mute", "policy", "polls", "questions", "my_last_read_sequence")
    AS_OF_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    RECENT_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RAISED_HANDS_FIELD_NUMBER: _ClassVar[int]
    PINNED_MESSAGES_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_MUTES_FIELD_NUMBER: _ClassVar[int]
    MY_MUTE_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    POLLS_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    MY_LAST_READ_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    as_of_sequence: int
    online: _containers.RepeatedCompositeFieldContainer[Participant]
    recent_messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    raised_hands: _containers.RepeatedCompositeFieldContainer[RaisedHand]
    pinned_messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    active_mutes: _containers.RepeatedCompositeFieldContainer[Mute]
    my_mute: Mute
    policy: ChatPolicy
    polls: _containers.RepeatedCompositeFieldContainer[Poll]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    my_last_read_sequence: int
    def __init__(self, as_of_sequence: _Optional[int] = ..., online: _Optional[_Iterable[_Union[Participant, _Mapping]]] = ..., recent_messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., raised_hands: _Optional[_Iterable[_Union[RaisedHand, _Mapping]]] = ..., pinned_messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., active_mutes: _Optional[_Iterable[_Union[Mute, _Mapping]]] = ..., my_mute: _Optional[_Union[Mute, _Mapping]] = ..., policy: _Optional[_Union[ChatPolicy, _Mapping]] = ..., polls: _Optional[_Iterable[_Union[Poll, _Mapping]]] = ..., questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., my_last_read_sequence: _Optional[int] = ...) -> None: ...

class StreamStarted(_message.Message):
    __slots__ = ("you", "recovered", "snapshot", "resume_from_sequence", "token_expire_time", "reactions")
    YOU_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    RESUME_FROM_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    you: Participant
    recovered: bool
    snapshot: SessionSnapshot
    resume_from_sequence: int
    token_expire_time: _timestamp_pb2.Timestamp
    reactions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, you: _Optional[_Union[Participant, _Mapping]] = ..., recovered: _Optional[bool] = ..., snapshot: _Optional[_Union[SessionSnapshot, _Mapping]] = ..., resume_from_sequence: _Optional[int] = ..., token_expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reactions: _Optional[_Iterable[str]] = ...) -> None: ...

class MessageDeleted(_message.Message):
    __slots__ = ("message_id", "deleted_by")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_BY_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    deleted_by: str
    def __init__(self, message_id: _Optional[str] = ..., deleted_by: _Optional[str] = ...) -> None: ...

class UserMuted(_message.Message):
    __slots__ = ("mute",)
    MUTE_FIELD_NUMBER: _ClassVar[int]
    mute: Mute
    def __init__(self, mute: _Optional[_Union[Mute, _Mapping]] = ...) -> None: ...

class UserUnmuted(_message.Message):
    __slots__ = ("user_id", "unmuted_by", "expired")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    UNMUTED_BY_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    unmuted_by: str
    expired: bool
    def __init__(self, user_id: _Optional[str] = ..., unmuted_by: _Optional[str] = ..., expired: _Optional[bool] = ...) -> None: ...

class ReactionChanged(_message.Message):
    __slots__ = ("message_id", "user_id", "emoji", "count")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    user_id: str
    emoji: str
    count: int
    def __init__(self, message_id: _Optional[str] = ..., user_id: _Optional[str] = ..., emoji: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class HandRaised(_message.Message):
    __slots__ = ("hand",)
    HAND_FIELD_NUMBER: _ClassVar[int]
    hand: RaisedHand
    def __init__(self, hand: _Optional[_Union[RaisedHand, _Mapping]] = ...) -> None: ...

class HandLowered(_message.Message):
    __slots__ = ("user_id", "lowered_by")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    LOWERED_BY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    lowered_by: str
    def __init__(self, user_id: _Optional[str] = ..., lowered_by: _Optional[str] = ...) -> None: ...

class HandAcknowledged(_message.Message):
    __slots__ = ("hand",)
    HAND_FIELD_NUMBER: _ClassVar[int]
    hand: RaisedHand
    def __init__(self, hand: _Optional[_Union[RaisedHand, _Mapping]] = ...) -> None: ...

class TypingChanged(_message.Message):
    __slots__ = ("user_id", "display_name", "recipient_id")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    recipient_id: str
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., recipient_id: _Optional[str] = ...) -> None: ...

class UserJoined(_message.Message):
    __slots__ = ("participant",)
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    participant: Participant
    def __init__(self, participant: _Optional[_Union[Participant, _Mapping]] = ...) -> None: ...

class UserLeft(_message.Message):
    __slots__ = ("participant",)
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    participant: Participant
    def __init__(self, participant: _Optional[_Union[Participant, _Mapping]] = ...) -> None: ...

class ChatPolicyChanged(_message.Message):
    __slots__ = ("policy", "changed_by")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    policy: ChatPolicy
    changed_by: str
    def __init__(self, policy: _Optional[_Union[ChatPolicy, _Mapping]] = ..., changed_by: _Optional[str] = ...) -> None: ...

class MessagePinned(_message.Message):
    __slots__ = ("message", "pinned_by")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PINNED_BY_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    pinned_by: str
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ..., pinned_by: _Optional[str] = ...) -> None: ...

class MessageUnpinned(_message.Message):
    __slots__ = ("message_id", "unpinned_by")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    UNPINNED_BY_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    unpinned_by: str
    def __init__(self, message_id: _Optional[str] = ..., unpinned_by: _Optional[str] = ...) -> None: ...

class Mentioned(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class StrikesChanged(_message.Message):
    __slots__ = ("user_id", "active_strikes")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_STRIKES_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    active_strikes: int
    def __init__(self, user_id: _Optional[str] = ..., active_strikes: _Optional[int] = ...) -> None: ...

class ActionAccepted(_message.Message):
    __slots__ = ("request_id", "sequence", "message_id", "poll_id", "option_ids", "question_id")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    sequence: int
    message_id: str
    poll_id: str
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    question_id: str
    def __init__(self, request_id: _Optional[str] = ..., sequence: _Optional[int] = ..., message_id: _Optional[str] = ..., poll_id: _Optional[str] = ..., option_ids: _Optional[_Iterable[str]] = ..., question_id: _Optional[str] = ...) -> None: ...

class ErrorEvent(_message.Message):
    __slots__ = ("request_id", "code", "message", "retry_delay")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_DELAY_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    code: int
    message: str
    retry_delay: _duration_pb2.Duration
    def __init__(self, request_id: _Optional[str] = ..., code: _Optional[int] = ..., message: _Optional[str] = ..., retry_delay: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class JoinSession(_message.Message):
    __slots__ = ("session_id", "last_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    last_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("request_id", "join", "send_message", "add_reaction", "remove_reaction", "raise_hand", "lower_hand", "acknowledge_hand", "set_typing", "delete_message", "mute_user", "unmute_user", "pin_message", "unpin_message", "refresh_token", "create_poll", "close_poll", "reopen_poll", "delete_poll", "cast_vote", "ask_question", "upvote_question", "retract_question_upvote", "answer_question", "dismiss_question", "pin_question", "unpin_question", "withdraw_question", "mark_read")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    JOIN_FIELD_NUMBER: _ClassVar[int]
    SEND_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ADD_REACTION_FIELD_NUMBER: _ClassVar[int]
    REMOVE_REACTION_FIELD_NUMBER: _ClassVar[int]
    RAISE_HAND_FIELD_NUMBER: _ClassVar[int]
    LOWER_HAND_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGE_HAND_FIELD_NUMBER: _ClassVar[int]
    SET_TYPING_FIELD_NUMBER: _ClassVar[int]
    DELETE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MUTE_USER_FIELD_NUMBER: _ClassVar[int]
    UNMUTE_USER_FIELD_NUMBER: _ClassVar[int]
    PIN_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UNPIN_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CREATE_POLL_FIELD_NUMBER: _ClassVar[int]
    CLOSE_POLL_FIELD_NUMBER: _ClassVar[int]
    REOPEN_POLL_FIELD_NUMBER: _ClassVar[int]
    DELETE_POLL_FIELD_NUMBER: _ClassVar[int]
    CAST_VOTE_FIELD_NUMBER: _ClassVar[int]
    ASK_QUESTION_FIELD_NUMBER: _ClassVar[int]
    UPVOTE_QUESTION_FIELD_NUMBER: _ClassVar[int]
    RETRACT_QUESTION_UPVOTE_FIELD_NUMBER: _ClassVar[int]
    ANSWER_QUESTION_FIELD_NUMBER: _ClassVar[int]
    DISMISS_QUESTION_FIELD_NUMBER: _ClassVar[int]
    PIN_QUESTION_FIELD_NUMBER: _ClassVar[int]
    UNPIN_QUESTION_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_QUESTION_FIELD_NUMBER: _ClassVar[int]
    MARK_READ_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    join: JoinSession
    send_message: SendMessageAction
    add_reaction: ReactionAction
    remove_reaction: ReactionAction
    raise_hand: HandAction
    lower_hand: HandAction
    acknowledge_hand: HandAction
    set_typing: TypingAction
    delete_message: MessageAction
    mute_user: MuteAction
    unmute_user: UnmuteAction
    pin_message: MessageAction
    unpin_message: MessageAction
    refresh_token: RefreshTokenAction
    create_poll: CreatePollAction
    close_poll: PollAction
    reopen_poll: PollAction
    delete_poll: PollAction
    cast_vote: CastVoteAction
    ask_question: AskQuestionAction
    upvote_question: QuestionAction
    retract_question_upvote: QuestionAction
    answer_question: AnswerQuestionAction
    dismiss_question: QuestionAction
    pin_question: QuestionAction
    unpin_question: QuestionAction
    withdraw_question: QuestionAction
    mark_read: MarkReadAction
    def __init__(self, request_id: _Optional[str] = ..., join: _Optional[_Union[JoinSession, _Mapping]] = ..., send_message: _Optional[_Union[SendMessageAction, _Mapping]] = ..., add_reaction: _Optional[_Union[ReactionAction, _Mapping]] = ..., remove_reaction: _Optional[_Union[ReactionAction, _Mapping]] = ..., raise_hand: _Optional[_Union[HandAction, _Mapping]] = ..., lower_hand: _Optional[_Union[HandAction, _Mapping]] = ..., acknowledge_hand: _Optional[_Union[HandAction, _Mapping]] = ..., set_typing: _Optional[_Union[TypingAction, _Mapping]] = ..., delete_message: _Optional[_Union[MessageAction, _Mapping]] = ..., mute_user: _Optional[_Union[MuteAction, _Mapping]] = ..., unmute_user: _Optional[_Union[UnmuteAction, _Mapping]] = ..., pin_message: _Optional[_Union[MessageAction, _Mapping]] = ..., unpin_message: _Optional[_Union[MessageAction, _Mapping]] = ..., refresh_token: _Optional[_Union[RefreshTokenAction, _Mapping]] = ..., create_poll: _Optional[_Union[CreatePollAction, _Mapping]] = ..., close_poll: _Optional[_Union[PollAction, _Mapping]] = ..., reopen_poll: _Optional[_Union[PollAction, _Mapping]] = ..., delete_poll: _Optional[_Union[PollAction, _Mapping]] = ..., cast_vote: _Optional[_Union[CastVoteAction, _Mapping]] = ..., ask_question: _Optional[_Union[AskQuestionAction, _Mapping]] = ..., upvote_question: _Optional[_Union[QuestionAction, _Mapping]] = ..., retract_question_upvote: _Optional[_Union[QuestionAction, _Mapping]] = ..., answer_question: _Optional[_Union[AnswerQuestionAction, _Mapping]] = ..., dismiss_question: _Optional[_Union[QuestionAction, _Mapping]] = ..., pin_question: _Optional[_Union[QuestionAction, _Mapping]] = ..., unpin_question: _Optional[_Union[QuestionAction, _Mapping]] = ..., withdraw_question: _Optional[_Union[QuestionAction, _Mapping]] = ..., mark_read: _Optional[_Union[MarkReadAction, _Mapping]] = ...) -> None: ...

class CreatePollAction(_message.Message):
    __slots__ = ("question", "options", "multiple_choice", "anonymous", "results_hidden_until_closed", "instructors_vote", "duration")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MULTIPLE_CHOICE_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_HIDDEN_UNTIL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTORS_VOTE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    question: str
    options: _containers.RepeatedScalarFieldContainer[str]
    multiple_choice: bool
    anonymous: bool
    results_hidden_until_closed: bool
    instructors_vote: bool
    duration: _duration_pb2.Duration
    def __init__(self, question: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., multiple_choice: _Optional[bool] = ..., anonymous: _Optional[bool] = ..., results_hidden_until_closed: _Optional[bool] = ..., instructors_vote: _Optional[bool] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PollAction(_message.Message):
    __slots__ = ("poll_id",)
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    def __init__(self, poll_id: _Optional[str] = ...) -> None: ...

class CastVoteAction(_message.Message):
    __slots__ = ("poll_id", "option_ids")
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, poll_id: _Optional[str] = ..., option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class MarkReadAction(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    def __init__(self, sequence: _Optional[int] = ...) -> None: ...

class AskQuestionAction(_message.Message):
    __slots__ = ("text", "anonymous")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    text: str
    anonymous: bool
    def __init__(self, text: _Optional[str] = ..., anonymous: _Optional[bool] = ...) -> None: ...

class QuestionAction(_message.Message):
    __slots__ = ("question_id",)
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    def __init__(self, question_id: _Optional[str] = ...) -> None: ...

class AnswerQuestionAction(_message.Message):
    __slots__ = ("question_id", "answer_text", "answered_live")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_TEXT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_LIVE_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    answer_text: str
    answered_live: bool
    def __init__(self, question_id: _Optional[str] = ..., answer_text: _Optional[str] = ..., answered_live: _Optional[bool] = ...) -> None: ...

class RefreshTokenAction(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class SendMessageAction(_message.Message):
    __slots__ = ("text", "recipient_id", "client_message_id", "reply_to_message_id")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    text: str
    recipient_id: str
    client_message_id: str
    reply_to_message_id: str
    def __init__(self, text: _Optional[str] = ..., recipient_id: _Optional[str] = ..., client_message_id: _Optional[str] = ..., reply_to_message_id: _Optional[str] = ...) -> None: ...

class ReactionAction(_message.Message):
    __slots__ = ("message_id", "emoji")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    emoji: str
    def __init__(self, message_id: _Optional[str] = ..., emoji: _Optional[str] = ...) -> None: ...

class HandAction(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class TypingAction(_message.Message):
    __slots__ = ("typing", "recipient_id")
    TYPING_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    typing: bool
    recipient_id: str
    def __init__(self, typing: _Optional[bool] = ..., recipient_id: _Optional[str] = ...) -> None: ...

class MessageAction(_message.Message):
    __slots__ = ("message_id",)
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    def __init__(self, message_id: _Optional[str] = ...) -> None: ...

class MuteAction(_message.Message):
    __slots__ = ("user_id", "duration_minutes", "reason")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    duration_minutes: int
    reason: str
    def __init__(self, user_id: _Optional[str] = ..., duration_minutes: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class UnmuteAction(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class StreamEventsResponse(_message.Message):
    __slots__ = ("events", "previous_sequence")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    previous_sequence: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., previous_sequence: _Optional[int] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("session_id", "last_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    last_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., last_sequence: _Optional[int] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("events", "previous_sequence")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    previous_sequence: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., previous_sequence: _Optional[int] = ...) -> None: ...

class SendMessageRequest(_message.Message):
    __slots__ = ("session_id", "text", "recipient_id", "client_message_id", "reply_to_message_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    REPLY_TO_MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    recipient_id: str
    client_message_id: str
    reply_to_message_id: str
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., recipient_id: _Optional[str] = ..., client_message_id: _Optional[str] = ..., reply_to_message_id: _Optional[str] = ...) -> None: ...

class SendMessageResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class ListMessagesRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token", "after_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    after_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class ListMessagesResponse(_message.Message):
    __slots__ = ("messages", "next_page_token")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    next_page_token: str
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchMessagesRequest(_message.Message):
    __slots__ = ("session_id", "query", "page_size", "page_token", "order")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    query: str
    page_size: int
    page_token: str
    order: SearchOrder
    def __init__(self, session_id: _Optional[str] = ..., query: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., order: _Optional[_Union[SearchOrder, str]] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("message", "snippet")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    snippet: str
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ..., snippet: _Optional[str] = ...) -> None: ...

class SearchMessagesResponse(_message.Message):
    __slots__ = ("hits", "next_page_token")
    HITS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[SearchHit]
    next_page_token: str
    def __init__(self, hits: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListParticipantsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token", "include_offline")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_OFFLINE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    include_offline: bool
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., include_offline: _Optional[bool] = ...) -> None: ...

class ListParticipantsResponse(_message.Message):
    __slots__ = ("participants", "next_page_token")
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    participants: _containers.RepeatedCompositeFieldContainer[Participant]
    next_page_token: str
    def __init__(self, participants: _Optional[_Iterable[_Union[Participant, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteMessageRequest(_message.Message):
    __slots__ = ("session_id", "message_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class DeleteMessageResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class MuteUserRequest(_message.Message):
    __slots__ = ("session_id", "user_id", "duration_minutes", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DURATION_MINUTES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    duration_minutes: int
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ..., duration_minutes: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class MuteUserResponse(_message.Message):
    __slots__ = ("mute",)
    MUTE_FIELD_NUMBER: _ClassVar[int]
    mute: Mute
    def __init__(self, mute: _Optional[_Union[Mute, _Mapping]] = ...) -> None: ...

class UnmuteUserRequest(_message.Message):
    __slots__ = ("session_id", "user_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class UnmuteUserResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMutesRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMutesResponse(_message.Message):
    __slots__ = ("mutes", "next_page_token")
    MUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    mutes: _containers.RepeatedCompositeFieldContainer[Mute]
    next_page_token: str
    def __init__(self, mutes: _Optional[_Iterable[_Union[Mute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetChatPolicyRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class GetChatPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: ChatPolicy
    def __init__(self, policy: _Optional[_Union[ChatPolicy, _Mapping]] = ...) -> None: ...

class UpdateChatPolicyRequest(_message.Message):
    __slots__ = ("session_id", "policy")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    policy: ChatPolicy
    def __init__(self, session_id: _Optional[str] = ..., policy: _Optional[_Union[ChatPolicy, _Mapping]] = ...) -> None: ...

class UpdateChatPolicyResponse(_message.Message):
    __slots__ = ("policy",)
    POLICY_FIELD_NUMBER: _ClassVar[int]
    policy: ChatPolicy
    def __init__(self, policy: _Optional[_Union[ChatPolicy, _Mapping]] = ...) -> None: ...

class ClearStrikesRequest(_message.Message):
    __slots__ = ("session_id", "user_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class ClearStrikesResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("id", "session_id", "actor_id", "target_user_id", "action", "reason", "message_id", "time")
    ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_USER_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    id: int
    session_id: str
    actor_id: str
    target_user_id: str
    action: str
    reason: str
    message_id: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[int] = ..., session_id: _Optional[str] = ..., actor_id: _Optional[str] = ..., target_user_id: _Optional[str] = ..., action: _Optional[str] = ..., reason: _Optional[str] = ..., message_id: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[AuditEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class AddReactionRequest(_message.Message):
    __slots__ = ("session_id", "message_id", "emoji")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    emoji: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ..., emoji: _Optional[str] = ...) -> None: ...

class AddReactionResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class RemoveReactionRequest(_message.Message):
    __slots__ = ("session_id", "message_id", "emoji")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    emoji: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ..., emoji: _Optional[str] = ...) -> None: ...

class RemoveReactionResponse(_message.Message):
    __slots__ = ("count",)
    COUNT_FIELD_NUMBER: _ClassVar[int]
    count: int
    def __init__(self, count: _Optional[int] = ...) -> None: ...

class ListReactionsRequest(_message.Message):
    __slots__ = ("session_id", "message_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class UserReaction(_message.Message):
    __slots__ = ("user_id", "display_name", "emoji", "time")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMOJI_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    display_name: str
    emoji: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, user_id: _Optional[str] = ..., display_name: _Optional[str] = ..., emoji: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListReactionsResponse(_message.Message):
    __slots__ = ("reactions", "next_page_token")
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    reactions: _containers.RepeatedCompositeFieldContainer[UserReaction]
    next_page_token: str
    def __init__(self, reactions: _Optional[_Iterable[_Union[UserReaction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RaiseHandRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class RaiseHandResponse(_message.Message):
    __slots__ = ("hand",)
    HAND_FIELD_NUMBER: _ClassVar[int]
    hand: RaisedHand
    def __init__(self, hand: _Optional[_Union[RaisedHand, _Mapping]] = ...) -> None: ...

class LowerHandRequest(_message.Message):
    __slots__ = ("session_id", "user_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class LowerHandResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AcknowledgeHandRequest(_message.Message):
    __slots__ = ("session_id", "user_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    user_id: str
    def __init__(self, session_id: _Optional[str] = ..., user_id: _Optional[str] = ...) -> None: ...

class AcknowledgeHandResponse(_message.Message):
    __slots__ = ("hand",)
    HAND_FIELD_NUMBER: _ClassVar[int]
    hand: RaisedHand
    def __init__(self, hand: _Optional[_Union[RaisedHand, _Mapping]] = ...) -> None: ...

class ListRaisedHandsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRaisedHandsResponse(_message.Message):
    __slots__ = ("hands", "next_page_token")
    HANDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    hands: _containers.RepeatedCompositeFieldContainer[RaisedHand]
    next_page_token: str
    def __init__(self, hands: _Optional[_Iterable[_Union[RaisedHand, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetTypingRequest(_message.Message):
    __slots__ = ("session_id", "typing", "recipient_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TYPING_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    typing: bool
    recipient_id: str
    def __init__(self, session_id: _Optional[str] = ..., typing: _Optional[bool] = ..., recipient_id: _Optional[str] = ...) -> None: ...

class SetTypingResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PinMessageRequest(_message.Message):
    __slots__ = ("session_id", "message_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class PinMessageResponse(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: ChatMessage
    def __init__(self, message: _Optional[_Union[ChatMessage, _Mapping]] = ...) -> None: ...

class UnpinMessageRequest(_message.Message):
    __slots__ = ("session_id", "message_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    message_id: str
    def __init__(self, session_id: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class UnpinMessageResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPinnedMessagesRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPinnedMessagesResponse(_message.Message):
    __slots__ = ("messages", "next_page_token")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    next_page_token: str
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PollOption(_message.Message):
    __slots__ = ("option_id", "text")
    OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    option_id: str
    text: str
    def __init__(self, option_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class PollOptionResult(_message.Message):
    __slots__ = ("option_id", "vote_count", "percent", "voter_ids")
    OPTION_ID_FIELD_NUMBER: _ClassVar[int]
    VOTE_COUNT_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    VOTER_IDS_FIELD_NUMBER: _ClassVar[int]
    option_id: str
    vote_count: int
    percent: float
    voter_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, option_id: _Optional[str] = ..., vote_count: _Optional[int] = ..., percent: _Optional[float] = ..., voter_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PollResults(_message.Message):
    __slots__ = ("poll_id", "voter_count", "options")
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    VOTER_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    voter_count: int
    options: _containers.RepeatedCompositeFieldContainer[PollOptionResult]
    def __init__(self, poll_id: _Optional[str] = ..., voter_count: _Optional[int] = ..., options: _Optional[_Iterable[_Union[PollOptionResult, _Mapping]]] = ...) -> None: ...

class Poll(_message.Message):
    __slots__ = ("poll_id", "question", "options", "multiple_choice", "anonymous", "results_hidden_until_closed", "instructors_vote", "state", "created_by", "create_time", "scheduled_close_time", "close_time", "closed_by", "results", "my_option_ids")
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MULTIPLE_CHOICE_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_HIDDEN_UNTIL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTORS_VOTE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    SCHEDULED_CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSED_BY_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    MY_OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    question: str
    options: _containers.RepeatedCompositeFieldContainer[PollOption]
    multiple_choice: bool
    anonymous: bool
    results_hidden_until_closed: bool
    instructors_vote: bool
    state: PollState
    created_by: str
    create_time: _timestamp_pb2.Timestamp
    scheduled_close_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    closed_by: str
    results: PollResults
    my_option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, poll_id: _Optional[str] = ..., question: _Optional[str] = ..., options: _Optional[_Iterable[_Union[PollOption, _Mapping]]] = ..., multiple_choice: _Optional[bool] = ..., anonymous: _Optional[bool] = ..., results_hidden_until_closed: _Optional[bool] = ..., instructors_vote: _Optional[bool] = ..., state: _Optional[_Union[PollState, str]] = ..., created_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., scheduled_close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_by: _Optional[str] = ..., results: _Optional[_Union[PollResults, _Mapping]] = ..., my_option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PollCreated(_message.Message):
    __slots__ = ("poll",)
    POLL_FIELD_NUMBER: _ClassVar[int]
    poll: Poll
    def __init__(self, poll: _Optional[_Union[Poll, _Mapping]] = ...) -> None: ...

class PollClosed(_message.Message):
    __slots__ = ("poll", "closed_by")
    POLL_FIELD_NUMBER: _ClassVar[int]
    CLOSED_BY_FIELD_NUMBER: _ClassVar[int]
    poll: Poll
    closed_by: str
    def __init__(self, poll: _Optional[_Union[Poll, _Mapping]] = ..., closed_by: _Optional[str] = ...) -> None: ...

class PollReopened(_message.Message):
    __slots__ = ("poll", "reopened_by")
    POLL_FIELD_NUMBER: _ClassVar[int]
    REOPENED_BY_FIELD_NUMBER: _ClassVar[int]
    poll: Poll
    reopened_by: str
    def __init__(self, poll: _Optional[_Union[Poll, _Mapping]] = ..., reopened_by: _Optional[str] = ...) -> None: ...

class PollDeleted(_message.Message):
    __slots__ = ("poll_id", "deleted_by")
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_BY_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    deleted_by: str
    def __init__(self, poll_id: _Optional[str] = ..., deleted_by: _Optional[str] = ...) -> None: ...

class VoteCast(_message.Message):
    __slots__ = ("poll_id", "user_id", "option_ids")
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    user_id: str
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, poll_id: _Optional[str] = ..., user_id: _Optional[str] = ..., option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CreatePollRequest(_message.Message):
    __slots__ = ("session_id", "question", "options", "multiple_choice", "anonymous", "results_hidden_until_closed", "instructors_vote", "duration")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    MULTIPLE_CHOICE_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_HIDDEN_UNTIL_CLOSED_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTORS_VOTE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question: str
    options: _containers.RepeatedScalarFieldContainer[str]
    multiple_choice: bool
    anonymous: bool
    results_hidden_until_closed: bool
    instructors_vote: bool
    duration: _duration_pb2.Duration
    def __init__(self, session_id: _Optional[str] = ..., question: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., multiple_choice: _Optional[bool] = ..., anonymous: _Optional[bool] = ..., results_hidden_until_closed: _Optional[bool] = ..., instructors_vote: _Optional[bool] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class CreatePollResponse(_message.Message):
    __slots__ = ("poll",)
    POLL_FIELD_NUMBER: _ClassVar[int]
    poll: Poll
    def __init__(self, poll: _Optional[_Union[Poll, _Mapping]] = ...) -> None: ...

class ClosePollRequest(_message.Message):
    __slots__ = ("session_id", "poll_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    poll_id: str
    def __init__(self, session_id: _Optional[str] = ..., poll_id: _Optional[str] = ...) -> None: ...

class ClosePollResponse(_message.Message):
    __slots__ = ("poll",)
    POLL_FIELD_NUMBER: _ClassVar[int]
    poll: Poll
    def __init__(self, poll: _Optional[_Union[Poll, _Mapping]] = ...) -> None: ...

class ReopenPollRequest(_message.Message):
    __slots__ = ("session_id", "poll_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    poll_id: str
    def __init__(self, session_id: _Optional[str] = ..., poll_id: _Optional[str] = ...) -> None: ...

class ReopenPollResponse(_message.Message):
    __slots__ = ("poll",)
    POLL_FIELD_NUMBER: _ClassVar[int]
    poll: Poll
    def __init__(self, poll: _Optional[_Union[Poll, _Mapping]] = ...) -> None: ...

class DeletePollRequest(_message.Message):
    __slots__ = ("session_id", "poll_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    poll_id: str
    def __init__(self, session_id: _Optional[str] = ..., poll_id: _Optional[str] = ...) -> None: ...

class DeletePollResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CastVoteRequest(_message.Message):
    __slots__ = ("session_id", "poll_id", "option_ids")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    poll_id: str
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., poll_id: _Optional[str] = ..., option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class CastVoteResponse(_message.Message):
    __slots__ = ("poll_id", "option_ids")
    POLL_ID_FIELD_NUMBER: _ClassVar[int]
    OPTION_IDS_FIELD_NUMBER: _ClassVar[int]
    poll_id: str
    option_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, poll_id: _Optional[str] = ..., option_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListPollsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPollsResponse(_message.Message):
    __slots__ = ("polls", "next_page_token")
    POLLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    polls: _containers.RepeatedCompositeFieldContainer[Poll]
    next_page_token: str
    def __init__(self, polls: _Optional[_Iterable[_Union[Poll, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ("question_id", "text", "asker_id", "asker_name", "anonymous", "state", "upvote_count", "upvoted_by_me", "pinned", "answer_text", "answered_live", "answered_by", "create_time", "close_time")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ASKER_ID_FIELD_NUMBER: _ClassVar[int]
    ASKER_NAME_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    UPVOTE_COUNT_FIELD_NUMBER: _ClassVar[int]
    UPVOTED_BY_ME_FIELD_NUMBER: _ClassVar[int]
    PINNED_FIELD_NUMBER: _ClassVar[int]
    ANSWER_TEXT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_LIVE_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_BY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    text: str
    asker_id: str
    asker_name: str
    anonymous: bool
    state: QuestionState
    upvote_count: int
    upvoted_by_me: bool
    pinned: bool
    answer_text: str
    answered_live: bool
    answered_by: str
    create_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    def __init__(self, question_id: _Optional[str] = ..., text: _Optional[str] = ..., asker_id: _Optional[str] = ..., asker_name: _Optional[str] = ..., anonymous: _Optional[bool] = ..., state: _Optional[_Union[QuestionState, str]] = ..., upvote_count: _Optional[int] = ..., upvoted_by_me: _Optional[bool] = ..., pinned: _Optional[bool] = ..., answer_text: _Optional[str] = ..., answered_live: _Optional[bool] = ..., answered_by: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class QuestionAuthor(_message.Message):
    __slots__ = ("question_id", "asker_id", "asker_name")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    ASKER_ID_FIELD_NUMBER: _ClassVar[int]
    ASKER_NAME_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    asker_id: str
    asker_name: str
    def __init__(self, question_id: _Optional[str] = ..., asker_id: _Optional[str] = ..., asker_name: _Optional[str] = ...) -> None: ...

class QuestionUpvotes(_message.Message):
    __slots__ = ("question_id", "upvote_count")
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    UPVOTE_COUNT_FIELD_NUMBER: _ClassVar[int]
    question_id: str
    upvote_count: int
    def __init__(self, question_id: _Optional[str] = ..., upvote_count: _Optional[int] = ...) -> None: ...

class QuestionChanged(_message.Message):
    __slots__ = ("question", "changed_by")
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    question: Question
    changed_by: str
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ..., changed_by: _Optional[str] = ...) -> None: ...

class AskQuestionRequest(_message.Message):
    __slots__ = ("session_id", "text", "anonymous")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    text: str
    anonymous: bool
    def __init__(self, session_id: _Optional[str] = ..., text: _Optional[str] = ..., anonymous: _Optional[bool] = ...) -> None: ...

class AskQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class UpvoteQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ...) -> None: ...

class UpvoteQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class RetractQuestionUpvoteRequest(_message.Message):
    __slots__ = ("session_id", "question_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ...) -> None: ...

class RetractQuestionUpvoteResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class AnswerQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question_id", "answer_text", "answered_live")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    ANSWER_TEXT_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_LIVE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    answer_text: str
    answered_live: bool
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ..., answer_text: _Optional[str] = ..., answered_live: _Optional[bool] = ...) -> None: ...

class AnswerQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class DismissQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ...) -> None: ...

class DismissQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class PinQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ...) -> None: ...

class PinQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class UnpinQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ...) -> None: ...

class UnpinQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class WithdrawQuestionRequest(_message.Message):
    __slots__ = ("session_id", "question_id")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    question_id: str
    def __init__(self, session_id: _Optional[str] = ..., question_id: _Optional[str] = ...) -> None: ...

class WithdrawQuestionResponse(_message.Message):
    __slots__ = ("question",)
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    question: Question
    def __init__(self, question: _Optional[_Union[Question, _Mapping]] = ...) -> None: ...

class ListQuestionsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token", "state")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    state: QuestionState
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[QuestionState, str]] = ...) -> None: ...

class ListQuestionsResponse(_message.Message):
    __slots__ = ("questions", "next_page_token")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    next_page_token: str
    def __init__(self, questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class MarkReadRequest(_message.Message):
    __slots__ = ("session_id", "sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    sequence: int
    def __init__(self, session_id: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class MarkReadResponse(_message.Message):
    __slots__ = ("last_read_sequence",)
    LAST_READ_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    last_read_sequence: int
    def __init__(self, last_read_sequence: _Optional[int] = ...) -> None: ...

class MessageReadCount(_message.Message):
    __slots__ = ("message_id", "sequence", "audience_count", "read_count")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_COUNT_FIELD_NUMBER: _ClassVar[int]
    READ_COUNT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    sequence: int
    audience_count: int
    read_count: int
    def __init__(self, message_id: _Optional[str] = ..., sequence: _Optional[int] = ..., audience_count: _Optional[int] = ..., read_count: _Optional[int] = ...) -> None: ...

class ReadCounts(_message.Message):
    __slots__ = ("counts",)
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    counts: _containers.RepeatedCompositeFieldContainer[MessageReadCount]
    def __init__(self, counts: _Optional[_Iterable[_Union[MessageReadCount, _Mapping]]] = ...) -> None: ...

class ReadReceipt(_message.Message):
    __slots__ = ("count", "unread")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    count: MessageReadCount
    unread: _containers.RepeatedCompositeFieldContainer[Participant]
    def __init__(self, count: _Optional[_Union[MessageReadCount, _Mapping]] = ..., unread: _Optional[_Iterable[_Union[Participant, _Mapping]]] = ...) -> None: ...

class ListReadReceiptsRequest(_message.Message):
    __slots__ = ("session_id", "page_size", "page_token")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    page_token: str
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListReadReceiptsResponse(_message.Message):
    __slots__ = ("receipts", "next_page_token")
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    receipts: _containers.RepeatedCompositeFieldContainer[ReadReceipt]
    next_page_token: str
    def __init__(self, receipts: _Optional[_Iterable[_Union[ReadReceipt, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportChatRequest(_message.Message):
    __slots__ = ("session_id", "format", "include_private", "include_deleted_text")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PRIVATE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_TEXT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    format: ExportFormat
    include_private: bool
    include_deleted_text: bool
    def __init__(self, session_id: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., include_private: _Optional[bool] = ..., include_deleted_text: _Optional[bool] = ...) -> None: ...

class ExportChatResponse(_message.Message):
    __slots__ = ("data", "content_type")
    DATA_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    content_type: str
    def __init__(self, data: _Optional[bytes] = ..., content_type: _Optional[str] = ...) -> None: ...
