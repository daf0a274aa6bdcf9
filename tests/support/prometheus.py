"""A real Prometheus for tests: Debian's `prometheus` package (installed with apt-get when missing,
as tests/test_browser.py installs Chromium), run on free ports with a throwaway data directory,
scraping what a test names every second; queried through its HTTP API (/api/v1/query).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from chatsvc.processes import Child, wait_until_ready
from tests.support.servers import free_port

T = TypeVar("T")

PROMETHEUS = os.environ.get("CHATSVC_TEST_PROMETHEUS", "/usr/bin/prometheus")
SCRAPE_SECONDS = 1
START_TIMEOUT = 60.0
# Long enough for a few scrapes and a rule evaluation after the workload, short enough to fail fast.
QUERY_TIMEOUT = 20.0


def prometheus_binary(say: Callable[[str], None]) -> str:
    """Debian's prometheus, installed with apt-get (without its recommended exporters) when missing;
    a test fails, with the reason, where it cannot be installed."""
    if Path(PROMETHEUS).exists():
        return PROMETHEUS
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        pytest.fail(
            f"Prometheus is missing ({PROMETHEUS}) and cannot be installed here ({'no apt-get' if apt is None else 'not root'}): "
            "run `apt-get install -y --no-install-recommends prometheus` or set CHATSVC_TEST_PROMETHEUS to a prometheus binary",
            pytrace=False,
        )
    say(f"{PROMETHEUS} is missing: installing Debian's prometheus with apt-get (about 20 s)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([apt, "update", "-q"], [apt, "install", "-y", "-q", "--no-install-recommends", "prometheus"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
        if result.returncode != 0:
            pytest.fail(f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}", pytrace=False)
    if not Path(PROMETHEUS).exists():
        pytest.fail(f"apt-get installed prometheus but {PROMETHEUS} is still missing", pytrace=False)
    version = subprocess.run([PROMETHEUS, "--version"], capture_output=True, text=True, timeout=60)
    say(f"installed: {(version.stdout or version.stderr).splitlines()[0] if (version.stdout or version.stderr) else 'prometheus'}")
    return PROMETHEUS


def scrape_config(target: str, rule_files: Sequence[Path] = ()) -> str:
    """Prometheus' configuration: scrape `target` (host:port, path /metrics) as job `chatsvc` every second."""
    config = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [{"job_name": "chatsvc", "static_configs": [{"targets": [target]}]}],
    }
    return json.dumps(config, indent=2)  # JSON is YAML


class Prometheus:
    """A running Prometheus; `query` asks its HTTP API (in a thread: urllib blocks)."""

    def __init__(self, child: Child, port: int, directory: Path) -> None:
        self.child = child
        self.url = f"http://127.0.0.1:{port}"
        self.directory = directory

    @classmethod
    async def start(cls, binary: str, target: str, rule_files: Sequence[Path] = ()) -> Prometheus:
        directory = Path(tempfile.mkdtemp(prefix="chatsvc-prometheus-"))
        config = directory / "prometheus.yml"
        config.write_text(scrape_config(target, rule_files))
        port = free_port()
        command = [
            binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.DEVNULL, stderr=(directory / "prometheus.log").open("wb")
        )
        url = f"http://127.0.0.1:{port}"
        await wait_until_ready(process, lambda: _ready(url), name="prometheus", timeout=START_TIMEOUT, grace=10)
        return cls(Child(process, [], grace=10, stop_signal=15), port, directory)

    async def stop(self) -> None:
        await self.child.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        return (self.directory / "prometheus.log").read_text(errors="replace")[-3000:]

    async def api(self, path: str, **parameters: str) -> dict:
        """GET /api/v1/<path>; the `data` of a successful answer (AssertionError with Prometheus' error otherwise)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(parameters)}"
        answer = await asyncio.to_thread(_get_json, url)
        assert answer.get("status") == "success", f"{path} {parameters}: {answer}"
        return answer["data"]

    async def query(self, expression: str) -> list[dict]:
        """The instant vector (or scalar as a one-element list) `expression` evaluates to now."""
        data = await self.api("query", query=expression)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    async def value(self, expression: str) -> float | None:
        """The single number `expression` evaluates to now; None while there is none."""
        result = await self.query(expression)
        assert len(result) <= 1, f"{expression} has {len(result)} series: {result}"
        return float(result[0]["value"][1]) if result else None

    async def until(self, expression: str, expected: Callable[[float | None], bool], what: str) -> float | None:
        """`expression`'s value, once it is as `expected` (Prometheus scrapes every second)."""
        return await eventually(lambda: self.value(expression), expected, f"{what}: {expression}", self.log)


async def eventually(ask: Callable[[], Awaitable[T]], expected: Callable[[T], bool], what: str, log: Callable[[], str] = str) -> T:
    """Ask again (four times per scrape interval) until the answer is as `expected`; an AssertionError
    naming `what` and the last answer after QUERY_TIMEOUT."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + QUERY_TIMEOUT
    while not expected(answer := await ask()):
        if loop.time() > deadline:
            raise AssertionError(f"{what}: still {answer!r} after {QUERY_TIMEOUT:g} s\n{log()}")
        await asyncio.sleep(SCRAPE_SECONDS / 4)
    return answer


async def _ready(url: str) -> bool | None:
    try:
        await asyncio.to_thread(urllib.request.urlopen, f"{url}/-/ready", timeout=2)
    except OSError:
        return None
    return True


def _get_json(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:  # 400/422: a bad query, with Prometheus' reason in the body
        return json.load(error)
