"""`ChatService`, the one object the transport talks to: it composes the features
(`sending`, `live` streams, `history`, `reactions`, `hands`, `pins`, `polls`, `questions`, `search`, `reads`,
`typing`, `moderation`, `exports`), each given its collaborators, and holds no rules itself.

Every caller (the bidi stream, Subscribe, the unary RPCs) goes through the same
methods; they take and return protobuf messages but know nothing of gRPC.
"""

from __future__ import annotations

import functools

from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import messages, validation
from chatsvc.domain.events import EventWriter
from chatsvc.domain.export import ChatExport
from chatsvc.domain.hands import Hands
from chatsvc.domain.history import History
from chatsvc.domain.joins import Joins
from chatsvc.domain.messages import MessageViews
from chatsvc.domain.moderation import Moderation
from chatsvc.domain.pins import Pins
from chatsvc.domain.polls import Polls
from chatsvc.domain.questions import Questions
from chatsvc.domain.reactions import Reactions
from chatsvc.domain.read_receipts import ReadReceipts
from chatsvc.domain.search import Search
from chatsvc.domain.sending import Sending
from chatsvc.domain.stream_caps import StreamCaps
from chatsvc.domain.stream_tokens import StreamTokens
from chatsvc.domain.streams import LiveStreams
from chatsvc.domain.typing_indicators import TypingIndicators
from chatsvc.fanout.channel import Fanout
from chatsvc.fanout.presence import LocalPresence, Presence
from chatsvc.fanout.typing_registry import LocalTypingRegistry, TypingRegistry
from chatsvc.ratelimit import RateLimiter
from chatsvc.storage.database import Database


class ChatService:
    def __init__(
        self,
        database: Database,
        fanout: Fanout,
        clock: Clock,
        settings: Settings,
        limiter: RateLimiter,
        presence: Presence | None = None,
        typing_registry: TypingRegistry | None = None,
        stream_tokens: StreamTokens | None = None,
    ) -> None:
        self.database = database
        self.fanout = fanout
        self.clock = clock
        self.settings = settings
        validation.sign_page_tokens_with(settings.jwt_secret)
        self.presence = presence or LocalPresence()
        self.typing_registry = typing_registry or LocalTypingRegistry()
        # None: streams are not held to their token's expiry (only for callers without tokens).
        self.stream_tokens = stream_tokens
        self.events = EventWriter(database, fanout, clock)
        self.moderation = Moderation(database, self.events, clock, settings, limiter)
        self.message_views: MessageViews = functools.partial(messages.message_views, reaction_order=settings.reactions)
        self.typing = TypingIndicators(database=database, fanout=fanout, clock=clock, settings=settings, registry=self.typing_registry)
        self.sending = Sending(events=self.events, moderation=self.moderation, typing=self.typing, settings=settings)
        self.reactions = Reactions(database=database, events=self.events, moderation=self.moderation, settings=settings)
        self.hands = Hands(database=database, events=self.events)
        self.pins = Pins(database=database, events=self.events, message_views=self.message_views)
        self.polls = Polls(database=database, events=self.events, moderation=self.moderation, clock=clock, settings=settings)
        self.questions = Questions(database=database, events=self.events, moderation=self.moderation, clock=clock, settings=settings)
        self.exports = ChatExport(database=database, clock=clock, settings=settings)
        self.reads = ReadReceipts(database=database, events=self.events, clock=clock, settings=settings)
        self.search = Search(database=database, message_views=self.message_views)
        self.history = History(database=database, presence=self.presence, message_views=self.message_views)
        self.live = LiveStreams(  # join, resume, snapshot, leave
            database=database,
            fanout=fanout,
            clock=clock,
            settings=settings,
            events=self.events,
            presence=self.presence,
            caps=StreamCaps(per_session=settings.max_streams_per_session, per_user=settings.max_streams_per_user),
            stream_tokens=stream_tokens,
            typing=self.typing,
            joins=Joins(
                database=database,
                events=self.events,
                presence=self.presence,
                clock=clock,
                settings=settings,
                message_views=self.message_views,
            ),
            carry_presence=not settings.redis_url,
        )
