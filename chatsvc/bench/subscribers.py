"""Cheap subscriber connections (gRPC `Subscribe` streams, alone or sharing a connection, or
one WebSocket each) and their tallies.

Each answers pings and flow control and counts what arrives in a `Tally` per
stream (wire decoding: `wire`).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import zlib
from array import array

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.bench.wire import (
    ACK,
    CONTINUATION,
    DATA,
    END_STREAM,
    GOAWAY,
    HEADERS,
    MARKER,
    MARKER_DIGITS,
    PADDED,
    PING,
    RST_STREAM,
    SETTINGS,
    WINDOW_REFILL,
    WINDOW_UPDATE,
    event_sequence,
    h2_frame,
    response_events,
)


class Tally:
    """What one subscriber received: sequence checks and latencies of bench messages."""

    __slots__ = (
        "last_sequence", "events", "bench", "duplicates", "gaps", "latencies_us", "digest", "joined", "joined_at", "ended", "end_reason",
        "streams", "resumed", "recovered", "resumed_at",
    )

    def __init__(self) -> None:
        self.last_sequence = 0
        self.events = 0  # events with a sequence, duplicates excluded
        self.bench = 0  # bench messages, duplicates excluded
        self.duplicates = 0
        self.gaps = 0  # sequences skipped between two received ones
        self.latencies_us = array("i")
        self.digest = 0  # CRC-32 of the bench messages' serialized events, in order: equal for everyone
        self.joined = False
        self.joined_at = 0.0  # time.perf_counter() when its stream started
        self.streams = 0  # streams opened (more than one after reconnecting)
        self.resumed = 0  # streams after the first that started
        self.recovered = 0  # ...with recovered=true (the missed events follow, no fresh snapshot)
        self.resumed_at = 0.0  # time.time() when the latest of them started
        self.ended = False
        self.end_reason = ""

    def event(self, buf: bytes | bytearray, start: int, end: int, now_ns: int) -> None:
        """One serialized `Event` in buf[start:end]."""
        sequence, pos = event_sequence(buf, start, end)
        if self.observe(sequence, buf.find(MARKER, pos, end), buf, now_ns):
            self.digest = zlib.crc32(buf[start:end], self.digest)

    def observe(self, sequence: int, marker_at: int, buf, now_ns: int) -> bool:
        """Count an event; True when it is a bench message seen for the first time."""
        if sequence:
            last = self.last_sequence
            if sequence <= last:
                self.duplicates += 1
                return False
            if last and sequence != last + 1:
                self.gaps += sequence - last - 1
            self.last_sequence = sequence
            self.events += 1
        if marker_at < 0:
            return False
        sent = int(buf[marker_at + 6 : marker_at + 6 + MARKER_DIGITS])
        self.bench += 1
        self.latencies_us.append((now_ns - sent) // 1000)
        return True

    def finish(self, reason: str) -> None:
        if not self.ended:
            self.ended = True
            self.end_reason = reason


class _Subscriber(asyncio.Protocol):
    """A subscriber connection that sends its request on connect."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _connected(self) -> asyncio.Transport:
        """The transport, which asyncio hands over (connection_made) before any data arrives."""
        if self.transport is None:
            raise RuntimeError("the subscriber has no connection yet: asyncio calls connection_made before data_received")
        return self.transport


class GrpcStream:
    """One `Subscribe` stream: its tally, the gRPC message bytes not yet complete, and how it ended.

    `on_end` (to reconnect) is called once when the stream ends; without it the tally records the end."""

    __slots__ = ("tally", "joined", "message", "unacknowledged", "started", "on_end", "reconnects")

    def __init__(self, tally: Tally, joined: asyncio.Future, on_end=None) -> None:
        self.tally = tally
        self.joined = joined
        self.message = bytearray()
        self.unacknowledged = 0  # bytes received since this stream's last WINDOW_UPDATE
        self.started = False  # its stream_started arrived
        self.on_end = on_end
        self.reconnects = on_end is not None
        tally.streams += 1

    def data(self, buf, start: int, end: int, now: int) -> None:
        message = self.message
        message += buf[start:end]
        tally = self.tally
        pos, size = 0, len(message)
        while size - pos >= 5:
            body_length = int.from_bytes(message[pos + 1 : pos + 5], "big")
            if size - pos - 5 < body_length:
                break
            body = pos + 5
            pos = body + body_length
            for event_start, event_end in response_events(message, body, pos):
                if not self.started:
                    self._stream_started(message, event_start, event_end)
                tally.event(message, event_start, event_end, now)
            if not self.joined.done():
                tally.joined = True
                self.joined.set_result(None)
        del message[:pos]

    def _stream_started(self, buf, start: int, end: int) -> None:
        """The stream's first event (once per stream: decoded with protobuf)."""
        self.started = True
        event = pb.Event.FromString(bytes(buf[start:end]))
        if event.WhichOneof("kind") == "stream_started" and self.tally.streams > 1:
            self.tally.resumed += 1
            self.tally.recovered += event.stream_started.recovered
            self.tally.resumed_at = time.time()

    def ended(self, reason: str) -> bool:
        """The stream ended; True when it reconnects (its connection should close)."""
        if self.reconnects:
            if self.on_end is not None:
                on_end, self.on_end = self.on_end, None
                on_end()
            return True
        self.tally.finish(reason)
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"stream refused: {reason}"))
        return False


