"""Bad input and failures: every text and id field checked alike on both backends, one bad
message never fails its neighbours, page tokens cannot be forged, and no exception text
reaches a client."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb
from sqlalchemy import text

from tests.helpers import CODE, database_engine, refused, stored_texts
from tests.support.streams import SESSION

BOTH_BACKENDS = True
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_messages_with_nul_are_refused_and_fail_none_of_the_instructors_pipelined_messages(alice, connect, settings):
    stream = alice.stream(SESSION)
    await stream.next("stream_started")
    participants = [connect(f"p{n}") for n in range(5)]
    request_ids = [stream.act(send_message=pb.SendMessageAction(text=f"innocent {n}")) for n in range(100)]
    calls = [asyncio.ensure_future(p.send(SESSION, f"bad\x00{n}")) for n, p in enumerate(participants)]
    errors = []
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        errors.append(caught.value)
    answers = [await stream.reply_to(request_id) for request_id in request_ids]

    assert all(answer.WhichOneof("kind") == "action_accepted" for answer in answers)
    assert {error.code() for error in errors} == {INVALID}
    assert "text contains the control character U+0000" in errors[0].details()
    texts = stored_texts(settings)
    assert sorted(texts) == sorted(f"innocent {n}" for n in range(100))
    stream.cancel()


async def test_a_stream_action_with_a_control_character_in_an_id_is_an_error_event_naming_the_field(alice):
    stream = alice.stream(SESSION)
    await stream.next("stream_started")
    request_id = stream.act(send_message=pb.SendMessageAction(text="hi", recipient_id="bob\x00"))
    answer = await stream.reply_to(request_id)
    assert CODE[answer.error.code] == INVALID
    assert "send_message.recipient_id contains the control character U+0000" in answer.error.message
    follow_up = stream.act(send_message=pb.SendMessageAction(text="still open\n\twith a tab"))
    assert (await stream.reply_to(follow_up)).WhichOneof("kind") == "action_accepted"
    stream.cancel()


@pytest.mark.parametrize(
    "method, request_",
    [
        ("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", reason="spam\x1b[31m")),
        ("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id="m\x85", emoji="x")),
        ("ClearStrikes", pb.ClearStrikesRequest(session_id=SESSION, user_id="\x07bob")),
        ("SendMessage", pb.SendMessageRequest(session_id=SESSION, text="x", client_message_id="c\x00")),
    ],
)
async def test_control_characters_in_any_unary_field_are_refused_naming_the_field(alice, method, request_):
    error = await refused(INVALID, alice.call(method, request_))
    field = next(name for name, value in ((f.name, v) for f, v in request_.ListFields()) if re.search(r"[\x00-\x1f\x7f-\x9f]", str(value)))
    assert error.details().startswith(f"{field} contains the control character")


@pytest.mark.parametrize(
    "method, request_, field, limit",
    [
        ("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id="bob", reason="r" * 501), "reason", 500),
        ("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id="m" * 129), "message_id", 128),
        ("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id="m", emoji="e" * 33), "emoji", 32),
        ("ListMessages", pb.ListMessagesRequest(session_id=SESSION, page_token="t" * 513), "page_token", 512),
    ],
)
async def test_every_string_field_has_a_size_limit_named_in_the_refusal(alice, method, request_, field, limit):
    error = await refused(INVALID, alice.call(method, request_))
    assert f"{field} is " in error.details() and f"the limit is {limit}" in error.details()


def crafted_tokens(kind: str) -> list[str]:
    def b64(value) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    nested = "[" * 100_000 + "]" * 100_000
    return [
        b64({"k": kind, "s": SESSION, "p": "not a number"}),
        b64({"k": kind, "s": SESSION, "p": 10**30}),
        base64.urlsafe_b64encode(nested.encode()).decode()[:500],
        "%%%garbage***",
        "AAAA",
    ]


@pytest.mark.parametrize(
    "method, make, kind",
    [
        ("ListMessages", lambda token: pb.ListMessagesRequest(session_id=SESSION, page_token=token), "before"),
        ("ListMessages", lambda token: pb.ListMessagesRequest(session_id=SESSION, page_token=token, after_sequence=1), "after"),
        ("ListParticipants", lambda token: pb.ListParticipantsRequest(session_id=SESSION, page_token=token), "online"),
        ("ListParticipants", lambda token: pb.ListParticipantsRequest(session_id=SESSION, page_token=token, include_offline=True), "all"),
        ("ListAuditEvents", lambda token: pb.ListAuditEventsRequest(session_id=SESSION, page_token=token), "audit"),
    ],
)
async def test_crafted_page_tokens_are_invalid_argument_on_every_paged_rpc(alice, method, make, kind):
    for token in crafted_tokens(kind):
        error = await refused(INVALID, alice.call(method, make(token)))
        assert error.details() == "page_token is not valid for this request; start again without it"


async def test_a_page_token_from_the_server_still_works(alice):
    for n in range(3):
        await alice.send(SESSION, f"m{n}")
    first = await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION, page_size=2))
    second = await alice.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION, page_size=2, page_token=first.next_page_token))
    assert [m.text for m in second.messages] == ["m0"]


async def test_a_lost_table_is_internal_with_an_error_id_in_the_log_on_postgresql_and_unavailable_on_sqlite(
    alice, settings, backend, caplog
):
    """PostgreSQL reports a missing table as a programming error (a bug: INTERNAL with an error id);
    SQLite reports it as an OperationalError, the class of its disk and lock failures (UNAVAILABLE).
    Either way no SQL, table name or exception class reaches the client."""
    await alice.send(SESSION, "before the fault")
    engine = database_engine(settings)
    with engine.begin() as connection:  # a real fault the code does not expect: the table is gone
        connection.execute(text("drop table audit_log"))
    engine.dispose()
    request = alice.call("ListAuditEvents", pb.ListAuditEventsRequest(session_id=SESSION))
    with caplog.at_level(logging.ERROR):
        if backend == "sqlite":
            error = await refused(grpc.StatusCode.UNAVAILABLE, request)
            assert "nothing was stored" in error.details()
        else:
            error = await refused(grpc.StatusCode.INTERNAL, request)
            error_id = re.search(r"error id ([0-9a-f]{12})", error.details()).group(1)
            assert any(error_id in record.getMessage() and record.exc_info for record in caplog.records)
    assert "audit_log" not in error.details() and "Error" not in error.details()


def refuse_poison_in_database(settings, backend: str) -> None:
    """A real refusal by the database for one value that validation lets through: a trigger."""
    engine = database_engine(settings)
    with engine.begin() as connection:
        if backend == "sqlite":
            connection.execute(text(
                "create trigger refuse_poison before insert on messages when new.text = 'poison' "
                "begin select raise(abort, 'poison refused'); end"
            ))
        else:
            connection.execute(text(
                "create function refuse_poison() returns trigger language plpgsql as $$ begin "
                "if new.text = 'poison' then raise exception 'poison refused'; end if; return new; end $$"
            ))
            connection.execute(text(
                "create trigger refuse_poison before insert on messages for each row execute function refuse_poison()"
            ))
    engine.dispose()


async def test_a_message_the_database_refuses_fails_alone_and_its_batch_neighbours_are_stored(server, settings, backend, alice):
    await alice.send(SESSION, "session exists")
    refuse_poison_in_database(settings, backend)
    from chatsvc.auth import Principal, Role

    principal = Principal("alice", "Alice", Role.INSTRUCTOR)
    service = server.service
    texts = [f"neighbour {n}" for n in range(10)] + ["poison"] + [f"neighbour {n}" for n in range(10, 20)]
    # Queued without waiting: they gather into one batch (one transaction) behind the first.
    futures = [await service.sending.queue_message(principal, SESSION, value) for value in texts]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    failed = [value for value, outcome in zip(texts, outcomes, strict=False) if isinstance(outcome, BaseException)]
    assert failed == ["poison"], [repr(o) for o in outcomes]
    assert sorted(stored_texts(settings)) == sorted(["session exists"] + [t for t in texts if t != "poison"])


def test_page_tokens_are_refused_when_signed_with_another_key_or_for_another_request():
    from chatsvc.domain import validation
    from chatsvc.errors import ChatError

    validation.sign_page_tokens_with("one secret of at least thirty-two bytes!")
    token = validation.encode_page_token("before", SESSION, 42)
    assert validation.decode_page_token(token, "before", SESSION) == 42
    for kind, session in [("after", SESSION), ("before", "another-session")]:
        with pytest.raises(ChatError):
            validation.decode_page_token(token, kind, session)
    validation.sign_page_tokens_with("another secret of at least thirty-two bytes")
    with pytest.raises(ChatError):
        validation.decode_page_token(token, "before", SESSION)


async def test_a_token_whose_name_holds_a_control_character_is_refused_before_anything_is_stored(connect, settings):
    mallory = connect("mallory", name="Mal\x00lory")
    error = await refused(grpc.StatusCode.UNAUTHENTICATED, mallory.send(SESSION, "hello"))
    assert "control characters" in error.details()
    assert stored_texts(settings) == []
