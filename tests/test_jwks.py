"""Tokens from an identity provider: keys from its JWKS (a real HTTP server), selected by `kid`,
rotated without a restart, checked for issuer and audience, and what happens while it is down."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.config import Settings
from tests.helpers import Client, refused, retry_delay_seconds, running
from tests.support.identity_provider import AUDIENCE, ISSUER, IdentityProvider, new_key
from tests.support.servers import free_port

SESSION = "idp-101"


@pytest.fixture
def provider():
    identity_provider = IdentityProvider()
    yield identity_provider
    identity_provider.stop()


@pytest.fixture
def settings(settings: Settings, provider: IdentityProvider) -> Settings:
    """The test server trusts the provider's keys, issuer and audience. No cooldown between
    fetches, so that each test decides when keys rotate."""
    settings.jwt_jwks_url = provider.jwks_url
    settings.jwt_issuer, settings.jwt_audience = ISSUER, AUDIENCE
    settings.jwt_jwks_cooldown_seconds = 0
    return settings


def request(text: str = "hi") -> pb.SendMessageRequest:
    return pb.SendMessageRequest(session_id=SESSION, text=text)


async def test_a_token_signed_by_the_providers_current_key_is_accepted_on_calls_and_streams(server, provider):
    ann = Client(f"127.0.0.1:{server.port}", "ann", token=provider.token("ann", name="Ann Idp"))
    sent = await ann.send(SESSION, "signed by the provider")
    assert (sent.sender_id, sent.sender_name) == ("ann", "Ann Idp")
    stream = ann.subscribe(SESSION)
    started = (await stream.next("stream_started")).stream_started
    assert started.you.user_id == "ann"
    stream.cancel()
    await ann.close()


async def test_a_rotated_key_is_picked_up_without_a_restart(server, provider):
    target = f"127.0.0.1:{server.port}"
    ann = Client(target, "ann", token=provider.token("ann"))
    await ann.send(SESSION, "before the rotation")
    stream = ann.stream(SESSION)
    await stream.next("stream_started")
    fetches = provider.requests

    provider.rotate()  # a new key (ES256 now), the old one withdrawn
    bob = Client(target, "bob", token=provider.token("bob"))
    assert (await bob.send(SESSION, "after the rotation")).text == "after the rotation"
    assert provider.requests == fetches + 1
    # A live stream takes a fresh token signed by the new key.
    asked = stream.act(refresh_token=pb.RefreshTokenAction(token=provider.token("ann")))
    assert (await stream.reply_to(asked)).WhichOneof("kind") == "action_accepted"
    # A token signed by the withdrawn key, not seen before, is refused.
    old = Client(target, "carol", token=provider.token("carol", key=new_key()))
    error = await refused(grpc.StatusCode.UNAUTHENTICATED, old.stub.SendMessage(request(), metadata=old.metadata))
    assert "not among the identity provider's published keys" in error.details()
    stream.cancel()
    for client in (ann, bob, old):
        await client.close()


async def test_unknown_keys_fetch_the_key_set_at_most_once_per_cooldown(settings, provider):
    settings.jwt_jwks_cooldown_seconds = 60
    async with running(settings) as server:
        target = f"127.0.0.1:{server.port}"
        ann = Client(target, "ann", token=provider.token("ann"))
        await ann.send(SESSION, "hello")
        assert provider.requests == 1
        for user in ("mallory", "trudy", "eve"):  # made-up keys: refused without asking the provider again
            forged = Client(target, user, token=provider.token(user, key=new_key()))
            await refused(grpc.StatusCode.UNAUTHENTICATED, forged.stub.SendMessage(request(), metadata=forged.metadata))
            await forged.close()
        assert provider.requests == 1
        await ann.close()


async def test_fetching_keys_does_not_hold_up_other_calls(server, provider):
    target = f"127.0.0.1:{server.port}"
    ann = Client(target, "ann", token=provider.token("ann"))
    await ann.send(SESSION, "first")
    provider.rotate()
    provider.hold()
    provider.arrived.clear()
    bob = Client(target, "bob", token=provider.token("bob"))
    waiting = asyncio.ensure_future(bob.send(SESSION, "once the key is known"))
    assert await asyncio.to_thread(provider.arrived.wait, 10), "the server did not ask the provider for the new key"
    # The provider has not answered yet; the server goes on serving everyone else.
    assert (await asyncio.wait_for(ann.send(SESSION, "meanwhile"), 10)).text == "meanwhile"
    assert not waiting.done()
    provider.release()
    assert (await asyncio.wait_for(waiting, 10)).text == "once the key is known"
    for client in (ann, bob):
        await client.close()


@pytest.mark.parametrize(
    ("claims", "complaint"),
    [
        ({"iss": "https://evil.example.test/"}, "issued by 'https://evil.example.test/'; this server accepts tokens issued by 'https://idp.example.test/'"),
        ({"aud": "another-api"}, "for audience 'another-api'; this server is audience 'sessionchat'"),
        ({"iss": None}, "missing the 'iss' claim"),
        ({"aud": None}, "missing the 'aud' claim"),
    ],
)
async def test_a_token_for_another_issuer_or_audience_is_unauthenticated_with_a_clear_message(server, provider, claims, complaint):
    client = Client(f"127.0.0.1:{server.port}", "ann", token=provider.token("ann", **claims))
    error = await refused(grpc.StatusCode.UNAUTHENTICATED, client.stub.SendMessage(request(), metadata=client.metadata))
    assert complaint in error.details()
    stream = client.subscribe(SESSION)
    ended = await stream.ended()
    assert ended is not None and ended.code() == grpc.StatusCode.UNAUTHENTICATED and complaint in ended.details()
    await client.close()


async def test_cached_keys_keep_working_while_the_provider_is_down(settings, provider):
    settings.jwt_jwks_cache_seconds = 0  # every use wants fresh keys: each attempt fails while the provider is down
    async with running(settings) as server:
        target = f"127.0.0.1:{server.port}"
        ann = Client(target, "ann", token=provider.token("ann"))
        await ann.send(SESSION, "while it is up")
        provider.stop()
        bob = Client(target, "bob", token=provider.token("bob"))  # a token never seen, signed by a cached key
        assert (await bob.send(SESSION, "while it is down")).text == "while it is down"
        stream = bob.subscribe(SESSION)
        assert (await stream.next("stream_started")).stream_started.you.user_id == "bob"
        stranger = Client(target, "eve", token=provider.token("eve", key=new_key()))
        error = await refused(grpc.StatusCode.UNAUTHENTICATED, stranger.stub.SendMessage(request(), metadata=stranger.metadata))
        assert "not among the identity provider's published keys" in error.details()
        assert server.jwks is not None and server.jwks.failure is not None and "refused" in server.jwks.failure
        stream.cancel()
        for client in (ann, bob, stranger):
            await client.close()


async def test_with_the_provider_down_and_no_key_cached_calls_get_a_clear_unauthenticated_error(settings, provider):
    settings.jwt_jwks_url = f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"  # nothing listens there
    async with running(settings) as server:
        client = Client(f"127.0.0.1:{server.port}", "ann", token=provider.token("ann"))
        error = await refused(grpc.StatusCode.UNAUTHENTICATED, client.stub.SendMessage(request(), metadata=client.metadata))
        assert error.details() == (
            "cannot check tokens right now: the identity provider's signing keys could not be fetched; try again shortly"
        )
        assert retry_delay_seconds(error) >= 1
        stream = client.subscribe(SESSION)
        ended = await stream.ended()
        assert ended is not None and ended.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "Traceback" not in ended.details() and "Error" not in ended.details()
        await client.close()


async def test_claim_names_are_configurable_for_namespaced_claims_and_role_lists(settings, provider):
    settings.jwt_user_claim, settings.jwt_name_claim = "uid", "preferred_username"
    settings.jwt_role_claim = "https://sessionchat.example/roles"
    async with running(settings) as server:
        target = f"127.0.0.1:{server.port}"
        claims = {"sub": "auth0|5f1c", "uid": "ada", "preferred_username": "Ada L.", "role": None}
        ada = Client(target, "ada", token=provider.token(**claims, **{"https://sessionchat.example/roles": ["staff", "instructor"]}))
        stream = ada.subscribe(SESSION)
        you = (await stream.next("stream_started")).stream_started.you
        assert (you.user_id, you.display_name, you.role) == ("ada", "Ada L.", pb.ROLE_INSTRUCTOR)
        nobody = Client(target, "x", token=provider.token(**claims, **{"https://sessionchat.example/roles": ["staff"]}))
        error = await refused(grpc.StatusCode.UNAUTHENTICATED, nobody.stub.SendMessage(request(), metadata=nobody.metadata))
        assert "token 'https://sessionchat.example/roles' must be 'instructor' or 'participant'" in error.details()
        stream.cancel()
        for client in (ada, nobody):
            await client.close()
