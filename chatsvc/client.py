"""A small asyncio client for backend services.

    async with ChatClient("127.0.0.1:50051", token) as chat:
        await chat.send_message("physics-101", "hello")
        async for event in chat.events("physics-101"):
            ...

`events()` reconnects with exponential backoff when the connection drops or
the server ends the stream (shutdown, slow consumer), and resumes from the
last sequence it yielded: its user sees every event once, in order. If the
server cannot fill the gap, the next `stream_started` says `recovered=False`
and carries a fresh snapshot. Each response says which sequence the server
sent before it (`previous_sequence`); when that is not the last one the
client holds, events were lost on the way and it resumes at once.

Tokens expire, and a live stream ends when its token does. Give the client a
token provider (a function, plain or async, that returns a fresh token) instead
of a token, and it asks for a new one halfway through each token's life: the
sender hands it to its stream (`refresh_token`), `events()` moves to a new
Subscribe with it (resuming from its last sequence, so nothing is missed), and
unary calls use it. A 3-hour class with 15-minute tokens never drops:

    async with ChatClient("127.0.0.1:50051", fetch_token) as chat:
        ...

A service that posts a lot uses a sender: it sends on one `StreamEvents`
stream, many messages in flight at once (a unary `SendMessage` is accepted
only ~30 times a second while a server writes to a thousand streams):

    async with chat.sender("physics-101") as sender:
        sequence, message_id = await sender.send("hello")
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import grpc
import jwt
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


# A function returning a fresh token (or an awaitable of one).
TokenProvider = Callable[[], "str | Awaitable[str]"]
# A token is renewed once this fraction of its remaining life has passed.
RENEW_FRACTION = 0.5
# ...but asked at most this often (a provider may hand out the same token until it is nearly expired).
MIN_RENEW_SECONDS = 0.2


def token_expiry(token: str) -> float | None:
    """The token's `exp` (epoch seconds), read without checking the signature (the server
    checks it); None when the token has none that can be read."""
    try:
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(exp) if isinstance(exp, int | float) else None


class ChatClient:
    def __init__(
        self,
        target: str | Sequence[str],
        token: str | TokenProvider,
        *,
        channel_options: list[tuple[str, object]] | None = None,
        interceptors: Sequence[grpc.aio.ClientInterceptor] | None = None,
        initial_backoff: float = 0.1,
        max_backoff: float = 5.0,
    ) -> None:
        # Several targets (processes behind no load balancer): after a failure
        # the client moves on to the next one.
        self.targets = [target] if isinstance(target, str) else list(target)
        # With a provider, `token` is the latest one it gave, renewed at `_renew_at` (time.time()).
        self._provider: TokenProvider | None = None if isinstance(token, str) else token
        self.token = token if isinstance(token, str) else ""
        self._renew_at: float | None = None
        self.renewals = 0  # tokens fetched from the provider after the first
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.last_sequence = 0
        self.reconnects = 0
        self.losses = 0  # streams found to have lost events on the way (and resumed)
        self._options = channel_options or []
        self._interceptors = list(interceptors or [])
        self._current = 0
        self._connect()

    @property
    def target(self) -> str:
        return self.targets[self._current]

    def _connect(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.target, options=self._options, interceptors=self._interceptors)
        self.stub = chat_pb2_grpc.SessionChatStub(self._channel)

    async def _next_target(self) -> None:
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

    async def fresh_token(self, *, force: bool = False) -> str:
        """The token to use now: a new one from the provider when the current one is
        halfway through its life (or `force`); the same token without a provider."""
        if self._provider is None:
            return self.token
        if force or not self.token or (self._renew_at is not None and time.time() >= self._renew_at):
            token = self._provider()
            if inspect.isawaitable(token):
                token = await token
            if self.token:
                self.renewals += 1
            self.token = token
            expires = token_expiry(token)
            if expires is None:
                self._renew_at = None
            else:
                self._renew_at = time.time() + max((expires - time.time()) * RENEW_FRACTION, MIN_RENEW_SECONDS)
        return self.token

    @property
    def renew_at(self) -> float | None:
        """When (time.time()) the current token is due for renewal; None without a provider."""
        return self._renew_at if self._provider is not None else None

    def _renewable(self, error: grpc.aio.AioRpcError) -> bool:
        """A stream ended because its token expired, and the provider can give a fresh one."""
        return self._provider is not None and error.code() == grpc.StatusCode.UNAUTHENTICATED and "expired" in (error.details() or "")

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
                return (await self.stub.SendMessage(request, metadata=await self.fresh_metadata())).message
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
        lost_last_time = False  # the previous stream ended in a loss, with nothing intact since
        while True:
            call = self.stub.Subscribe(
                pb.SubscribeRequest(session_id=session_id, last_sequence=self.last_sequence), metadata=await self.fresh_metadata()
            )
            position = StreamPosition()
            lost = False
            renew_at = self.renew_at
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
                if self._renewable(error):  # dropped all the same (the renewal came too late): resume at once
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
            delay = self._backoff(failures)
            failures += 1
            self.reconnects += 1
            log.info("stream of %s ended (%s: %s); resuming from %d in %.2f s", session_id, error_code, details, self.last_sequence, delay)
            await asyncio.sleep(delay)
            if error_code is not None and error_code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                await self._next_target()

    def sender(self, session_id: str) -> MessageSender:
        """A pipelined sender of messages into the session (use `async with`)."""
        return MessageSender(self, session_id)

    def _backoff(self, failures: int) -> float:
        """Exponential backoff with jitter, so that many clients do not return at once."""
        return min(self.max_backoff, self.initial_backoff * 2**failures) * random.uniform(0.5, 1.0)


class StreamPosition:
    """Where one live stream stands, to notice events lost between the server and this client.

    A viewer legitimately skips sequences (others' private messages), so a
    jump proves nothing; instead each response carries `previous_sequence`,
    the last sequence the server sent before it, and the stream start counts
    as sent through its `resume_from_sequence`.
    """

    def __init__(self) -> None:
        self.sequence: int | None = None  # unknown until stream_started

    def intact(self, response) -> bool:
        """False when the server sent sequenced events before `response` that this client never got."""
        if response.events and response.events[0].WhichOneof("kind") == "stream_started":
            return True
        previous = response.previous_sequence
        # 0: nothing sent yet, or a server too old to say.
        return self.sequence is None or not previous or previous == self.sequence

    def advance(self, event: pb.Event) -> None:
        if event.WhichOneof("kind") == "stream_started":
            self.sequence = event.stream_started.resume_from_sequence
        elif event.sequence:
            self.sequence = event.sequence


class SendRefused(Exception):
    """The server refused a message sent on a stream (the stream itself goes on)."""

    def __init__(self, code: grpc.StatusCode, message: str, retry_after: float | None) -> None:
        super().__init__(f"{code.name}: {message}")
        self._code = code
        self._message = message
        self.retry_after = retry_after  # seconds, when the server says when to try again

    # The same accessors as grpc.aio.AioRpcError, so callers handle both alike.
    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._message


STATUS_BY_NUMBER = {status.value[0]: status for status in grpc.StatusCode}


class MessageSender:
    """Sends messages as `send_message` actions on one `StreamEvents` stream of the session.

    Many sends may be in flight; they are stored in the order they were
    made. When the stream breaks, the sender reconnects (with backoff, moving
    on to the client's next target) and sends again whatever was not
    answered, with the same client message ids: nothing is stored twice (a
    message stored before the break is answered with sequence 0).
    """

    def __init__(self, client: ChatClient, session_id: str) -> None:
        self.client = client
        self.session_id = session_id
        self.reconnects = 0
        self._count = 0
        # Unanswered requests, in the order sent: resent in that order after a reconnection.
        self._unanswered: dict[str, tuple[pb.StreamEventsRequest, asyncio.Future]] = {}
        self._outgoing: asyncio.Queue | None = None
        self._runner: asyncio.Task | None = None
        self._refused_join: SendRefused | None = None  # the session cannot be joined: nothing can be sent

    async def __aenter__(self) -> MessageSender:
        self._runner = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def send(self, text: str, *, recipient_id: str = "", client_message_id: str | None = None) -> tuple[int, str]:
        """Send a message; (its event's sequence, its message id) once stored. Raises SendRefused."""
        if self._refused_join is not None:
            raise self._refused_join
        if self._runner is None or self._runner.done():
            raise RuntimeError("the sender is not open (use `async with client.sender(session_id)`)")
        self._count += 1
        action = pb.SendMessageAction(text=text, recipient_id=recipient_id, client_message_id=client_message_id or uuid.uuid4().hex)
        request = pb.StreamEventsRequest(request_id=f"s{self._count}", send_message=action)
        answer = asyncio.get_running_loop().create_future()
        self._unanswered[request.request_id] = (request, answer)
        if self._outgoing is not None:
            self._outgoing.put_nowait(request)
        return await answer

    async def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        for _, answer in self._unanswered.values():
            if not answer.done():
                answer.set_exception(RuntimeError("the sender was closed before the server answered"))
        self._unanswered.clear()

    async def _run(self) -> None:
        failures = 0
        while True:
            outgoing: asyncio.Queue = asyncio.Queue()
            outgoing.put_nowait(pb.StreamEventsRequest(request_id="join", join=pb.JoinSession(session_id=self.session_id)))
            for request, _ in self._unanswered.values():
                outgoing.put_nowait(request)
            self._outgoing = outgoing
            call = self.client.stub.StreamEvents(_drain(outgoing), metadata=await self.client.fresh_metadata())
            renewer = asyncio.create_task(self._renew(outgoing, self.client.token))
            try:
                async for response in call:
                    failures = 0
                    for event in response.events:
                        self._answer(event)
                    if self._refused_join is not None:
                        self._fail_all(self._refused_join)
                        return
                code = None
            except grpc.aio.AioRpcError as error:
                if self.client._renewable(error):  # the renewal came too late: reconnect with a fresh token
                    self.reconnects += 1
                    await self.client.fresh_token(force=True)
                    continue
                if error.code() in FINAL_CODES:
                    self._fail_all(error)
                    return
                code = error.code()
            finally:
                self._outgoing = None
                renewer.cancel()
                call.cancel()
            delay = self.client._backoff(failures)
            failures += 1
            self.reconnects += 1
            log.info("sending stream of %s ended (%s); reconnecting in %.2f s", self.session_id, code, delay)
            await asyncio.sleep(delay)
            if code is not None and code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                await self.client._next_target()

    async def _renew(self, outgoing: asyncio.Queue, token: str) -> None:
        """Hand the stream a fresh token halfway through each token's life; `token`: the one it has."""
        while (renew_at := self.client.renew_at) is not None:
            await asyncio.sleep(max(renew_at - time.time(), 0))
            fresh = await self.client.fresh_token()  # renewed now, or already by another call
            if fresh != token:
                token = fresh
                self._count += 1
                refresh = pb.RefreshTokenAction(token=token)
                outgoing.put_nowait(pb.StreamEventsRequest(request_id=f"refresh{self._count}", refresh_token=refresh))

    def _answer(self, event: pb.Event) -> None:
        kind = event.WhichOneof("kind")
        if kind == "action_accepted":
            entry = self._unanswered.pop(event.action_accepted.request_id, None)
            if entry is not None and not entry[1].done():
                entry[1].set_result((event.action_accepted.sequence, event.action_accepted.message_id))
        elif kind == "error":
            retry = event.error.retry_delay.ToTimedelta().total_seconds() if event.error.HasField("retry_delay") else None
            refused = SendRefused(STATUS_BY_NUMBER.get(event.error.code, grpc.StatusCode.UNKNOWN), event.error.message, retry)
            if event.error.request_id == "join":
                self._refused_join = refused
                return
            if event.error.request_id.startswith("refresh"):
                log.warning("the server refused a fresh token (%s); the stream reconnects when its token expires", refused)
                return
            entry = self._unanswered.pop(event.error.request_id, None)
            if entry is not None and not entry[1].done():
                entry[1].set_exception(refused)

    def _fail_all(self, error: Exception) -> None:
        for _, answer in self._unanswered.values():
            if not answer.done():
                answer.set_exception(error)
        self._unanswered.clear()


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


async def _drain(queue: asyncio.Queue):
    while True:
        yield await queue.get()
