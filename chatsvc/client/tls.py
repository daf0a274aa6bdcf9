"""TLS for `ChatClient`: which CA to trust and which certificate to present."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc


@dataclass(frozen=True)
class TlsOptions:
    """TLS to the server: trust `ca_file` (None: the system's roots), present `cert_file` and
    `key_file` when the server requires client certificates (mTLS), and check the server's
    certificate for `server_name` instead of the target's host (a server reached by address)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("a client certificate needs its key: give both cert_file and key_file")

    def credentials(self) -> grpc.ChannelCredentials:
        """The channel credentials (the files are read now)."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file),
        )

    def channel_options(self) -> list[tuple[str, object]]:
        return [("grpc.ssl_target_name_override", self.server_name)] if self.server_name else []


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None
