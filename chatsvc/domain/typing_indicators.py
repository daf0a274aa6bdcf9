"""Typing indicators: who is typing where, their expiry timers, and the events that announce them."""

from __future__ import annotations

import asyncio
import logging
import uuid

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import Principal
from chatsvc.clock import Clock
from chatsvc.config import Settings
from chatsvc.domain import messages, validation
from chatsvc.domain.events import notice
from chatsvc.domain.visibility import only
from chatsvc.errors import invalid
from chatsvc.fanout.channel import Fanout
from chatsvc.fanout.hub import EVERYONE, StoredEvent
from chatsvc.fanout.typing_registry import TypingKey, TypingRegistry
from chatsvc.storage.database import Database

log = logging.getLogger(__name__)


class TypingIndicators:
    """Who is typing where (never persisted), shared by all processes through the registry.

    A start announces `typing_started` once; further starts only refresh the
    expiry. A stop, a sent message, leaving the session or the expiry
    (`typing_timeout_seconds` after the last start) announce `typing_stopped`.
    Public typing goes to everyone; private typing to the other party only.
    """

    def __init__(self, *, database: Database, fanout: Fanout, clock: Clock, settings: Settings, registry: TypingRegistry) -> None:
        self.database = database
        self.fanout = fanout
        self.clock = clock
        self.settings = settings
        self.registry = registry
        # This process's expiry timers, by conversation: (token of the start, timer).
        self._timers: dict[TypingKey, tuple[str, asyncio.TimerHandle]] = {}
        self._tasks: set[asyncio.Task] = set()

    async def set_typing(self, principal: Principal, session_id: str, typing: bool, recipient_id: str = "") -> None:
        validation.enter_session(principal, session_id)
        if recipient_id:
            validation.user_id(recipient_id, "recipient_id")
            if recipient_id == principal.user_id:
                raise invalid("you cannot type a private message to yourself")
            if typing:
                await self.database.read(
                    lambda db: messages.check_private_recipient(db, session_id, principal, recipient_id)
                )
        if typing:
            await self.start(principal, session_id, recipient_id)
        else:
            await self.stop(principal, session_id, recipient_id)

    async def start(self, principal: Principal, session_id: str, recipient_id: str) -> None:
        key = (session_id, principal.user_id, recipient_id)
        token = uuid.uuid4().hex
        now_ms = self._now_ms()
        deadline_ms = now_ms + int(self.settings.typing_timeout_seconds * 1000)
        self._cancel_timer(key)
        timer = asyncio.get_running_loop().call_later(
            self.settings.typing_timeout_seconds, self._expire, key, token, principal.display_name
        )
        self._timers[key] = (token, timer)
        if await self.registry.begin(key, token, now_ms, deadline_ms):
            await self._announce(key, principal.display_name, started=True)

    async def stop(self, principal: Principal, session_id: str, recipient_id: str) -> None:
        key = (session_id, principal.user_id, recipient_id)
        self._cancel_timer(key)
        if await self.registry.end(key, self._now_ms()):
            await self._announce(key, principal.display_name, started=False)

    async def message_sent(self, principal: Principal, session_id: str, recipient_id: str) -> None:
        """Sending a message ends typing in that conversation."""
        await self.stop(principal, session_id, recipient_id)

    async def left(self, principal: Principal, session_id: str) -> None:
        """The user's last stream closed: whatever they were typing is over."""
        for recipient_id in await self.registry.recipients(session_id, principal.user_id):
            await self.stop(principal, session_id, recipient_id)

    def close(self) -> None:
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _now_ms(self) -> int:
        return int(self.clock.now().timestamp() * 1000)

    def _cancel_timer(self, key: TypingKey) -> None:
        entry = self._timers.pop(key, None)
        if entry is not None:
            entry[1].cancel()

    def _expire(self, key: TypingKey, token: str, display_name: str) -> None:
        if self._timers.get(key, ("", None))[0] == token:
            del self._timers[key]
        task = asyncio.get_running_loop().create_task(self._expire_now(key, token, display_name))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _expire_now(self, key: TypingKey, token: str, display_name: str) -> None:
        # Announced only if no newer start (here or in another process) refreshed it.
        if await self.registry.expire(key, token):
            await self._announce(key, display_name, started=False)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("typing expiry failed", exc_info=task.exception())

    async def _announce(self, key: TypingKey, display_name: str, *, started: bool) -> None:
        session_id, user_id, recipient_id = key
        changed = pb.TypingChanged(user_id=user_id, display_name=display_name, recipient_id=recipient_id)
        kind = {"typing_started": changed} if started else {"typing_stopped": changed}
        payload = notice(session_id, self.clock.now(), **kind)
        audience = only(recipient_id) if recipient_id else EVERYONE
        await self.fanout.publish(StoredEvent(session_id, 0, audience, payload))
