"""A minimal grpc-web client for tests, framing by hand over aiohttp.

It shows the bytes as a browser sees them: the HTTP status and headers,
each length-prefixed data frame, and the trailer frame (flag 0x80) that
carries `grpc-status` / `grpc-message` in the body.
"""

from __future__ import annotations

import ssl
import struct
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp

CONTENT_TYPE = "application/grpc-web+proto"
TRAILER_FLAG = 0x80


def frame(message: bytes) -> bytes:
    return struct.pack(">BI", 0, len(message)) + message


def parse_trailers(block: bytes) -> dict[str, str]:
    trailers = {}
    for line in block.decode().split("\r\n"):
        if line:
            key, _, value = line.partition(":")
            trailers[key.strip().lower()] = value.strip()
    return trailers


@dataclass
class WebCall:
    """One grpc-web call's outcome."""

    http_status: int
    headers: dict[str, str]
    messages: list[bytes] = field(default_factory=list)
    # From the trailer frame; empty for a trailers-only answer (status in the headers).
    trailers: dict[str, str] = field(default_factory=dict)

    @property
    def grpc_status(self) -> int | None:
        value = self.trailers.get("grpc-status", self.headers.get("grpc-status"))
        return None if value is None else int(value)

    @property
    def grpc_message(self) -> str:
        return unquote(self.trailers.get("grpc-message", self.headers.get("grpc-message", "")))


class FrameReader:
    """Reads grpc-web frames from a streaming response body as they arrive."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def next(self) -> tuple[bool, bytes] | None:
        """(is_trailer, payload), or None at the end of the body."""
        try:
            header = await self.response.content.readexactly(5)
        except aiohttp.ClientPayloadError:
            raise
        except Exception:  # IncompleteReadError at a clean end of the body
            return None
        flags, length = struct.unpack(">BI", header)
        payload = await self.response.content.readexactly(length)
        return bool(flags & TRAILER_FLAG), payload


class GrpcWebClient:
    """`base_url` is Envoy's listener, e.g. http://127.0.0.1:PORT (https:// with `ssl_context`)."""

    def __init__(self, base_url: str, *, origin: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.origin = origin
        connector = aiohttp.TCPConnector(ssl=ssl_context) if ssl_context is not None else None
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10), connector=connector)

    def headers(self, metadata: dict[str, str] | None) -> dict[str, str]:
        headers = {"content-type": CONTENT_TYPE, "x-grpc-web": "1", "x-user-agent": "sessionchat-tests"}
        if self.origin:
            headers["origin"] = self.origin
        headers.update(metadata or {})
        return headers

    def post(self, method: str, request: bytes, metadata: dict[str, str] | None = None):
        """The raw response (a context manager) of a call; read it with FrameReader."""
        return self.session.post(f"{self.base_url}/{method}", data=frame(request), headers=self.headers(metadata))

    async def call(self, method: str, request: bytes, metadata: dict[str, str] | None = None) -> WebCall:
        """A unary (or finite server-streaming) call, read to its end."""
        async with self.post(method, request, metadata) as response:
            call = WebCall(response.status, {k.lower(): v for k, v in response.headers.items()})
            reader = FrameReader(response)
            while (item := await reader.next()) is not None:
                is_trailer, payload = item
                if is_trailer:
                    call.trailers = parse_trailers(payload)
                else:
                    call.messages.append(payload)
            return call

    async def close(self) -> None:
        await self.session.close()
