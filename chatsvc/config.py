"""Settings from `CHATSVC_*` environment variables (flags override them)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from chatsvc.domain.profanity import read_word_file
from chatsvc.domain.profanity_words import LANGUAGES as PROFANITY_LANGUAGES

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DATABASE_FILE = "chatsvc.db"
SECRET_FILE = ".chatsvc-jwt-secret"
# HS256 with a shorter secret can be brute-forced offline from one token (RFC 7518
# section 3.2 asks for a key at least as long as the hash: 256 bits).
MIN_SECRET_BYTES = 32
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


class StartupError(Exception):
    """A configuration the server cannot run with; the message is one line an operator can act on."""


@dataclass
class Settings:
    listen: str = DEFAULT_LISTEN
    database_url: str = f"sqlite:///{DEFAULT_DATABASE_FILE}"
    redis_url: str | None = None
    # HS256 secret; when neither it nor a public key is configured, a random
    # secret is created once and kept in SECRET_FILE (never a well-known default).
    jwt_secret: str | None = None
    # PEM public key: when set, tokens are verified with RS256 instead.
    jwt_public_key: str | None = None
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
    shutdown_grace_seconds: float = 5.0
    # With Redis: how often each process compares its sessions with the
    # database to fetch events that pub/sub lost.
    fanout_check_seconds: float = 1.0
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
    # Profanity strikes: this many within the window mute the author automatically.
    strike_window_seconds: int = 3600
    strikes_before_mute: int = 3
    auto_mute_minutes: int = 15
    profanity_extra_words: list[str] = field(default_factory=list)
    profanity_allowed_words: list[str] = field(default_factory=list)
    # Word lists of other languages the profanity filter also uses (chatsvc/domain/wordlists: fr, de, es).
    profanity_languages: list[str] = field(default_factory=list)
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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        settings = cls()
        settings.listen = env.get("CHATSVC_LISTEN", settings.listen)
        if env.get("CHATSVC_DATABASE_URL"):
            settings.database_url = normalize_database_url(env["CHATSVC_DATABASE_URL"])
        settings.redis_url = env.get("CHATSVC_REDIS_URL") or None
        settings.jwt_secret = env.get("CHATSVC_JWT_SECRET") or None
        key_file = env.get("CHATSVC_JWT_PUBLIC_KEY_FILE")
        if key_file:
            settings.jwt_public_key = _read("CHATSVC_JWT_PUBLIC_KEY_FILE", key_file)
        for names, kind in ((INTEGER_SETTINGS, int), (FLOAT_SETTINGS, float)):
            for name in names:
                value = env.get(f"CHATSVC_{name.upper()}")
                if value:
                    setattr(settings, name, _number(f"CHATSVC_{name.upper()}", value, kind))
        settings.profanity_extra_words = _word_list(env.get("CHATSVC_PROFANITY_ADD", ""))
        settings.profanity_allowed_words = _word_list(env.get("CHATSVC_PROFANITY_ALLOW", ""))
        settings.profanity_languages = _word_list(env.get("CHATSVC_PROFANITY_LANGUAGES", "").lower())
        unknown = sorted(set(settings.profanity_languages) - set(PROFANITY_LANGUAGES))
        if unknown:
            raise ValueError(
                f"CHATSVC_PROFANITY_LANGUAGES: no word list for {', '.join(unknown)}; "
                f"choose from {', '.join(PROFANITY_LANGUAGES)}"
            )
        if env.get("CHATSVC_PROFANITY_FILE"):
            try:
                extra, allowed = read_word_file(env["CHATSVC_PROFANITY_FILE"])
            except OSError as error:
                raise StartupError(f"CHATSVC_PROFANITY_FILE: cannot read {env['CHATSVC_PROFANITY_FILE']}: {error.strerror}") from None
            settings.profanity_extra_words += extra
            settings.profanity_allowed_words += allowed
        if env.get("CHATSVC_REACTIONS"):
            settings.reactions = tuple(_word_list(env["CHATSVC_REACTIONS"]))
        if typing_timeout := env.get("CHATSVC_TYPING_TIMEOUT_SECONDS"):
            settings.typing_timeout_seconds = _number("CHATSVC_TYPING_TIMEOUT_SECONDS", typing_timeout, float)
        return settings

    def resolve_jwt_secret(self, *, create: bool = True) -> str | None:
        """The HS256 secret in force, creating the local one on first use (unless `create` is False:
        then StartupError when there is none)."""
        if self.jwt_secret or self.jwt_public_key:
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

    def check_secret(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise StartupError(
                f"CHATSVC_JWT_SECRET is {len(self.jwt_secret.encode())} bytes; use at least {MIN_SECRET_BYTES} "
                "random bytes (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )


INTEGER_SETTINGS = (
    "max_message_length",
    "snapshot_messages",
    "replay_limit",
    "max_sends_in_flight",
    "subscriber_buffer",
    "batch_bytes",
    "stream_write_delay_min_subscribers",
    "message_rate_limit",
    "message_rate_window_seconds",
    "reaction_rate_limit",
    "reaction_rate_window_seconds",
    "strike_window_seconds",
    "strikes_before_mute",
    "auto_mute_minutes",
    "max_streams_per_session",
    "max_streams_per_user",
    "redis_max_connections",
    "max_pending_calls",
)

FLOAT_SETTINGS = (
    "stream_write_delay_ms",
    "fanout_check_seconds",
    "presence_ttl_seconds",
    "keepalive_seconds",
    "keepalive_timeout_seconds",
    "token_check_seconds",
    "lease_seconds",
    "lease_renew_seconds",
    "redis_wait_seconds",
)


def listen_address(value: str) -> tuple[str, int]:
    """HOST:PORT split and checked (port 0 picks a free one); StartupError when it is not one."""
    host, separator, port = value.rpartition(":")
    if not separator or not host:
        raise StartupError(f"--listen {value!r} needs a host and a port, e.g. 127.0.0.1:50051 or [::]:50051")
    if not port.isdigit() or int(port) > 65535:
        raise StartupError(f"--listen {value!r}: the port must be a number from 0 to 65535")
    return host, int(port)


def _number(name: str, value: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise StartupError(f"{name} must be {'an integer' if kind is int else 'a number'}, not {value!r}") from None


def _read(name: str, path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise StartupError(f"{name}: cannot read {path}: {error.strerror}") from None


def _word_list(value: str) -> list[str]:
    return [word.strip() for word in value.split(",") if word.strip()]


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
