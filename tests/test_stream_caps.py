"""Caps on live streams per user: per session and in all, on StreamEvents and Subscribe alike."""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest

from chatsvc.config import Settings
from tests.helpers import CODE
from tests.support.streams import SESSION, started

DEADLINE = 10.0


@pytest.fixture
def settings(settings):
    settings.max_streams_per_session = 3
    settings.max_streams_per_user = 4
    return settings


async def refusal(reader) -> grpc.aio.AioRpcError:
    error = await reader.ended()
    assert error is not None, "the stream was not refused"
    return error


async def open_when_allowed(client, session_id: str):
    """Open a Subscribe once a closed stream of the user has been counted out."""
    deadline = time.monotonic() + DEADLINE
    while True:
        reader = client.subscribe(session_id)
        try:
            await started(reader)
            return reader
        except AssertionError:
            assert reader.error is not None and reader.error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, reader.error
            assert time.monotonic() < deadline, "closing a stream did not make room for another"
            await asyncio.sleep(0.05)


async def test_a_user_past_the_session_cap_is_told_to_close_a_stream_and_others_are_unaffected(bob, carol):
    streams = [bob.subscribe(SESSION), bob.subscribe(SESSION), bob.stream(SESSION)]
    for stream in streams:
        await started(stream)

    error = await refusal(bob.subscribe(SESSION))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "you have 3 live streams in this session; close one to open another"

    joining = bob.stream(SESSION)  # on the bidi stream the refused join is an error event; the stream stays open
    refused_join = (await joining.next("error")).error
    assert CODE[refused_join.code] == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "close one to open another" in refused_join.message

    others = [carol.subscribe(SESSION) for _ in range(3)]  # carol has caps of her own
    for stream in others:
        await started(stream)

    streams[0].cancel()
    replacement = await open_when_allowed(bob, SESSION)
    for stream in [*streams[1:], replacement, joining, *others]:
        stream.cancel()


async def test_a_user_past_the_overall_cap_is_refused_in_any_session_until_one_closes(bob, carol):
    streams = [bob.subscribe(SESSION) for _ in range(3)] + [bob.stream("chemistry")]
    for stream in streams:
        await started(stream)
    error = await refusal(bob.subscribe("biology"))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "you have 4 live streams open on this server; close one to open another"
    await started(carol.subscribe("biology"))

    streams[-1].cancel()
    replacement = await open_when_allowed(bob, "biology")
    for stream in [*streams[:-1], replacement]:
        stream.cancel()


def test_the_caps_come_from_the_environment_and_fit_a_person_with_a_few_devices():
    settings = Settings.from_env({"CHATSVC_MAX_STREAMS_PER_SESSION": "2", "CHATSVC_MAX_STREAMS_PER_USER": "5"})
    assert (settings.max_streams_per_session, settings.max_streams_per_user) == (2, 5)
    assert (Settings().max_streams_per_session, Settings().max_streams_per_user) == (10, 20)
