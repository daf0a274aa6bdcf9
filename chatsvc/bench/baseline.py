"""The baseline of `chatsvc bench`: a minimal websockets broadcast server.

The stack SessionChat replaces: one process, one room, no auth, no storage,
no moderation. A publisher connected to `/publish` sends texts; each becomes
a sequenced `Event` (serialized once, the same bytes a SessionChat stream
carries) that `websockets.broadcast()` writes to every connection on
`/subscribe`, and the publisher gets "ack <sequence>". Compression is off
(permessage-deflate costs memory and CPU per connection) and so are pings;
`broadcast()` has no backpressure: it writes to each socket at once.

    python -m chatsvc.bench.baseline --listen 127.0.0.1:0
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import time
import uuid

SESSION = "baseline"

# What the baseline imports beyond SessionChat's own dependencies: the `bench` extra.
BASELINE_MODULES = ("websockets",)
BASELINE_MISSING = "chatsvc bench --baseline needs the bench extra: .venv/bin/pip install -e '.[bench]'"


def baseline_missing() -> str | None:
    """The one-line reason the baseline cannot run here, or None when it can.

    Checked before anything starts: otherwise a run measures the whole SessionChat
    half first and only then fails on the import."""
    for name in BASELINE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            return BASELINE_MISSING
    return None


def run(listen: str) -> None:
    try:
        import uvloop  # the service runs on uvloop too: same footing

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(listen))


async def serve(listen: str) -> None:
    import websockets
    from google.protobuf.timestamp_pb2 import Timestamp
    from sessionchat.v1 import chat_pb2 as pb

    subscribers: set = set()
    sequence = 0

    def event(text: str) -> bytes:
        nonlocal sequence
        sequence += 1
        now = Timestamp()
        now.FromNanoseconds(time.time_ns())
        message = pb.ChatMessage(
            message_id=uuid.uuid4().hex,
            session_id=SESSION,
            sequence=sequence,
            sender_id="publisher",
            sender_name="Publisher",
            sender_role=pb.ROLE_PARTICIPANT,
            text=text,
            create_time=now,
            client_message_id=uuid.uuid4().hex,
        )
        return pb.Event(session_id=SESSION, sequence=sequence, time=now, message_posted=message).SerializeToString()

    async def handler(connection) -> None:
        if connection.request.path == "/publish":
            async for text in connection:
                websockets.broadcast(subscribers, event(text))
                await connection.send(f"ack {sequence}")
            return
        await connection.send("hello")
        subscribers.add(connection)
        try:
            await connection.wait_closed()
        finally:
            subscribers.discard(connection)

    host, port = listen.rsplit(":", 1)
    async with websockets.serve(handler, host, int(port), compression=None, ping_interval=None, max_queue=None) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"baseline serving on {host}:{bound}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    run(parser.parse_args(argv).listen)


if __name__ == "__main__":
    main()
