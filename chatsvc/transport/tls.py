"""TLS on the gRPC port: the server's certificate (and for mTLS the CA of client certificates),
re-read when the files change or on SIGHUP, without dropping open connections."""

from __future__ import annotations

import logging
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import grpc

from chatsvc.config import Settings, StartupError

log = logging.getLogger(__name__)

# (inode, size, modification time in ns) of each file: a rename over it or a rewrite both change it.
Stamps = tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class TlsFiles:
    cert: str
    key: str
    # When set, clients must present a certificate this CA signed.
    client_ca: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TlsFiles | None:
        if not settings.tls_cert_file or not settings.tls_key_file:
            return None
        return cls(settings.tls_cert_file, settings.tls_key_file, settings.tls_client_ca_file)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.cert, self.key) if self.client_ca is None else (self.cert, self.key, self.client_ca)


class ServerCertificates:
    """The certificate the gRPC port serves.

    grpc asks `_fetch` (on its own threads, before each TLS handshake) whether to
    use another certificate from now on: it answers with the files' new contents
    once they have changed and form a usable pair, and else keeps the current one.
    A handshake is only ever made with a certificate that loaded, so a rotation
    caught half-written (new certificate, old key) is skipped until the key
    follows. Open connections keep the certificate they were made with: their
    streams go on. `reload()` (SIGHUP) re-reads at once and logs the outcome.
    """

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._stamps = self._stamp()
        try:
            self._current, _ = self._read()
        except (OSError, ValueError) as error:
            raise StartupError(f"TLS: {error}") from None
        self._pending: grpc.ServerCertificateConfiguration | None = None
        self._refused: Stamps | None = None  # the files' state that last failed to load
        self.reloads = 0

    def credentials(self) -> grpc.ServerCredentials:
        # grpc's documentation: the fetcher returns None for "no change"; types-grpcio's stub says it may not.
        fetch = cast(Callable[[], grpc.ServerCertificateConfiguration], self._fetch)
        return grpc.dynamic_ssl_server_credentials(self._current, fetch, require_client_authentication=self.files.client_ca is not None)

    def reload(self) -> bool:
        """Re-read the files now; True when the next connections get what they hold."""
        with self._lock:
            return self._load(self._stamp())

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """grpc's question before a handshake: a new certificate configuration, or None for no change."""
        try:
            with self._lock:
                stamps = self._stamp()
                if stamps != self._stamps and stamps != self._refused:
                    self._load(stamps)
                pending, self._pending = self._pending, None
                return pending
        except Exception:  # never fail a handshake over the reload itself: keep the current certificate
            log.exception("checking the TLS files for changes failed; the current certificate stays in use")
            return None

    def _load(self, stamps: Stamps) -> bool:
        try:
            configuration, read_stamps = self._read()
        except (OSError, ValueError) as error:
            self._refused = stamps
            log.warning("TLS files changed but cannot be used (%s); the previous certificate stays in use", error)
            return False
        if read_stamps != stamps:
            log.info("TLS files changed while being read; looking again at the next connection")
            return False
        self._current = self._pending = configuration
        self._stamps, self._refused = read_stamps, None
        self.reloads += 1
        log.info("TLS certificate re-read from %s; new connections use it", self.files.cert)
        return True

    def _read(self) -> tuple[grpc.ServerCertificateConfiguration, Stamps]:
        """The files as a grpc configuration, checked with Python's ssl module first (a key that
        does not match the certificate, or a file that is no PEM, is a ValueError naming it)."""
        stamps = self._stamp()
        contents = [_read_file(path) for path in self.files.paths]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.files.cert, self.files.key)
        except ssl.SSLError as error:
            raise ValueError(f"{self.files.cert} and {self.files.key} are not a certificate and its key ({error.reason})") from None
        if self.files.client_ca is not None:
            try:
                context.load_verify_locations(cadata=contents[2].decode("ascii", "replace"))
            except ssl.SSLError as error:
                raise ValueError(f"{self.files.client_ca} holds no CA certificate ({error.reason})") from None
        if [_read_file(path) for path in self.files.paths] != contents:
            stamps = ()  # rewritten while being checked: not these stamps
        client_ca = contents[2] if self.files.client_ca is not None else None
        return grpc.ssl_server_certificate_configuration([(contents[1], contents[0])], root_certificates=client_ca), stamps

    def _stamp(self) -> Stamps:
        stamps = []
        for path in self.files.paths:
            try:
                status = os.stat(path)
            except OSError:
                stamps.append((0, 0, 0))
                continue
            stamps.append((status.st_ino, status.st_size, status.st_mtime_ns))
        return tuple(stamps)


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise OSError(f"cannot read {path}: {error.strerror}") from None
