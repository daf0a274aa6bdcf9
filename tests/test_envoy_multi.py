"""One real Envoy in front of three `chatsvc serve` processes (PostgreSQL and Redis shared), as
`chatsvc envoy-config --grpc-upstream A --grpc-upstream B --grpc-upstream C` renders it: native
gRPC and grpc-web clients are spread over the processes, one process is killed mid-class, and
every client resumes through Envoy with nothing lost or doubled."""

from __future__ import annotations

import asyncio
import re
import urllib.request
import uuid
from pathlib import Path

import aiohttp
import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.client import ChatClient
from chatsvc.web.envoy_config import render_envoy_config
from chatsvc.web.envoy_process import EnvoyProcess
from tests.grpcweb import FrameReader, GrpcWebClient
from tests.helpers import EVENT_TIMEOUT, SECRET, ServerProcess, server_env
from tests.support.servers import free_port
from tests.test_envoy import SERVICE, auth, validate
from tests.test_scale_out import Collector, token

ROOT = Path(__file__).resolve().parent.parent
UPSTREAMS = ["127.0.0.1:50051", "127.0.0.1:50052", "127.0.0.1:50053"]
# Short for the test; the rendering's default is 2 s.
HEALTH_CHECK_INTERVAL = "0.2s"


def test_envoy_multi_yaml_is_the_rendering_for_three_processes_and_envoy_validates_it():
    committed = (ROOT / "envoy" / "envoy-multi.yaml").read_text()
    assert committed == render_envoy_config(grpc_upstream=UPSTREAMS), (
        "envoy/envoy-multi.yaml is stale: run `chatsvc envoy-config "
        + " ".join(f"--grpc-upstream {u}" for u in UPSTREAMS)
        + " > envoy/envoy-multi.yaml`"
    )
    for needed in ("lb_policy: LEAST_REQUEST", "grpc_health_check", "retry_on: connect-failure,refused-stream", "port_value: 50053"):
        assert needed in committed, needed
    result = validate(ROOT / "envoy" / "envoy-multi.yaml")
    assert result.returncode == 0, result.stderr


class WebSubscriber:
    """A browser's feed through Envoy's grpc-web bridge: Subscribe, and after the stream ends
    (its process died), Subscribe again from the last sequence it received, as the panel does."""

    def __init__(self, base_url: str, session: str, user_id: str) -> None:
        self.client = GrpcWebClient(base_url)
        self.session, self.user_id = session, user_id
        self.events: list[pb.Event] = []
        self.streams = 0
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        last = 0
        while True:
            request = pb.SubscribeRequest(session_id=self.session, last_sequence=last).SerializeToString()
            try:
                async with self.client.post(f"{SERVICE}/Subscribe", request, auth(self.user_id)) as response:
                    self.streams += 1
                    reader = FrameReader(response)
                    while (item := await reader.next()) is not None:
                        is_trailer, payload = item
                        if is_trailer:
                            break  # ended (UNAVAILABLE when its process died): resume
                        for event in pb.SubscribeResponse.FromString(payload).events:
                            if event.sequence and event.sequence <= last:
                                continue
                            if event.WhichOneof("kind") == "stream_started" and not event.stream_started.recovered:
                                last = event.stream_started.snapshot.as_of_sequence
                            last = max(last, event.sequence)
                            self.events.append(event)
                            self._changed.set()
            except (aiohttp.ClientError, OSError):  # the connection broke: resume
                pass
            await asyncio.sleep(0.1)

    def texts(self) -> list[str]:
        return [e.message_posted.text for e in self.events if e.WhichOneof("kind") == "message_posted"]

    async def wait_for(self, predicate, what: str) -> None:
        async def until() -> None:
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(until(), EVENT_TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}; got {self.texts()}") from None

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()


def live_streams(metrics_port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    return int(float(re.search(r"^chatsvc_live_streams (\S+)$", text, re.M).group(1)))


@pytest.fixture
async def three(tmp_path, postgres_url, redis_server):
    """Three processes on PostgreSQL and Redis, each serving metrics; one Envoy in front."""
    env = server_env(
        CHATSVC_DATABASE_URL=postgres_url,
        CHATSVC_REDIS_URL=redis_server.url,
        CHATSVC_JWT_SECRET=SECRET,
        CHATSVC_FANOUT_CHECK_SECONDS="0.2",
        CHATSVC_PRESENCE_GRACE_SECONDS="0",
    )
    metrics = [free_port() for _ in range(3)]
    processes = [await ServerProcess.start(tmp_path, env, "--metrics-listen", f"127.0.0.1:{port}") for port in metrics]
    envoy = EnvoyProcess(
        render_envoy_config(
            listen="127.0.0.1:0",
            grpc_upstream=[process.target for process in processes],
            panel_upstream=f"127.0.0.1:{free_port()}",
            allowed_origins=["*"],
            health_check_interval=HEALTH_CHECK_INTERVAL,
        )
    )
    await envoy.start()
    yield processes, metrics, envoy
    await envoy.stop()
    for process in processes:
        await process.kill()


async def test_clients_of_both_kinds_spread_over_three_processes_resume_through_envoy_when_one_is_killed(three):
    processes, metrics, envoy = three
    session = f"multi-{uuid.uuid4().hex[:8]}"
    through_envoy = f"127.0.0.1:{envoy.port}"
    natives = [Collector(ChatClient(through_envoy, token(f"native{n}")), session) for n in range(6)]
    browsers = [WebSubscriber(f"http://{through_envoy}", session, f"browser{n}") for n in range(6)]
    for native in natives:
        await native.wait_for(lambda events: events, "the join")
    for browser in browsers:
        await browser.wait_for(lambda b: b.events, "the join through grpc-web")

    # Envoy spread the twelve streams over the processes.
    streams = [await asyncio.to_thread(live_streams, port) for port in metrics]
    assert sum(streams) == 12 and sum(1 for count in streams if count) >= 2, streams
    doomed = max(range(3), key=lambda index: streams[index])

    teacher = ChatClient(through_envoy, token("teacher", "instructor"))
    for number in range(5):
        await teacher.send_message(session, f"before {number}")
    await processes[doomed].kill()  # SIGKILL, mid-class
    for number in range(5):
        # Through Envoy: a call that would have gone to the dead process goes to another one.
        await teacher.send_message(session, f"after {number}")
    expected = [f"before {n}" for n in range(5)] + [f"after {n}" for n in range(5)]
    for native in natives:
        await native.wait_for(lambda events, c=native: c.texts() == expected, "every message, once, in order")
    for browser in browsers:
        await browser.wait_for(lambda b: b.texts() == expected, "every message through grpc-web, once, in order")

    # The clients of the killed process (and only they) came back on a new stream, resuming.
    resumed_natives = [n for n in natives if sum(e.WhichOneof("kind") == "stream_started" for e in n.events) > 1]
    resumed_browsers = [b for b in browsers if b.streams > 1]
    assert len(resumed_natives) + len(resumed_browsers) == streams[doomed]
    for client in [*resumed_natives, *resumed_browsers]:
        starts = [e.stream_started for e in client.events if e.WhichOneof("kind") == "stream_started"]
        assert all(start.recovered for start in starts[1:])  # resumed from the last sequence, no fresh snapshot
    survivors = [await asyncio.to_thread(live_streams, port) for index, port in enumerate(metrics) if index != doomed]
    assert sum(survivors) == 12

    await teacher.close()
    for native in natives:
        await native.stop()
    for browser in browsers:
        await browser.stop()
