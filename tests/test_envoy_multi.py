"""One real Envoy in front of three `chatsvc serve` processes (the shape of envoy/envoy-multi.yaml):
native gRPC and grpc-web clients spread across them, one process killed (or stopped) while
messages are sent, and every client resumed through Envoy from its last sequence, nothing lost
and nothing twice. envoy/envoy-multi.yaml is the rendering of the README's command."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.cli import main
from chatsvc.client import ChatClient
from chatsvc.web.envoy_config import render_envoy_config
from chatsvc.web.envoy_process import EnvoyProcess
from tests.grpcweb import FrameReader, GrpcWebClient, parse_trailers
from tests.helpers import EVENT_TIMEOUT, ServerProcess, shared_env
from tests.support.feeds import Feed
from tests.test_envoy import ROOT, SERVICE, validate
from tests.test_envoy_tls import render
from tests.test_scale_out import Collector, token

# The README's command for envoy/envoy-multi.yaml: three processes on one machine.
MULTI_EXAMPLE = [
    "envoy-config",
    "--grpc-upstream",
    "127.0.0.1:50051",
    "--grpc-upstream",
    "127.0.0.1:50052",
    "--grpc-upstream",
    "127.0.0.1:50053",
]
# The test's Envoy checks health four times as often as the default (1 s), so that a killed
# process is out of rotation within about half a second.
HEALTH_CHECK_INTERVAL = 0.25
# How long a grpc-web follower waits before it resubscribes (the panel backs off likewise).
RECONNECT_DELAY = 0.05
METRICS_LINE = re.compile(r"^SessionChat metrics on http://([^/\s]+)/metrics", re.MULTILINE)
PROCESSES = 3
MESSAGES = 30


# ---------------------------------------------------------------- the config


def test_envoy_multi_yaml_is_the_readme_command_and_envoy_validates_it(capsys):
    committed = (ROOT / "envoy" / "envoy-multi.yaml").read_text()
    assert committed == render(capsys, MULTI_EXAMPLE), "envoy/envoy-multi.yaml is stale: run the command in the README's section on several processes"
    for needle in (
        "port_value: 50051",
        "port_value: 50052",
        "port_value: 50053",
        "selection_method: FULL_SCAN",
        'grpc_health_check: { service_name: "sessionchat.v1.SessionChat" }',
        "interval: 1s",
        "no_traffic_interval: 1s",
        "unhealthy_threshold: 2",
        "healthy_threshold: 2",
        "outlier_detection",
        "enforcing_consecutive_5xx: 0",
        "retry_on: connect-failure,refused-stream,reset-before-request",
        "envoy.retry_host_predicates.previous_hosts",
    ):
        assert needle in committed, needle
    assert "unavailable" not in committed and "retry_on: 5xx" not in committed  # calls that reached a server are never replayed
    result = validate(ROOT / "envoy" / "envoy-multi.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_grpc_upstream_renders_the_single_server_config_unchanged(capsys):
    assert render(capsys, ["envoy-config", "--grpc-upstream", "127.0.0.1:50051"]) == (ROOT / "envoy" / "envoy.yaml").read_text()


def test_balanced_renderings_with_host_names_and_tls_validate(tmp_path):
    text = render_envoy_config(grpc_upstreams=["chat-1.internal:50051", "chat-2.internal:50051"], health_check_interval=0.5)
    assert "STRICT_DNS" in text and "interval: 0.5s" in text
    (tmp_path / "dns.yaml").write_text(text)
    result = validate(tmp_path / "dns.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("arguments", "phrase"),
    [
        (["--grpc-upstream", "127.0.0.1:50051", "--grpc-upstream", "127.0.0.1:50051"], "named twice"),
        (["--grpc-upstream", "127.0.0.1:50051", "--grpc-upstream", "chat-2.internal"], "expected host:port, got 'chat-2.internal'"),
        (["--grpc-upstream", "127.0.0.1:50051", "--health-check-interval", "0.5"], "two or more chat servers"),
        (["--grpc-upstream", "127.0.0.1:50051", "--grpc-upstream", "127.0.0.1:50052", "--health-check-interval", "0"], "a positive number of seconds"),
    ],
)
def test_envoy_config_refuses_flags_it_cannot_render(capsys, arguments, phrase):
    assert main(["envoy-config", *arguments]) == 2
    assert phrase in capsys.readouterr().err


# ---------------------------------------------------------------- three processes behind one Envoy


class Balanced:
    """Three `chatsvc serve` processes on one PostgreSQL and one Redis, and Envoy in front of them."""

    def __init__(self, processes: list[ServerProcess], envoy: EnvoyProcess) -> None:
        self.processes = processes
        self.envoy = envoy
        self.clients: list[Collector | WebFollower] = []  # stopped after the test

    @property
    def target(self) -> str:
        """Envoy's listener, for native gRPC."""
        return f"127.0.0.1:{self.envoy.port}"

    @property
    def url(self) -> str:
        """Envoy's listener, for grpc-web."""
        return f"http://{self.target}"

    async def native(self, user_id: str, session: str) -> Collector:
        """A native ChatClient following the session through Envoy, once it has joined."""
        native = Collector(ChatClient(self.target, token(user_id), initial_backoff=0.05), session)
        self.clients.append(native)
        await native.wait_for(lambda events: events, f"{user_id}'s join")
        return native

    async def web(self, user_id: str, session: str) -> WebFollower:
        """A grpc-web feed of the session through Envoy, once it has joined."""
        web = WebFollower(self.url, user_id, session)
        self.clients.append(web)
        await web.wait_for(lambda events, web=web: web.starts, f"{user_id}'s join")
        return web

    async def upstreams(self) -> dict[str, dict]:
        """Envoy's view of each process (by its address): whether it is in rotation, and the
        requests open on it."""
        clusters = json.loads(await self.envoy.admin("/clusters?format=json"))["cluster_statuses"]
        [grpc] = [cluster for cluster in clusters if cluster["name"] == "sessionchat_grpc"]
        view = {}
        for host in grpc["host_statuses"]:
            address = host["address"]["socket_address"]
            stats = {stat["name"]: int(stat.get("value", 0)) for stat in host["stats"]}
            health = host["health_status"]
            failed = [flag for flag in ("failed_active_health_check", "failed_outlier_check") if health.get(flag)]
            view[f"{address['address']}:{address['port_value']}"] = {"failed": failed, "rq_active": stats.get("rq_active", 0)}
        return view

    async def live_streams(self, process: ServerProcess) -> int:
        """The process's own count of live streams, from its Prometheus metrics."""
        [address] = METRICS_LINE.findall("".join(process.output))

        def scrape() -> str:
            with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
                return response.read().decode()

        [value] = re.findall(r"^chatsvc_live_streams ([0-9.e+]+)$", await asyncio.to_thread(scrape), re.MULTILINE)
        return int(float(value))


