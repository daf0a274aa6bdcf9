"""Messages: public and private, history and its pages, idempotent retries, bad input."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION, subscribed

# Every test here runs on SQLite and on PostgreSQL.
BOTH_BACKENDS = True


async def history(client: Client, **fields) -> pb.ListMessagesResponse:
    return await client.call("ListMessages", pb.ListMessagesRequest(session_id=SESSION, **fields))


class TestPrivateMessages:
    async def test_reach_only_their_two_parties_live_and_in_history(self, alice, bob, carol, connect):
        other_instructor = connect("dave", "instructor")
        teacher, participant, bystander, colleague = await subscribed(alice, bob, carol, other_instructor)

        sent = await bob.send(SESSION, "I am lost on question 3", recipient_id="alice")
        await alice.send(SESSION, "public note")

        assert sent.recipient_id == "alice"
        for stream in (teacher, participant):
            private = await stream.next("private_message_posted")
            assert private.private_message_posted.text == "I am lost on question 3"
        for stream in (bystander, colleague):
            public = await stream.next("message_posted")
            assert public.message_posted.text == "public note"
            assert "question 3" not in str(stream.events)

        assert [m.text for m in (await history(bob)).messages] == ["public note", "I am lost on question 3"]
        assert [m.text for m in (await history(alice)).messages] == ["public note", "I am lost on question 3"]
        assert [m.text for m in (await history(carol)).messages] == ["public note"]
        assert [m.text for m in (await history(other_instructor)).messages] == ["public note"]
        for stream in (teacher, participant, bystander, colleague):
            stream.cancel()

    async def test_instructor_may_write_privately_to_a_participant(self, alice, bob):
        streams = await subscribed(alice, bob)
        sent = await alice.send(SESSION, "see me after class", recipient_id="bob")
        assert sent.recipient_id == "bob" and sent.sender_role == pb.ROLE_INSTRUCTOR
        assert (await streams[1].next("private_message_posted")).private_message_posted.message_id == sent.message_id
        for stream in streams:
            stream.cancel()

    async def test_participants_cannot_write_privately_to_each_other(self, bob, carol):
        streams = await subscribed(bob, carol)
        error = await refused(grpc.StatusCode.PERMISSION_DENIED, bob.send(SESSION, "hi", recipient_id="carol"))
        assert "only to instructors" in error.details()
        assert (await history(carol)).messages == []
        for stream in streams:
            stream.cancel()

    async def test_unknown_recipient_is_not_found_and_nothing_is_stored(self, bob):
        error = await refused(grpc.StatusCode.NOT_FOUND, bob.send(SESSION, "hello?", recipient_id="ghost"))
        assert "'ghost'" in error.details()
        assert (await history(bob)).messages == []

    async def test_writing_to_yourself_is_invalid(self, bob):
        await refused(grpc.StatusCode.INVALID_ARGUMENT, bob.send(SESSION, "me", recipient_id="bob"))


class TestHistory:
    async def test_pages_newest_first_with_page_tokens(self, alice, bob):
        sent = [await alice.send(SESSION, f"m{n}") for n in range(7)]
        first = await history(bob, page_size=3)
        second = await history(bob, page_size=3, page_token=first.next_page_token)
        third = await history(bob, page_size=3, page_token=second.next_page_token)
        assert [m.text for m in first.messages] == ["m6", "m5", "m4"]
        assert [m.text for m in second.messages] == ["m3", "m2", "m1"]
        assert [m.text for m in third.messages] == ["m0"]
        assert third.next_page_token == ""
        assert first.messages[0].message_id == sent[-1].message_id

    async def test_after_sequence_pages_oldest_first(self, alice, bob):
        sent = [await alice.send(SESSION, f"m{n}") for n in range(5)]
        first = await history(bob, after_sequence=sent[1].sequence, page_size=2)
        second = await history(bob, after_sequence=sent[1].sequence, page_size=2, page_token=first.next_page_token)
        assert [m.text for m in first.messages] == ["m2", "m3"]
        assert [m.text for m in second.messages] == ["m4"] and second.next_page_token == ""

    async def test_messages_carry_server_ids_times_and_sender(self, alice, bob):
        message = await bob.send(SESSION, "  trimmed please  ")
        assert message.text == "trimmed please"
        assert len(message.message_id) == 32 and message.sender_name == "Bob"
        assert message.sender_role == pb.ROLE_PARTICIPANT and message.create_time.seconds > 0
        [stored] = (await history(alice)).messages
        assert stored == message

    async def test_a_foreign_or_garbled_page_token_is_invalid(self, alice, bob):
        for n in range(3):
            await alice.send(SESSION, f"m{n}")
        page = await history(bob, page_size=1)
        other = bob.call("ListMessages", pb.ListMessagesRequest(session_id="other", page_token=page.next_page_token))
        await refused(grpc.StatusCode.INVALID_ARGUMENT, other)
        await refused(grpc.StatusCode.INVALID_ARGUMENT, history(bob, page_token="not-a-token"))
        await refused(grpc.StatusCode.INVALID_ARGUMENT, history(bob, page_size=-1))

    async def test_page_size_is_capped_at_200(self, alice, bob):
        for n in range(205):
            await alice.send(SESSION, f"m{n}")
        page = await history(bob, page_size=1000)
        assert len(page.messages) == 200 and page.next_page_token


class TestIdempotentSend:
    async def test_retry_with_the_same_client_id_returns_the_first_message_and_posts_once(self, alice, bob):
        [watcher] = await subscribed(alice)
        first = await bob.send(SESSION, "only once", client_message_id="c-1")
        retry = await bob.send(SESSION, "only once", client_message_id="c-1")
        assert retry == first
        await alice.send(SESSION, "marker")
        assert (await watcher.next("message_posted")).message_posted.text == "only once"
        assert (await watcher.next("message_posted")).message_posted.text == "marker"
        assert [m.text for m in (await history(bob)).messages] == ["marker", "only once"]
        watcher.cancel()

    async def test_retry_on_the_stream_is_accepted_without_a_second_event(self, bob):
        stream = bob.stream(SESSION)
        await stream.next("stream_started")
        action = pb.SendMessageAction(text="stream once", client_message_id="c-9")
        first = (await stream.reply_to(stream.act(send_message=action))).action_accepted
        again = (await stream.reply_to(stream.act(send_message=action))).action_accepted
        assert again.message_id == first.message_id and again.sequence == 0
        assert stream.kinds().count("message_posted") == 1
        stream.cancel()

    async def test_the_same_client_id_from_two_users_makes_two_messages(self, bob, carol):
        one = await bob.send(SESSION, "mine", client_message_id="same")
        two = await carol.send(SESSION, "mine too", client_message_id="same")
        assert one.message_id != two.message_id


class TestBadInput:
    @pytest.mark.parametrize(
        ("fields", "complaint"),
        [
            ({"session_id": SESSION, "text": ""}, "message text is empty"),
            ({"session_id": SESSION, "text": " \n\t "}, "message text is empty"),
            ({"session_id": SESSION, "text": "x" * 2001}, "the limit is 2000"),
            ({"session_id": "", "text": "hi"}, "session_id is required"),
            ({"session_id": "has space", "text": "hi"}, "session_id must be"),
            ({"session_id": SESSION, "text": "hi", "client_message_id": "c" * 129}, "client_message_id"),
            ({"session_id": SESSION, "text": "hi", "reply_to_message_id": "missing"}, "does not exist"),
        ],
    )
    async def test_bad_send_is_refused_with_a_clear_status_and_stores_nothing(self, bob, fields, complaint):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await bob.call("SendMessage", pb.SendMessageRequest(**fields))
        expected = grpc.StatusCode.NOT_FOUND if "reply_to_message_id" in fields else grpc.StatusCode.INVALID_ARGUMENT
        assert caught.value.code() == expected
        assert complaint in caught.value.details()
        assert (await history(bob)).messages == []

    async def test_exactly_the_limit_is_accepted(self, bob):
        assert len((await bob.send(SESSION, "y" * 2000)).text) == 2000


class TestConcurrentSends:
    async def test_many_concurrent_sends_are_all_posted_once_in_order_and_streams_get_them_batched(self, alice, bob, connect):
        reader = bob.subscribe(SESSION)
        await reader.next("stream_started")
        responses: list[int] = []  # message events per response, seen through a raw call
        raw = bob.stub.Subscribe(pb.SubscribeRequest(session_id=SESSION), metadata=bob.metadata)

        async def count_responses():
            async for response in raw:
                posted = sum(1 for e in response.events if e.WhichOneof("kind") == "message_posted")
                if posted:
                    responses.append(posted)
                if sum(responses) == 50:
                    return

        counting = asyncio.create_task(count_responses())
        await raw.initial_metadata()  # sent once the stream has joined
        senders = [connect(f"t{n}", "instructor") for n in range(5)]  # instructors: no rate limit
        sent = await asyncio.gather(*(senders[n % 5].send(SESSION, f"m{n}") for n in range(50)))

        received = [(await reader.next("message_posted")).message_posted for _ in range(50)]
        assert sorted(m.message_id for m in received) == sorted(m.message_id for m in sent)
        sequences = [m.sequence for m in received]
        assert sequences == sorted(sequences) and len(set(sequences)) == 50
        await asyncio.wait_for(counting, 10)
        assert len(responses) < 50, "concurrent messages share transactions and stream writes"
        raw.cancel()
        reader.cancel()
