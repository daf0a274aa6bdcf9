"""The cheap subscribers' hand-written wire: HTTP/2 frames, HPACK literals, gRPC requests,
and reading sequence numbers out of serialized events without decoding protobuf.

A grpc.aio client spends 36-50 µs of CPU per received message, so 1,000 of
them on the server's machine saturate long before the server does. These
clients speak just enough HTTP/2 (or WebSocket) to hold one stream per TCP
connection, answer pings and flow control, and find in each event its
sequence number and the send time the publisher put in its text, without
decoding protobuf: about a microsecond per event. Nothing here imports grpc.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.fanout.codec import read_varint

MARKER = b"BENCHT"  # the publisher's text starts with MARKER + 19 digits of time.time_ns()
MARKER_DIGITS = 19


def bench_text(filler: str) -> str:
    return f"{MARKER.decode()}{time.time_ns():0{MARKER_DIGITS}d} {filler}"


# ---------------------------------------------------------------- HTTP/2 + gRPC

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
STREAM_WINDOW = 1 << 20  # what the server may send before we acknowledge it
WINDOW_REFILL = 256 * 1024


def h2_frame(kind: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream_id.to_bytes(4, "big") + payload


def hpack_int(value: int, prefix_bits: int, flags: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((flags | value,))
    out = bytearray((flags | limit,))
    value -= limit
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name: bytes, value: bytes) -> bytes:
    """'Literal header field without indexing, new name', no Huffman coding."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def h2_preface() -> bytes:
    """What a client sends first on a connection: the preface, its settings and a wider window."""
    settings = (2).to_bytes(2, "big") + (0).to_bytes(4, "big") + (4).to_bytes(2, "big") + STREAM_WINDOW.to_bytes(4, "big")
    return (
        H2_PREFACE
        + h2_frame(SETTINGS, 0, 0, settings)
        + h2_frame(WINDOW_UPDATE, 0, 0, (STREAM_WINDOW - 65535).to_bytes(4, "big"))
    )


def grpc_stream_bytes(stream_id: int, authority: str, path: str, token: str, message: bytes) -> bytes:
    """HEADERS and DATA that open one unary-request server stream on `stream_id` (odd, increasing)."""
    headers = b"".join(
        hpack_literal(name, value)
        for name, value in (
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.encode()),
            (b":authority", authority.encode()),
            (b"content-type", b"application/grpc"),
            (b"te", b"trailers"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"user-agent", b"chatsvc-bench"),
        )
    )
    body = b"\x00" + len(message).to_bytes(4, "big") + message
    return h2_frame(HEADERS, END_HEADERS, stream_id, headers) + h2_frame(DATA, END_STREAM, stream_id, body)


def grpc_request_bytes(authority: str, path: str, token: str, message: bytes) -> bytes:
    """Everything a client sends to open one unary-request server stream on stream 1."""
    return h2_preface() + grpc_stream_bytes(1, authority, path, token, message)


def subscribe_request(session_id: str, last_sequence: int = 0) -> bytes:
    """A serialized SubscribeRequest, encoded by protobuf (set up once per subscriber, not on the hot path)."""
    return pb.SubscribeRequest(session_id=session_id, last_sequence=last_sequence).SerializeToString()


# ---------------------------------------------------------------- reading responses
#
# A response is `repeated Event events = 1` (each 0x0a + varint length + Event)
# and `int64 previous_sequence = 2` (0x10 + varint). An Event's first fields
# are 1 session_id and 2 sequence; the bench reads only those and looks for
# MARKER in the rest.

EVENTS_TAG = 0x0A
PREVIOUS_SEQUENCE_TAG = 0x10


def response_events(buf: bytes | bytearray, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The (start, end) of each serialized Event in the response buf[start:end]; other fields are skipped."""
    i = start
    while i < end:
        tag = buf[i]
        if tag == EVENTS_TAG:
            length, i = read_varint(buf, i + 1)
            yield i, i + length
            i += length
        elif tag == PREVIOUS_SEQUENCE_TAG:
            _, i = read_varint(buf, i + 1)
        else:
            raise ValueError(f"unexpected field tag {tag:#x} in a stream response")


def event_sequence(buf: bytes | bytearray, start: int, end: int) -> tuple[int, int]:
    """The sequence of the Event in buf[start:end] (0 when unset) and where its later fields start."""
    pos = start
    if pos < end and buf[pos] == 0x0A:  # session_id
        length, pos = read_varint(buf, pos + 1)
        pos += length
    sequence = 0
    if pos < end and buf[pos] == 0x10:  # sequence (varint)
        sequence, pos = read_varint(buf, pos + 1)
    return sequence, pos
