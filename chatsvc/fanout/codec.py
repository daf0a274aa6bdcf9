"""Events are encoded once, already framed as an element of a batch.

`StreamEventsResponse` and `SubscribeResponse` are both `repeated Event events = 1`
plus `int64 previous_sequence = 2`, so a response is that one varint field
followed by the concatenation of framed events: nothing is re-encoded per
subscriber (protobuf accepts fields in any order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

EVENTS_FIELD_TAG = b"\x0a"  # field 1, wire type 2 (length-delimited)
PREVIOUS_SEQUENCE_TAG = b"\x10"  # field 2, wire type 0 (varint)
EVENT_SEQUENCE_FIELD = 2  # Event.sequence


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


_last_field: tuple[int, bytes] = (0, b"")


def previous_sequence_field(sequence: int) -> bytes:
    """A response's `previous_sequence`; nothing for 0, as protobuf itself writes it.

    The writers of a session ask for the same number one after another, so
    the last one is kept. A delivery and its batch cost 0.20 µs per subscriber
    without the field, 0.62 µs encoding it per write, 0.33 µs with this
    (1,000 subscribers, one event per write; a stream write itself is ~30 µs).
    """
    global _last_field
    last = _last_field
    if last[0] == sequence:
        return last[1]
    field = PREVIOUS_SEQUENCE_TAG + varint(sequence) if sequence else b""
    _last_field = (sequence, field)
    return field


def sequence_of(framed: bytes) -> int:
    """The `sequence` of a framed Event (0 when it has none), read without decoding the event."""
    length, pos = read_varint(framed, 1)  # after the events field tag
    end = pos + length
    while pos < end:
        tag, pos = read_varint(framed, pos)
        wire_type = tag & 7
        if wire_type == 0:
            value, pos = read_varint(framed, pos)
            if tag >> 3 == EVENT_SEQUENCE_FIELD:
                return value
        elif wire_type == 2:
            size, pos = read_varint(framed, pos)
            pos += size
        elif wire_type == 1:
            pos += 8
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unexpected wire type {wire_type} in an event")
    return 0


def last_sequence_in(framed: list[bytes]) -> int:
    """The sequence of the last sequenced event among framed events, 0 if none is sequenced."""
    for item in reversed(framed):
        sequence = sequence_of(item)
        if sequence:
            return sequence
    return 0


def chunks(framed: Iterable[bytes], max_bytes: int) -> Iterator[list[bytes]]:
    """Group framed events into responses of about max_bytes (at least one event each)."""
    parts: list[bytes] = []
    size = 0
    for item in framed:
        if parts and size + len(item) > max_bytes:
            yield parts
            parts, size = [], 0
        parts.append(item)
        size += len(item)
    if parts:
        yield parts
