"""Events are encoded once, already framed as an element of a batch.

`StreamEventsResponse` and `SubscribeResponse` are both `repeated Event events = 1`,
so a response is just the concatenation of framed events: nothing is
re-encoded per subscriber.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

EVENTS_FIELD_TAG = b"\x0a"  # field 1, wire type 2 (length-delimited)


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(buf, pos: int) -> tuple[int, int]:
    """The varint at `pos` in `buf`, and the position after it."""
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def frame(payload: bytes) -> bytes:
    """A serialized Event as one element of a response's `events` field."""
    return EVENTS_FIELD_TAG + varint(len(payload)) + payload


def batches(framed: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """Join framed events into responses of about max_bytes (at least one event each)."""
    parts: list[bytes] = []
    size = 0
    for item in framed:
        if parts and size + len(item) > max_bytes:
            yield b"".join(parts)
            parts, size = [], 0
        parts.append(item)
        size += len(item)
    if parts:
        yield b"".join(parts)
