"""SearchMessages: words, phrases and prefixes, who may find what, paging, refusals."""

from __future__ import annotations

import grpc
from sessionchat.v1 import chat_pb2 as pb

from tests.helpers import Client, refused
from tests.support.streams import SESSION

BOTH_BACKENDS = True  # SQLite FTS5 and PostgreSQL tsvector (see conftest)


async def search(client: Client, query: str, session: str = SESSION, **fields) -> pb.SearchMessagesResponse:
    return await client.call("SearchMessages", pb.SearchMessagesRequest(session_id=session, query=query, **fields))


async def texts(client: Client, query: str, **fields) -> list[str]:
    return [hit.message.text for hit in (await search(client, query, **fields)).hits]


async def test_words_phrases_and_prefixes_find_what_was_said(alice, bob):
    await alice.send(SESSION, "The homework is due on Friday, chapter 4.")
    await bob.send(SESSION, "Can I photograph the board?")
    await alice.send(SESSION, "Photosynthesis needs light: see the photo on slide 3.")
    await bob.send(SESSION, "Is the home work due Friday or Monday?")

    assert await texts(bob, "homework") == ["The homework is due on Friday, chapter 4."]
    hit = (await search(bob, "homework")).hits[0]
    # The matching words marked; where the snippet ends differs a little between the engines.
    assert hit.snippet.startswith("The «homework» is due on Friday, chapter") and hit.message.sender_id == "alice"
    assert await texts(bob, "HOMEWORK friday") == ["The homework is due on Friday, chapter 4."]  # every word, any case
    assert await texts(bob, '"home work"') == ["Is the home work due Friday or Monday?"]  # a phrase, as written
    assert await texts(bob, '"work home"') == []
    assert await texts(bob, "photo*") == [  # a prefix; newest first
        "Photosynthesis needs light: see the photo on slide 3.",
        "Can I photograph the board?",
    ]
    assert await texts(bob, "friday") == ["Is the home work due Friday or Monday?", "The homework is due on Friday, chapter 4."]
    assert await texts(bob, "When is the homework due?") == ["The homework is due on Friday, chapter 4."]  # common words dropped
    assert await texts(bob, "tuesday") == []


async def test_relevance_order_puts_the_best_match_first(alice):
    await alice.send(SESSION, "Light, light and more light: light is everything in optics.")
    await alice.send(SESSION, "A long remark about lenses, mirrors, prisms and the speed of light in glass, water and air.")
    assert (await texts(alice, "light"))[0].startswith("A long remark")  # newest first by default
    assert (await texts(alice, "light", order=pb.SEARCH_ORDER_RELEVANCE))[0].startswith("Light, light")


async def test_only_what_the_caller_may_see_and_never_deleted_or_uncensored_text(alice, bob, carol):
    await alice.send(SESSION, "Welcome")  # private messages go to those who joined
    await bob.send(SESSION, "my secret question about the exam", recipient_id="alice")
    deleted = await carol.send(SESSION, "a secret I should not have posted")
    await carol.send(SESSION, "this is shit, the secret code fails")
    await alice.call("DeleteMessage", pb.DeleteMessageRequest(session_id=SESSION, message_id=deleted.message_id))

    assert await texts(carol, "secret") == ["this is ****, the secret code fails"]  # not bob's private message, not the deleted one
    assert await texts(bob, "secret") == ["this is ****, the secret code fails", "my secret question about the exam"]
    assert await texts(alice, "secret") == ["this is ****, the secret code fails", "my secret question about the exam"]
    for who in (alice, bob, carol):
        assert await texts(who, "shit") == []  # censored text is stored censored
        assert await texts(who, "posted") == []


async def test_pages_cover_every_hit_once(alice, bob):
    for number in range(25):
        await alice.send(SESSION, f"lecture note {number}")
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await search(bob, "lecture", page_size=10, page_token=token)
        seen += [hit.message.text for hit in page.hits]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and seen == [f"lecture note {number}" for number in reversed(range(25))]
    first = await search(bob, "lecture", page_size=10)
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, search(bob, "note", page_size=10, page_token=first.next_page_token))
    assert "page_token" in error.details()  # a token pages its own query only
    await refused(grpc.StatusCode.INVALID_ARGUMENT, search(bob, "lecture", page_token=first.next_page_token[:-2] + "xx"))


async def test_queries_that_cannot_search_are_refused_with_a_reason(alice, bob, connect):
    for query, reason in (
        ("", "query is empty"),
        ("the of and", "only common words or punctuation"),
        ("?!? ...", "only common words or punctuation"),
        ('"unclosed phrase', "unclosed quote"),
        ("x" * 201, "query"),
    ):
        error = await refused(grpc.StatusCode.INVALID_ARGUMENT, search(bob, query))
        assert reason in error.details(), (query, error.details())
    await refused(grpc.StatusCode.INVALID_ARGUMENT, search(bob, "light", order=7))
    outsider = connect("mallory", sessions=["another-class"])
    await refused(grpc.StatusCode.PERMISSION_DENIED, search(outsider, "light"))
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, search(bob, "light", session=""))
    assert "only instructors search across sessions" in error.details()
    error = await refused(grpc.StatusCode.INVALID_ARGUMENT, search(alice, "light", session=""))  # her token allows every session
    assert "name the one to search" in error.details()


async def test_instructors_search_every_session_their_token_names(connect):
    teacher = connect("teacher", "instructor", name="Teacher", sessions=[SESSION, "chemistry-201"])
    await teacher.send(SESSION, "Exam on optics next week")
    await teacher.send("chemistry-201", "Exam on acids next week")
    other = connect("other", "instructor", sessions=["biology-301"])
    await other.send("biology-301", "Exam on cells next week")
    found = (await search(teacher, "exam", session="")).hits
    assert sorted((hit.message.session_id, hit.message.text) for hit in found) == [
        ("chemistry-201", "Exam on acids next week"),
        (SESSION, "Exam on optics next week"),
    ]
