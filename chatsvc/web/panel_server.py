"""The panel's static files over HTTP/1.1, served from a thread (never on the event loop)."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from chatsvc.web.addresses import DEFAULT_PANEL_LISTEN, split_host_port

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"


class _PanelHandler(SimpleHTTPRequestHandler):
    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, ".js": "text/javascript", ".html": "text/html; charset=utf-8"}
    server: _PanelHTTPServer

    def do_GET(self) -> None:
        if not self._answered_here():
            super().do_GET()

    def do_HEAD(self) -> None:
        if not self._answered_here():
            super().do_HEAD()

    def _answered_here(self) -> bool:
        """Answers the requests the files do not: the browser's icon, and a panel opened here directly."""
        path, _, query = self.path.partition("?")
        if path == "/favicon.ico":
            # The panel has no icon; "no content" keeps browsers from logging a 404 on every load.
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()
            return True
        envoy_port = self.server.envoy_port
        # A panel loaded from here would speak grpc-web to this server, which answers 501: send
        # the browser to Envoy on the same host. Requests Envoy forwards carry x-forwarded-proto;
        # a page given its own ?endpoint= is left alone.
        if path in ("/", "/index.html") and envoy_port and "x-forwarded-proto" not in self.headers and "endpoint" not in parse_qs(query):
            host = urlsplit(f"//{self.headers.get('Host', '')}").hostname or str(self.connection.getsockname()[0])
            host = f"[{host}]" if ":" in host else host
            self.send_response(HTTPStatus.TEMPORARY_REDIRECT)
            self.send_header("Location", f"http://{host}:{envoy_port}/" + (f"?{query}" if query else ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return True
        return False

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def list_directory(self, path):  # no directory listings
        self.send_error(404)
        return None

    def log_message(self, format: str, *args) -> None:
        log.debug("panel: " + format, *args)


class _PanelHTTPServer(ThreadingHTTPServer):
    # Envoy's port once it serves: a browser that opens the panel here is sent there.
    envoy_port = 0


class PanelServer:
    """The static panel files over HTTP/1.1, served from a thread (never on the event loop)."""

    def __init__(self, listen: str = DEFAULT_PANEL_LISTEN, directory: Path = STATIC_DIR) -> None:
        if not (directory / "index.html").exists():
            raise FileNotFoundError(f"the panel's files are missing from {directory}")
        host, port = split_host_port(listen)
        handler = functools.partial(_PanelHandler, directory=str(directory))
        self.httpd = _PanelHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="chatsvc-panel", daemon=True)

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def send_browsers_to(self, envoy_port: int) -> None:
        """Redirect a browser that opens the panel on this server to Envoy's port on the same host."""
        self.httpd.envoy_port = envoy_port

    async def stop(self) -> None:
        await asyncio.to_thread(self.httpd.shutdown)
        self.httpd.server_close()