class GrpcConnection(_Subscriber):
    """`Subscribe` streams sharing one HTTP/2 connection (stream ids 1, 3, 5, ...), as many streams
    do behind Envoy or from one backend client; one stream is a subscriber on its own connection.
    Responses are batches of framed events."""

    def __init__(self, streams: list[GrpcStream], request: bytes) -> None:
        super().__init__(request)
        self.streams = streams
        self.unacknowledged = 0  # bytes received since the connection's last WINDOW_UPDATE

    def stop_reconnecting(self) -> None:
        for stream in self.streams:
            stream.on_end = None

    def connection_lost(self, exc) -> None:
        reason = f"connection lost: {exc}" if exc else "connection closed"
        for stream in self.streams:
            stream.ended(reason)

    def _stream(self, stream_id: int) -> GrpcStream | None:
        index = (stream_id - 1) >> 1
        return self.streams[index] if stream_id & 1 and index < len(self.streams) else None

    def _end(self, stream: GrpcStream | None, reason: str) -> None:
        if stream is not None and stream.ended(reason) and len(self.streams) == 1:
            self.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos, size = 0, len(buf)
        while size - pos >= 9:
            length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2]
            if size - pos - 9 < length:
                break
            kind, flags = buf[pos + 3], buf[pos + 4]
            stream_id = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
            start = pos + 9
            pos = start + length
            if kind == DATA:
                self._data(self._stream(stream_id), stream_id, buf, start, pos, flags, length)
            elif kind == HEADERS or kind == CONTINUATION:
                if flags & END_STREAM:  # trailers: the server ended the stream
                    self._end(self._stream(stream_id), "the server ended the stream")
            elif kind == SETTINGS:
                if not flags & ACK:
                    self._connected().write(h2_frame(SETTINGS, ACK, 0))
            elif kind == PING:
                if not flags & ACK:
                    self._connected().write(h2_frame(PING, ACK, 0, bytes(buf[start:pos])))
            elif kind == RST_STREAM:
                self._end(self._stream(stream_id), f"RST_STREAM {int.from_bytes(buf[start:pos], 'big')}")
            elif kind == GOAWAY:
                for stream in self.streams:
                    self._end(stream, "GOAWAY")
        del buf[:pos]

    def _data(self, stream: GrpcStream | None, stream_id: int, buf, start: int, end: int, flags: int, length: int) -> None:
        if flags & PADDED:
            end -= buf[start]
            start += 1
        if stream is not None:
            stream.data(buf, start, end, time.time_ns())
            if flags & END_STREAM:
                self._end(stream, "the server ended the stream")
            stream.unacknowledged += length
            if stream.unacknowledged >= WINDOW_REFILL:
                self._connected().write(h2_frame(WINDOW_UPDATE, 0, stream_id, stream.unacknowledged.to_bytes(4, "big")))
                stream.unacknowledged = 0
        self.unacknowledged += length
        if self.unacknowledged >= WINDOW_REFILL:
            self._connected().write(h2_frame(WINDOW_UPDATE, 0, 0, self.unacknowledged.to_bytes(4, "big")))
            self.unacknowledged = 0


# ---------------------------------------------------------------- WebSocket (baseline)


class WebSocketSubscriber(_Subscriber):
    """A WebSocket client with no extensions: binary messages are serialized Events."""

    def __init__(self, tally: Tally, host: str, port: int, path: str, joined: asyncio.Future) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        super().__init__(request)
        self.tally = tally
        self.joined = joined
        self.upgraded = False

    def connection_lost(self, exc) -> None:
        self.tally.finish(f"connection lost: {exc}" if exc else "connection closed")
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(self.tally.end_reason))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        if not self.upgraded:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            if b" 101 " not in buf[: buf.find(b"\r\n")]:
                self.tally.finish(f"upgrade refused: {bytes(buf[:head_end])!r}")
                self._connected().close()
                return
            self.upgraded = True
            pos = head_end + 4
        size = len(buf)
        now = time.time_ns()
        tally = self.tally
        while size - pos >= 2:
            opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos - header < length:
                break
            start = pos + header
            pos = start + length
            if opcode == 2:  # binary: one serialized Event
                tally.event(buf, start, pos, now)
            elif opcode == 1:  # text: the server's hello
                if not self.joined.done():
                    tally.joined = True
                    self.joined.set_result(None)
            elif opcode == 9:  # ping: answer with a masked pong
                payload = bytes(buf[start:pos])
                self._connected().write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 8:
                self.tally.finish("the server closed the connection")
        del buf[:pos]
