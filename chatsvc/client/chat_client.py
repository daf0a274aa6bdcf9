"""`ChatClient`: one connection (or a list of targets) to SessionChat, with events that survive reconnections."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from chatsvc.client.codes import FINAL_CODES, RESEND_CODES
from chatsvc.client.position import StreamPosition
from chatsvc.client.sender import MessageSender
from chatsvc.client.tls import TlsOptions
from chatsvc.client.tokens import TokenProvider, Tokens

__all__ = ["FINAL_CODES", "ChatClient"]

log = logging.getLogger(__name__)


class ChatClient:
    def __init__(
        self,
        target: str | Sequence[str],
        token: str | TokenProvider,
        *,
        channel_options: Sequence[tuple[str, object]] | None = None,
        interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
        tls: bool | TlsOptions = False,
    ) -> None:
        """`tls=True` speaks TLS trusting the system's roots; `TlsOptions` names a CA, a client
        certificate for mTLS, or the name to check; by default the channel is plaintext."""
        # Several targets (processes behind no load balancer): after a failure
        # the client moves on to the next one.
        self.targets = [target] if isinstance(target, str) else list(target)
        self.tokens = Tokens(token)
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.last_sequence = 0
        self.reconnects = 0
        self.losses = 0  # streams found to have lost events on the way (and resumed)
        self._options = list(channel_options or [])
        self._credentials: grpc.ChannelCredentials | None = None
        if tls:
            options = TlsOptions() if tls is True else tls
            self._credentials = options.credentials()
            self._options += options.channel_options()
        self._interceptors = list(interceptors or [])
        self._current = 0
        self._connect()

    @property
    def target(self) -> str:
        return self.targets[self._current]

    def _connect(self) -> None:
        if self._credentials is not None:
            self._channel = grpc.aio.secure_channel(self.target, self._credentials, options=self._options, interceptors=self._interceptors)
        else:
            self._channel = grpc.aio.insecure_channel(self.target, options=self._options, interceptors=self._interceptors)
        self.stub = chat_pb2_grpc.SessionChatStub(self._channel)

    async def next_target(self) -> None:
        if len(self.targets) > 1:
            await self._channel.close()
            self._current = (self._current + 1) % len(self.targets)
            self._connect()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        """The metadata with the current token (`fresh_metadata()` renews it first when due)."""
        return (("authorization", f"Bearer {self.token}"),)

    async def fresh_metadata(self) -> tuple[tuple[str, str], ...]:
        await self.fresh_token()
        return self.metadata

    @property
    def token(self) -> str:
        return self.tokens.token

    @property
    def renewals(self) -> int:
        """Tokens fetched from the provider after the first."""
        return self.tokens.renewals

    async def fresh_token(self, *, force: bool = False) -> str:
        """The token to use now, renewed first when due (see `Tokens.fresh`)."""
        return await self.tokens.fresh(force=force)

    @property
    def renew_at(self) -> float | None:
        return self.tokens.renew_at

    async def send_message(
        self, session_id: str, text: str, *, recipient_id: str = "", client_message_id: str | None = None, attempts: int = 5
    ) -> pb.ChatMessage:
        """Send, retrying on UNAVAILABLE or a server's CANCELLED with the same client message id (so never twice)."""
        request = pb.SendMessageRequest(
            session_id=session_id,
            text=text,
            recipient_id=recipient_id,
            client_message_id=client_message_id or uuid.uuid4().hex,
        )
        for attempt in range(attempts):
            try:
                return (await self.stub.SendMessage(request, metadata=await self.fresh_metadata())).message
            except grpc.aio.AioRpcError as error:
                if error.code() not in RESEND_CODES or attempt == attempts - 1:
                    raise
                await asyncio.sleep(self.backoff(attempt))
                await self.next_target()
        raise AssertionError("unreachable")

    async def events(self, session_id: str, last_sequence: int = 0) -> AsyncGenerator[pb.Event, None]:
        """Every event of the session from `last_sequence` on, across reconnections."""
        self.last_sequence = last_sequence
        failures = 0
        lost_last_time = False  # the previous stream ended in a loss, with nothing intact since
        while True:
            call = self.stub.Subscribe(
                pb.SubscribeRequest(session_id=session_id, last_sequence=self.last_sequence), metadata=await self.fresh_metadata()
            )
            position = StreamPosition()
            lost = False
            renew_at = self.renew_at
            details: str | None
            try:
                # Subscribe has no refresh action: before the token expires, resume on a new call with a fresh one.
                async for response in _until(call, renew_at):
                    failures = 0
                    if not position.intact(response):
                        lost = True
                        break
                    if position.sequence is not None:
                        lost_last_time = False
                    for event in response.events:
                        position.advance(event)
                        if event.sequence and event.sequence <= self.last_sequence:
                            continue  # already yielded before a reconnection
                        if event.WhichOneof("kind") == "stream_started" and not event.stream_started.recovered:
                            self.last_sequence = event.stream_started.snapshot.as_of_sequence
                        if event.sequence:
                            self.last_sequence = event.sequence
                        yield event
                if renew_at is not None and time.time() >= renew_at:
                    continue  # finally: this call ends; the next opens with a fresh token at once
                error_code, details = None, "the server closed the stream"
            except grpc.aio.AioRpcError as error:
                if self.tokens.renewable(error):  # dropped all the same (the renewal came too late): resume at once
                    self.reconnects += 1
                    await self.fresh_token(force=True)
                    continue
                if error.code() in FINAL_CODES:
                    raise
                error_code, details = error.code(), error.details()
            finally:
                call.cancel()
            if lost:
                self.losses += 1
                log.warning(
                    "events of %s were lost on the way (the server had sent through %d, this client holds %d); resuming from %d",
                    session_id, response.previous_sequence, position.sequence, self.last_sequence,
                )
                if not lost_last_time:
                    lost_last_time = True
                    continue  # at once, from the same server; losing again right away backs off below
            delay = self.backoff(failures)
            failures += 1
            self.reconnects += 1
            log.info("stream of %s ended (%s: %s); resuming from %d in %.2f s", session_id, error_code, details, self.last_sequence, delay)
            await asyncio.sleep(delay)
            if error_code is not None and error_code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                await self.next_target()

    def sender(self, session_id: str) -> MessageSender:
        """A pipelined sender of messages into the session (use `async with`)."""
        return MessageSender(self, session_id)

    def backoff(self, failures: int) -> float:
        """Exponential backoff with jitter, so that many clients do not return at once."""
        return min(self.max_backoff, self.initial_backoff * 2**failures) * random.uniform(0.5, 1.0)


async def _until(call, deadline: float | None) -> AsyncIterator:
    """The call's responses until it ends or `deadline` (time.time()) passes."""
    while True:
        timeout = None if deadline is None else deadline - time.time()
        if timeout is not None and timeout <= 0:
            return
        try:
            response = await asyncio.wait_for(call.read(), timeout)
        except TimeoutError:
            return
        if response is grpc.aio.EOF:
            return
        yield response
