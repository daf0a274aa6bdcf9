"""The panel's static files over HTTP/1.1, served from a thread (never on the event loop)."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from chatsvc.web.addresses import DEFAULT_PANEL_LISTEN, split_host_port

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


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
