"""A small asyncio client for backend services.

    async with ChatClient("127.0.0.1:50051", token) as chat:
        await chat.send_message("physics-101", "hello")
        async for event in chat.events("physics-101"):
            ...

`events()` reconnects with exponential backoff when the connection drops or
the server ends the stream (shutdown, slow consumer), and resumes from the
last sequence it yielded: its user sees every event once, in order. If the
server cannot fill the gap, the next `stream_started` says `recovered=False`
and carries a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Sequence

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

log = logging.getLogger(__name__)

# Statuses after which trying again cannot help: the caller must act.
FINAL_CODES = frozenset(
    {
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)


class ChatClient:
    def __init__(
        self,
        target: str | Sequence[str],
        token: str,
        *,
        channel_options: list[tuple[str, object]] | None = None,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        # Several targets (processes behind no load balancer): after a failure
        # the client moves on to the next one.
        self.targets = [target] if isinstance(target, str) else list(target)
        self.token = token
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.last_sequence = 0
        self.reconnects = 0
        self._options = channel_options or []
        self._current = 0
        self._connect()

    @property
    def target(self) -> str:
        return self.targets[self._current]

    def _connect(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.target, options=self._options)
        self.stub = chat_pb2_grpc.SessionChatStub(self._channel)

    async def _next_target(self) -> None:
        if len(self.targets) > 1:
            await self._channel.close()
            self._current = (self._current + 1) % len(self.targets)
            self._connect()

    async def __aenter__(self) -> "ChatClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    async def send_message(
        self, session_id: str, text: str, *, recipient_id: str = "", client_message_id: str | None = None, attempts: int = 5
    ) -> pb.ChatMessage:
        """Send, retrying on UNAVAILABLE with the same client message id (so never twice)."""
        request = pb.SendMessageRequest(
            session_id=session_id,
            text=text,
            recipient_id=recipient_id,
            client_message_id=client_message_id or uuid.uuid4().hex,
        )
        for attempt in range(attempts):
            try:
                return (await self.stub.SendMessage(request, metadata=self.metadata)).message
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts - 1:
                    raise
                await asyncio.sleep(self._backoff(attempt))
                await self._next_target()
        raise AssertionError("unreachable")

    async def events(self, session_id: str, last_sequence: int = 0) -> AsyncIterator[pb.Event]:
        """Every event of the session from `last_sequence` on, across reconnections."""
        self.last_sequence = last_sequence
        failures = 0
        while True:
            call = self.stub.Subscribe(
                pb.SubscribeRequest(session_id=session_id, last_sequence=self.last_sequence), metadata=self.metadata
            )
            try:
                async for response in call:
                    failures = 0
                    for event in response.events:
                        if event.sequence and event.sequence <= self.last_sequence:
                            continue  # already yielded before a reconnection
                        if event.WhichOneof("kind") == "stream_started" and not event.stream_started.recovered:
                            self.last_sequence = event.stream_started.snapshot.as_of_sequence
                        if event.sequence:
                            self.last_sequence = event.sequence
                        yield event
                error_code, details = None, "the server closed the stream"
            except grpc.aio.AioRpcError as error:
                if error.code() in FINAL_CODES:
                    raise
                error_code, details = error.code(), error.details()
            finally:
                call.cancel()
            delay = self._backoff(failures)
            failures += 1
            self.reconnects += 1
            log.info("stream of %s ended (%s: %s); resuming from %d in %.2f s", session_id, error_code, details, self.last_sequence, delay)
            await asyncio.sleep(delay)
            if error_code is not None and error_code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                await self._next_target()

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with jitter, so that many clients do not return at once."""
        return min(self.max_backoff, self.initial_backoff * 2**failures) * random.uniform(0.5, 1.0)
