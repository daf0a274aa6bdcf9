"""The raise-hand queue: raise, lower, acknowledge, list, with the events everyone receives."""

from __future__ import annotations

import grpc
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION, opened

BOTH_BACKENDS = True  # SQLite and PostgreSQL (see conftest)


async def raise_hand(client: Client) -> pb.RaisedHand:
    return (await client.call("RaiseHand", pb.RaiseHandRequest(session_id=SESSION))).hand


async def lower_hand(client: Client, user_id: str = "") -> None:
    await client.call("LowerHand", pb.LowerHandRequest(session_id=SESSION, user_id=user_id))


async def acknowledge(client: Client, user_id: str) -> pb.RaisedHand:
    return (await client.call("AcknowledgeHand", pb.AcknowledgeHandRequest(session_id=SESSION, user_id=user_id))).hand


async def queue(client: Client) -> list[tuple[str, int, bool, str]]:
    hands = (await client.call("ListRaisedHands", pb.ListRaisedHandsRequest(session_id=SESSION))).hands
    return [(h.user_id, h.position, h.acknowledged, h.acknowledged_by) for h in hands]


async def test_hands_queue_in_the_order_raised_and_everyone_sees_them(alice, bob, carol):
    teacher, raiser, watcher = await opened(alice, bob, carol)

    request_id = raiser.act(raise_hand=pb.HandAction())
    accepted = (await raiser.reply_to(request_id)).action_accepted
    assert accepted.sequence > 0
    second = await raise_hand(carol)
    assert (second.user_id, second.display_name, second.position) == ("carol", "Carol", 2)
    assert second.raise_time.seconds > 0 and not second.acknowledged

    for stream in (teacher, raiser, watcher):
        first_event = await stream.next("hand_raised")
        second_event = await stream.next("hand_raised")
        assert first_event.sequence == accepted.sequence
        assert (first_event.hand_raised.hand.user_id, first_event.hand_raised.hand.position) == ("bob", 1)
        assert (second_event.hand_raised.hand.user_id, second_event.hand_raised.hand.position) == ("carol", 2)
    assert await queue(bob) == [("bob", 1, False, ""), ("carol", 2, False, "")]
    for stream in (teacher, raiser, watcher):
        stream.cancel()


async def test_raising_again_is_harmless(alice, bob):
    (teacher,) = await opened(alice)
    first = await raise_hand(bob)
    again = await raise_hand(bob)
    assert again == first
    (raiser,) = await opened(bob)
    repeat = raiser.act(raise_hand=pb.HandAction())
    assert (await raiser.reply_to(repeat)).action_accepted.sequence == 0
    await alice.send(SESSION, "marker")
    await teacher.next("hand_raised")
    assert (await teacher.next("message_posted")).message_posted.text == "marker"
    assert teacher.kinds().count("hand_raised") == 1
    assert await queue(alice) == [("bob", 1, False, "")]
    teacher.cancel()
    raiser.cancel()


async def test_a_participant_lowers_their_own_hand_and_the_queue_moves_up(alice, bob, carol):
    await raise_hand(bob)
    await raise_hand(carol)
    teacher, raiser = await opened(alice, bob)
    request_id = raiser.act(lower_hand=pb.HandAction())
    assert (await raiser.reply_to(request_id)).action_accepted.sequence > 0

    lowered = (await teacher.next("hand_lowered")).hand_lowered
    assert (lowered.user_id, lowered.lowered_by) == ("bob", "bob")
    assert await queue(alice) == [("carol", 1, False, "")]
    await lower_hand(bob)  # not raised any more: harmless
    teacher.cancel()
    raiser.cancel()


async def test_an_instructor_lowers_anyones_hand_but_a_participant_only_their_own(alice, bob, carol):
    await raise_hand(bob)
    await raise_hand(carol)
    (watcher,) = await opened(carol)
    error = await refused(grpc.StatusCode.PERMISSION_DENIED, lower_hand(carol, "bob"))
    assert "only instructors" in error.details()
    bad = watcher.act(lower_hand=pb.HandAction(user_id="bob"))
    assert (await watcher.reply_to(bad)).error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert [user for user, *_ in await queue(alice)] == ["bob", "carol"]

    await lower_hand(alice, "bob")
    lowered = (await watcher.next("hand_lowered")).hand_lowered
    assert (lowered.user_id, lowered.lowered_by) == ("bob", "alice")
    assert await queue(carol) == [("carol", 1, False, "")]
    watcher.cancel()


async def test_instructors_acknowledge_hands_which_stay_in_the_queue(alice, bob, carol):
    await raise_hand(bob)
    await raise_hand(carol)
    teacher, watcher = await opened(alice, bob)

    request_id = teacher.act(acknowledge_hand=pb.HandAction(user_id="carol"))
    accepted = (await teacher.reply_to(request_id)).action_accepted
    assert accepted.sequence > 0
    for stream in (teacher, watcher):
        event = await stream.next("hand_acknowledged")
        hand = event.hand_acknowledged.hand
        assert (hand.user_id, hand.position, hand.acknowledged, hand.acknowledged_by) == ("carol", 2, True, "alice")
    again = await acknowledge(alice, "carol")
    assert again.acknowledged_by == "alice"
    assert await queue(bob) == [("bob", 1, False, ""), ("carol", 2, True, "alice")]
    teacher.cancel()
    watcher.cancel()


async def test_acknowledging_is_for_instructors_and_needs_a_raised_hand(alice, bob, carol):
    await raise_hand(bob)
    error = await refused(grpc.StatusCode.PERMISSION_DENIED, acknowledge(carol, "bob"))
    assert "only instructors" in error.details()
    error = await refused(grpc.StatusCode.NOT_FOUND, acknowledge(alice, "carol"))
    assert "'carol' has no raised hand" in error.details()
    await refused(grpc.StatusCode.INVALID_ARGUMENT, acknowledge(alice, ""))
    (stream,) = await opened(carol)
    bad = stream.act(acknowledge_hand=pb.HandAction(user_id="bob"))
    assert (await stream.reply_to(bad)).error.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert await queue(alice) == [("bob", 1, False, "")]
    stream.cancel()


async def test_instructors_do_not_raise_hands_and_nobody_raises_anothers(alice, bob):
    error = await refused(grpc.StatusCode.PERMISSION_DENIED, raise_hand(alice))
    assert "only participants" in error.details()
    (stream,) = await opened(bob)
    bad = stream.act(raise_hand=pb.HandAction(user_id="carol"))
    error_event = (await stream.reply_to(bad)).error
    assert error_event.code == grpc.StatusCode.PERMISSION_DENIED.value[0] and "your own hand" in error_event.message
    assert await queue(alice) == []
    stream.cancel()


async def test_a_late_joiner_gets_the_queue_in_the_snapshot(alice, bob, carol):
    await raise_hand(carol)
    await raise_hand(bob)
    await acknowledge(alice, "carol")
    stream = alice.subscribe(SESSION)
    hands = (await stream.next("stream_started")).stream_started.snapshot.raised_hands
    assert [(h.user_id, h.position, h.acknowledged) for h in hands] == [("carol", 1, True), ("bob", 2, False)]
    stream.cancel()
