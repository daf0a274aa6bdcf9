"""Pipelined sending on one `StreamEvents` stream, resent after a reconnection without duplicates."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Protocol

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from chatsvc.client.codes import FINAL_CODES
from chatsvc.client.tokens import Tokens

log = logging.getLogger(__name__)


class Connection(Protocol):
    """What a sender needs of its client: the stub, the tokens, and how to back off and move on."""

    stub: chat_pb2_grpc.SessionChatStub
    tokens: Tokens

    def backoff(self, failures: int) -> float: ...

    async def next_target(self) -> None: ...


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

    def __init__(self, client: Connection, session_id: str) -> None:
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
            call = self.client.stub.StreamEvents(_drain(outgoing), metadata=await self._metadata())
            renewer = asyncio.create_task(self._renew(outgoing, self.client.tokens.token))
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
                if self.client.tokens.renewable(error):  # the renewal came too late: reconnect with a fresh token
                    self.reconnects += 1
                    await self.client.tokens.fresh(force=True)
                    continue
                if error.code() in FINAL_CODES:
                    self._fail_all(error)
                    return
                code = error.code()
            finally:
                self._outgoing = None
                renewer.cancel()
                call.cancel()
            delay = self.client.backoff(failures)
            failures += 1
            self.reconnects += 1
            log.info("sending stream of %s ended (%s); reconnecting in %.2f s", self.session_id, code, delay)
            await asyncio.sleep(delay)
            if code is not None and code != grpc.StatusCode.RESOURCE_EXHAUSTED:
                await self.client.next_target()

    async def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {await self.client.tokens.fresh()}"),)

    async def _renew(self, outgoing: asyncio.Queue, token: str) -> None:
        """Hand the stream a fresh token halfway through each token's life; `token`: the one it has."""
        while (renew_at := self.client.tokens.renew_at) is not None:
            await asyncio.sleep(max(renew_at - time.time(), 0))
            fresh = await self.client.tokens.fresh()  # renewed now, or already by another call
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


async def _drain(queue: asyncio.Queue):
    while True:
        yield await queue.get()
