"""Addresses of `chatsvc serve --web`: parsing host:port, where to connect, and browser origins."""

from __future__ import annotations

import ipaddress

DEFAULT_WEB_LISTEN = "127.0.0.1:8080"
DEFAULT_PANEL_LISTEN = "127.0.0.1:8081"
DEFAULT_GRPC_UPSTREAM = "127.0.0.1:50051"


def split_host_port(address: str) -> tuple[str, int]:
    """'127.0.0.1:8080' -> ('127.0.0.1', 8080); '[::1]:8080' -> ('::1', 8080); ':8080' -> ('0.0.0.0', 8080)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected host:port, got {address!r}")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def is_ip(host: str) -> bool:
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


def origins_for(address: str, *, secure: bool = False) -> list[str]:
    """The browser origins of a page served on `address` (loopback gets both spellings)."""
    host, port = split_host_port(address)
    if port == 0:
        return []
    if host in ("127.0.0.1", "localhost", "0.0.0.0", "::", "::1"):
        names = ["127.0.0.1", "localhost"] + (["[::1]"] if ":" in host else [])
    else:
        names = [f"[{host}]" if ":" in host else host]
    scheme = "https" if secure else "http"
    return [f"{scheme}://{name}:{port}" for name in names]
