"""Settings from `CHATSVC_*` environment variables (flags override them)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chatsvc.errors import StartupError
from chatsvc.logs import LOG_FORMATS
from chatsvc.settings_loader import load, setting, variables, word_list
from chatsvc.word_file import LANGUAGES as PROFANITY_LANGUAGES
from chatsvc.word_file import read_word_file

__all__ = ["Settings", "StartupError", "listen_address", "normalize_database_url", "sync_database_url"]

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DATABASE_FILE = "chatsvc.db"
SECRET_FILE = ".chatsvc-jwt-secret"
# HS256 with a shorter secret can be brute-forced offline from one token (RFC 7518
# section 3.2 asks for a key at least as long as the hash: 256 bits).
MIN_SECRET_BYTES = 32
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
ENV_PREFIX = "CHATSVC_"


@dataclass
class Settings:
    """The server's settings. Each field is read from `CHATSVC_<NAME>` unless `setting(env=...)` names
    another variable (see settings_loader.py); `chatsvc serve --help` lists them and the README explains them."""

    listen: str = DEFAULT_LISTEN
    database_url: str = setting(f"sqlite:///{DEFAULT_DATABASE_FILE}", parse=lambda url: normalize_database_url(url))
    redis_url: str | None = None
    # Threads that run SQL (and connections in the pool): on PostgreSQL, writes of different
    # sessions run in parallel, each waiting for its round trips (chatsvc bench --sessions 100:
    # p50 162 ms with 4, 35 ms with 12).
    database_threads: int = 4
    # HS256 secret; when neither it nor a public key is configured, a random
    # secret is created once and kept in SECRET_FILE (never a well-known default).
    jwt_secret: str | None = None
    # PEM public key: when set, tokens are verified with RS256 instead.
    jwt_public_key: str | None = setting(None, env="CHATSVC_JWT_PUBLIC_KEY_FILE", parse=lambda path: _read_file(path))
    # An identity provider's key set (JWKS): when set, tokens are verified with the key their `kid`
    # names (RS*, PS*, ES*, EdDSA), instead of the secret or the public key above.
    jwt_jwks_url: str | None = None
    # Cached keys are fetched again in the background once this old (a key the provider removed
    # stops working then); a token naming an unknown key fetches at once, at most once per cooldown.
    jwt_jwks_cache_seconds: float = 300.0
    jwt_jwks_cooldown_seconds: float = 10.0
    # Checked when set: the token's `iss` must be this, its `aud` must hold this.
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    # Where the token keeps the user id, display name, role and sessions (an identity provider may
    # use a namespaced claim such as `https://example.com/role`, or a `roles` list).
    jwt_user_claim: str = "sub"
    jwt_name_claim: str = "name"
    jwt_role_claim: str = "role"
    jwt_sessions_claim: str = "sessions"
    # TLS on the gRPC port (PEM files, re-read when they change or on SIGHUP); a client CA requires
    # every client to present a certificate it signed (mTLS).
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_client_ca_file: str | None = None
    # An Ed25519 private key (PEM) that signs the chain head of JSON exports; unset: unsigned.
    export_signing_key: str | None = None
    max_message_length: int = 2000
    # How many recent messages a join snapshot carries.
    snapshot_messages: int = 50
    # A resume that missed more events than this gets a fresh snapshot instead.
    replay_limit: int = 5000
    # Events a subscriber may have pending before its stream is ended.
    subscriber_buffer: int = 5000
    # Messages of one session waiting to be stored; past this, sends are refused
    # (RESOURCE_EXHAUSTED, retry shortly) instead of queueing without bound.
    max_sends_in_flight: int = 2000
    # Largest response message a stream writer builds from pending events.
    batch_bytes: int = 64 * 1024
    # In sessions with at least this many subscribers here, an idle stream
    # writer waits up to this long after its first pending event, so that
    # events arriving close together share one write (0 = write at once).
    stream_write_delay_ms: float = 0.0
    stream_write_delay_min_subscribers: int = 100
    # Joins of one session are handled in batches that start at most this often during a
    # storm (a join into a quiet session goes at once): each batch's `user_joined` events
    # reach every stream in one write.
    join_batch_window_ms: float = 200.0
    # A user whose last stream ends stays present this long: a stream that drops and comes back
    # within it (a network blip, a slow consumer told to resume) announces no leave and no join.
    presence_grace_seconds: float = 3.0
    shutdown_grace_seconds: float = 5.0
    # With Redis: how often each process compares its sessions with the
    # database to fetch events that pub/sub lost.
    fanout_check_seconds: float = 1.0
    # With Redis: how long a process stays subscribed to a session after its last local subscriber left.
    fanout_linger_seconds: float = 5.0
    # With Redis: a crashed process's users leave the online list within about this long.
    presence_ttl_seconds: float = 15.0
    # With Redis: the one connection pool this process shares (fan-out, presence,
    # typing, rate limits). A burst waits up to redis_wait_seconds for a free
    # connection instead of failing; the pub/sub listener has one more of its own.
    redis_max_connections: int = 50
    redis_wait_seconds: float = 5.0
    # Calls that may wait for the server to take them (a burst of joins); past this
    # grpc cancels new calls before the service sees them.
    max_pending_calls: int = 20000
    # Dead connections: ping after this much silence, give up after the timeout.
    keepalive_seconds: float = 30.0
    keepalive_timeout_seconds: float = 10.0
    # Rate limits per user per session (instructors are exempt).
    message_rate_limit: int = 5
    message_rate_window_seconds: int = 10
    reaction_rate_limit: int = 10
    reaction_rate_window_seconds: int = 60
    # Poll votes (a changed vote counts again).
    vote_rate_limit: int = 10
    vote_rate_window_seconds: int = 60
    # A poll's tally goes out at most once per this interval, however many votes arrive.
    poll_tally_interval_ms: float = 500.0
    # Read marks arriving within this window share one transaction (and one count update for instructors).
    read_flush_ms: float = 200.0
    # Profanity strikes: this many within the window mute the author automatically.
    strike_window_seconds: int = 3600
    strikes_before_mute: int = 3
    auto_mute_minutes: int = 15
    profanity_extra_words: list[str] = setting(env="CHATSVC_PROFANITY_ADD", default_factory=list)
    profanity_allowed_words: list[str] = setting(env="CHATSVC_PROFANITY_ALLOW", default_factory=list)
    # A word file (`+word`, `+word:severe`, `-word`, `#` comments) added to the two lists above at load.
    profanity_file: str | None = None
    # Word lists of other languages the profanity filter also uses (chatsvc/domain/wordlists: fr, de, es).
    profanity_languages: list[str] = setting(parse=lambda value: _languages(value), default_factory=list)
    # Interaction: the allowed reactions, and how long a typing indicator lasts unless refreshed.
    reactions: tuple[str, ...] = ("\N{THUMBS UP SIGN}", "\N{CLAPPING HANDS SIGN}", "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}", "\N{FIRE}")
    typing_timeout_seconds: float = 5.0
    # How often live streams are checked against their token's expiry: a stream
    # outlives its token by at most this long (a check costs ~0.25 µs per live
    # stream, and only when some token's expiry has passed).
    token_check_seconds: float = 1.0
    # Live streams (StreamEvents and Subscribe) one user may hold open in one session, and in
    # all sessions together, counted per server process: a person with a few tabs and devices.
    max_streams_per_session: int = 10
    max_streams_per_user: int = 20
    # Without Redis one process serves a database: it holds a lease there, valid this long and
    # renewed this often; a crashed process's lease is taken over once it expires.
    lease_seconds: float = 30.0
    lease_renew_seconds: float = 10.0
    # Operations (README, Operations): Prometheus metrics on http://HOST:PORT/metrics (off when unset);
    # the log as text or one JSON object per line; one access-log line per unary call and per stream end.
    metrics_listen: str | None = None
    log_format: str = setting("text", parse=lambda value: _log_format(value))
    access_log: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        settings = load(cls, ENV_PREFIX, env)
        if settings.profanity_file:
            try:
                extra, allowed = read_word_file(settings.profanity_file)
            except OSError as error:
                raise StartupError(f"CHATSVC_PROFANITY_FILE: cannot read {settings.profanity_file}: {error.strerror}") from None
            except ValueError as error:
                raise StartupError(f"CHATSVC_PROFANITY_FILE: {error}") from None
            settings.profanity_extra_words = [*settings.profanity_extra_words, *extra]
            settings.profanity_allowed_words = [*settings.profanity_allowed_words, *allowed]
        return settings

    @classmethod
    def variables(cls) -> list[str]:
        """Every CHATSVC_* variable the server reads."""
        return list(variables(cls, ENV_PREFIX))

    def resolve_jwt_secret(self, *, create: bool = True) -> str | None:
        """The HS256 secret in force, creating the local one on first use (unless `create` is False:
        then StartupError when there is none)."""
        if self.jwt_secret or self.jwt_public_key or self.jwt_jwks_url:
            return self.jwt_secret
        path = Path(SECRET_FILE)
        if not path.exists():
            if not create:
                raise StartupError(
                    f"no JWT secret: CHATSVC_JWT_SECRET is not set and there is no {SECRET_FILE} in {Path.cwd()}; "
                    "run this in the directory where chatsvc serve runs, or set CHATSVC_JWT_SECRET to the server's secret"
                )
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        self.jwt_secret = path.read_text().strip()
        return self.jwt_secret

    def check(self) -> None:
        """Refuse, with one line, settings the server cannot run with safely (before anything starts)."""
        listen_address(self.listen)
        self.check_secret()
        self.check_tls()
        if self.jwt_jwks_url and not self.jwt_jwks_url.startswith(("https://", "http://")):
            raise StartupError(f"CHATSVC_JWT_JWKS_URL {self.jwt_jwks_url!r} must be an https:// (or http://) URL")

    def check_tls(self) -> None:
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise StartupError("TLS needs both a certificate and its key: give --tls-cert and --tls-key (CHATSVC_TLS_CERT_FILE, CHATSVC_TLS_KEY_FILE)")
        if self.tls_client_ca_file and not self.tls_cert_file:
            raise StartupError("--tls-client-ca (CHATSVC_TLS_CLIENT_CA_FILE) needs TLS: give --tls-cert and --tls-key too")

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)

    def check_secret(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise StartupError(
                f"CHATSVC_JWT_SECRET is {len(self.jwt_secret.encode())} bytes; use at least {MIN_SECRET_BYTES} "
                "random bytes (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )


def listen_address(value: str) -> tuple[str, int]:
    """HOST:PORT split and checked (port 0 picks a free one); StartupError when it is not one."""
    host, separator, port = value.rpartition(":")
    if not separator or not host:
        raise StartupError(f"--listen {value!r} needs a host and a port, e.g. 127.0.0.1:50051 or [::]:50051")
    if not port.isdigit() or int(port) > 65535:
        raise StartupError(f"--listen {value!r}: the port must be a number from 0 to 65535")
    return host, int(port)


def _read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise StartupError(f"cannot read {path}: {error.strerror}") from None


def _log_format(value: str) -> str:
    if value.lower() not in LOG_FORMATS:
        raise StartupError(f"must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value.lower()


def _languages(value: str) -> list[str]:
    languages = word_list(value.lower())
    unknown = sorted(set(languages) - set(PROFANITY_LANGUAGES))
    if unknown:
        raise StartupError(f"no word list for {', '.join(unknown)}; choose from {', '.join(PROFANITY_LANGUAGES)}")
    return languages


def normalize_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs (and older ones naming asyncio drivers);
    pick the driver the server uses."""
    scheme, separator, _ = url.partition("://")
    if not separator or scheme.split("+", 1)[0] not in DATABASE_SCHEMES:
        raise StartupError(
            f"database URL {url!r} is not supported; use sqlite:///PATH or postgresql://USER@HOST:PORT/DATABASE"
        )
    return sync_database_url(url)


def sync_database_url(url: str) -> str:
    """The URL with the synchronous driver this module uses, whatever driver it named.

    Older configurations name the asyncio drivers (`sqlite+aiosqlite`,
    `postgresql+asyncpg`); they keep working.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    dialect = scheme.split("+", 1)[0]
    if dialect in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if dialect == "sqlite":
        return f"sqlite://{rest}"
    return url