@pytest.fixture
async def balanced(tmp_path, postgres_url, redis_server):
    env = shared_env(postgres_url, redis_server.url)
    processes = [await ServerProcess.start(tmp_path, env, "--metrics-listen", "127.0.0.1:0") for _ in range(PROCESSES)]
    config = render_envoy_config(
        listen="127.0.0.1:0",
        panel_upstream="127.0.0.1:0",
        grpc_upstreams=[process.target for process in processes],
        health_check_interval=HEALTH_CHECK_INTERVAL,
    )
    envoy = EnvoyProcess(config)
    balanced = Balanced(processes, envoy)
    try:
        await envoy.start()
        yield balanced
    finally:
        for client in balanced.clients:
            await client.stop()
        await envoy.stop()
        for process in processes:
            await process.kill()


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Ask `check` until it says yes (for facts only a poll can read: metrics, Envoy's admin API)."""

    async def poll() -> None:
        while not await check():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), EVENT_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


class WebFollower(Feed):
    """A browser's live feed: Subscribe over grpc-web through Envoy, subscribed again from the last
    sequence it holds whenever the stream breaks (as the panel's connection.ts does)."""

    def __init__(self, url: str, user_id: str, session: str) -> None:
        self.web = GrpcWebClient(url)
        self.metadata = {"authorization": f"Bearer {token(user_id)}"}
        self.session = session
        self.starts: list[pb.StreamStarted] = []
        self.endings: list[str] = []  # why each stream ended
        self.last_sequence = 0
        super().__init__(self._run)

    @property
    def reconnects(self) -> int:
        return len(self.starts) - 1

    async def _run(self) -> None:
        while True:
            request = pb.SubscribeRequest(session_id=self.session, last_sequence=self.last_sequence).SerializeToString()
            ending = "the body ended without a trailer"
            try:
                async with self.web.post(f"{SERVICE}/Subscribe", request, self.metadata) as response:
                    frames = FrameReader(response)
                    while (item := await frames.next()) is not None:
                        is_trailer, payload = item
                        if is_trailer:
                            ending = f"trailer {parse_trailers(payload)}"
                            break
                        self._receive(pb.SubscribeResponse.FromString(payload))
            except aiohttp.ClientError as error:
                ending = f"{type(error).__name__}: {error}"
            self.endings.append(ending)
            await asyncio.sleep(RECONNECT_DELAY)

    def _receive(self, response: pb.SubscribeResponse) -> None:
        for event in response.events:
            if event.WhichOneof("kind") == "stream_started":
                self.starts.append(event.stream_started)
                if not event.stream_started.recovered:
                    self.last_sequence = event.stream_started.snapshot.as_of_sequence
            elif event.sequence:
                self.last_sequence = event.sequence
        self.received(response.events)

    def progress(self) -> str:
        return f"streams ended: {self.endings}"

    async def close(self) -> None:
        await self.web.close()


