"""The bench's hand-written decoding reads what protobuf encodes: responses, events, sequences and markers."""

from __future__ import annotations

import time

from sessionchat.v1 import chat_pb2 as pb

from chatsvc.bench.subscribers import Tally
from chatsvc.bench.wire import (
    MARKER,
    bench_text,
    event_sequence,
    response_events,
    subscribe_request,
)


def response(events: list[pb.Event], previous_sequence: int = 0) -> bytes:
    return pb.SubscribeResponse(events=events, previous_sequence=previous_sequence).SerializeToString()


def posted(session_id: str, sequence: int, text: str) -> pb.Event:
    return pb.Event(session_id=session_id, sequence=sequence, message_posted=pb.ChatMessage(text=text))


def test_every_event_of_a_response_is_found_with_its_sequence_as_protobuf_reads_it():
    events = [
        posted("physics-101", 1, "hello"),
        pb.Event(session_id="physics-101", typing_started=pb.TypingChanged(user_id="bob")),  # no sequence
        posted("s" * 200, 300, "a long session id takes a two-byte length"),
        posted("physics-101", 2**40, "a large sequence"),
    ]
    for previous in (0, 7, 2**33):
        buf = response(events, previous)
        found = list(response_events(buf, 0, len(buf)))
        parsed = pb.SubscribeResponse.FromString(buf)
        assert parsed.previous_sequence == previous
        assert [buf[start:end] for start, end in found] == [event.SerializeToString() for event in parsed.events]
        assert [event_sequence(buf, start, end)[0] for start, end in found] == [event.sequence for event in parsed.events]


def test_a_tally_counts_bench_messages_latencies_gaps_and_duplicates():
    now = time.time_ns()
    buf = response([posted("s", 1, bench_text("x")), posted("s", 3, "not a bench message"), posted("s", 3, bench_text("again"))], 1)
    tally = Tally()
    for start, end in response_events(buf, 0, len(buf)):
        tally.event(buf, start, end, now + 5_000_000)
    assert (tally.events, tally.bench, tally.gaps, tally.duplicates, tally.last_sequence) == (2, 1, 1, 1, 3)
    assert 4_000 <= tally.latencies_us[0] <= 5_000 + (time.time_ns() - now) // 1000


def test_an_unknown_field_in_a_response_is_refused_rather_than_misread():
    buf = response([posted("s", 1, "hi")]) + pb.Event(session_id="x").SerializeToString().replace(b"\x0a", b"\x1a", 1)
    try:
        list(response_events(buf, 0, len(buf)))
    except ValueError as error:
        assert "unexpected field tag" in str(error)
    else:
        raise AssertionError("an unknown field was read as an event")


def test_the_subscribe_request_is_protobufs_own_encoding():
    assert pb.SubscribeRequest.FromString(subscribe_request("physics-101", 42)) == pb.SubscribeRequest(session_id="physics-101", last_sequence=42)
    assert MARKER.decode() in bench_text("filler")
