"""The short listings (mutes, raised hands, pins, one message's reactions) come in pages too:
page_size 0 is the whole list as before; pages of any size add up to it; tokens are checked."""

from __future__ import annotations

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import refused
from tests.support.streams import SESSION

BOTH_BACKENDS = True
PEOPLE = [f"p{n}" for n in range(5)]


async def every_page(client, method: str, request, field: str, page_size: int) -> list:
    items, token = [], ""
    while True:
        request.page_size, request.page_token = page_size, token
        response = await client.call(method, request)
        page = list(getattr(response, field))
        assert len(page) <= page_size
        items += page
        token = response.next_page_token
        if not token:
            return items


@pytest.fixture
async def busy_session(alice, connect):
    """Five participants who wrote, raised hands and reacted; five pinned messages; five mutes."""
    participants = [connect(user) for user in PEOPLE]
    target = await alice.send(SESSION, "react to this")
    for person in participants:
        await person.send(SESSION, f"hello from {person.user_id}")
        await person.call("RaiseHand", pb.RaiseHandRequest(session_id=SESSION))
        await person.call("AddReaction", pb.AddReactionRequest(session_id=SESSION, message_id=target.message_id, emoji="👍"))
    for n in range(5):
        message = await alice.send(SESSION, f"pin {n}")
        await alice.call("PinMessage", pb.PinMessageRequest(session_id=SESSION, message_id=message.message_id))
    for user in PEOPLE:
        await alice.call("MuteUser", pb.MuteUserRequest(session_id=SESSION, user_id=user, duration_minutes=10))
    return target


LISTINGS = {
    "ListMutes": (lambda target: pb.ListMutesRequest(session_id=SESSION), "mutes"),
    "ListRaisedHands": (lambda target: pb.ListRaisedHandsRequest(session_id=SESSION), "hands"),
    "ListPinnedMessages": (lambda target: pb.ListPinnedMessagesRequest(session_id=SESSION), "messages"),
    "ListReactions": (lambda target: pb.ListReactionsRequest(session_id=SESSION, message_id=target.message_id), "reactions"),
}


@pytest.mark.parametrize("method", sorted(LISTINGS))
async def test_pages_of_any_size_add_up_to_the_whole_list(alice, busy_session, method):
    make, field = LISTINGS[method]
    whole = await alice.call(method, make(busy_session))
    assert len(getattr(whole, field)) == 5 and whole.next_page_token == ""
    for page_size in (1, 2, 5, 200):
        assert await every_page(alice, method, make(busy_session), field, page_size) == list(getattr(whole, field))


@pytest.mark.parametrize("method", sorted(LISTINGS))
async def test_a_token_of_another_listing_or_a_forged_one_is_invalid_argument(alice, busy_session, method):
    make, _ = LISTINGS[method]
    first = make(busy_session)
    first.page_size = 2
    token = (await alice.call(method, first)).next_page_token
    assert token
    other = "ListMutes" if method != "ListMutes" else "ListRaisedHands"
    request = LISTINGS[other][0](busy_session)
    request.page_token = token
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call(other, request))
    assert "page_token is not valid" in error.details()
    forged = make(busy_session)
    forged.page_token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call(method, forged))
    negative = make(busy_session)
    negative.page_size = -1
    await refused(grpc.StatusCode.INVALID_ARGUMENT, alice.call(method, negative))