def started_again_where_it_left(starts: list[pb.StreamStarted]) -> bool:
    """Every stream after the first resumed from the last sequence (not a fresh snapshot)."""
    return all(start.recovered for start in starts[1:])


@pytest.mark.parametrize("ending", ["SIGKILL", "SIGTERM"])
async def test_clients_of_both_kinds_spread_over_three_processes_resume_through_envoy_when_one_ends(balanced, ending):
    """SIGKILL: the process vanishes mid-call. SIGTERM: it answers NOT_SERVING to Envoy's checks and
    ends its streams with UNAVAILABLE first. Either way, while messages are being sent."""
    session = f"multi-{uuid.uuid4().hex[:8]}"
    hosts = await balanced.upstreams()
    assert sorted(hosts) == sorted(process.target for process in balanced.processes)
    assert all(not host["failed"] for host in hosts.values()), hosts

    # One after the other, each in before the next: Envoy sends each new stream to the process
    # holding the fewest, so the three native clients land on three processes, then the three
    # grpc-web ones too.
    natives = [await balanced.native(f"native{number}", session) for number in range(PROCESSES)]
    webs = [await balanced.web(f"web{number}", session) for number in range(PROCESSES)]

    # Each process says it serves two of the six streams, and Envoy agrees.
    async def two_each() -> bool:
        return [await balanced.live_streams(process) for process in balanced.processes] == [2] * PROCESSES

    await eventually(two_each, "two live streams on each process")
    assert [host["rq_active"] for host in (await balanced.upstreams()).values()] == [2] * PROCESSES

    victim, *survivors = balanced.processes
    halfway, ended = asyncio.Event(), asyncio.Event()
    sender = ChatClient(balanced.target, token("teacher", "instructor"), initial_backoff=0.05)

    async def send_all() -> list[pb.ChatMessage]:
        sent = []
        for number in range(MESSAGES):
            if number == MESSAGES // 3:
                halfway.set()  # the victim ends while the next third is sent
            if number == 2 * MESSAGES // 3:
                await ended.wait()  # and the last third goes after it, for certain
            sent.append(await sender.send_message(session, f"m{number}"))
        return sent

    sending = asyncio.create_task(send_all())
    await halfway.wait()
    if ending == "SIGKILL":
        await victim.kill()  # to its PID: no goodbye to Envoy or to anyone
    else:
        assert await victim.stop() == 0
    ended.set()
    sent = await sending

    expected = [f"m{number}" for number in range(MESSAGES)]
    for native in natives:
        await native.wait_for(lambda events, native=native: len(native.texts()) >= MESSAGES, "every message")
    for web in webs:
        await web.wait_for(lambda events, web=web: len(web.texts()) >= MESSAGES, "every message")
    # Exactly the messages sent, in order, once each, whoever lost their process.
    assert len({message.message_id for message in sent}) == MESSAGES
    for native in natives:
        assert native.texts() == expected
        assert len(set(native.sequences())) == len(native.sequences())
    for web in webs:
        assert web.texts() == expected, web.endings
        assert len(set(web.sequences())) == len(web.sequences())

    # The victim's two clients, one of each kind, saw their stream end and resumed from their
    # last sequence; the other four kept theirs.
    assert [native.client.reconnects > 0 for native in natives].count(True) == 1, [n.client.reconnects for n in natives]
    assert [web.reconnects > 0 for web in webs].count(True) == 1, [w.endings for w in webs]
    for native in natives:
        starts = [e.stream_started for e in native.events if e.WhichOneof("kind") == "stream_started"]
        assert started_again_where_it_left(starts)
    for web in webs:
        assert started_again_where_it_left(web.starts)
    if ending == "SIGTERM":  # the browser was told why, in the grpc-web trailer
        [ended_web] = [web for web in webs if web.reconnects]
        assert "'grpc-status': '14'" in ended_web.endings[0], ended_web.endings

    # Envoy took the victim out of rotation, and the survivors hold all six streams.
    async def victim_out() -> bool:
        return bool((await balanced.upstreams())[victim.target]["failed"])

    await eventually(victim_out, "Envoy to take the ended process out of rotation")

    async def six_on_survivors() -> bool:
        return sum([await balanced.live_streams(process) for process in survivors]) == 2 * PROCESSES

    await eventually(six_on_survivors, "the six streams on the two surviving processes")

    history = await sender.stub.ListMessages(pb.ListMessagesRequest(session_id=session, page_size=100), metadata=sender.metadata)
    assert [message.text for message in reversed(history.messages)] == expected  # stored once each (newest first)

    await sender.close()
