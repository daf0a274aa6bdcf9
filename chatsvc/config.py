"""Settings from `CHATSVC_*` environment variables (flags override them)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_LISTEN = "127.0.0.1:50051"
DEFAULT_DATABASE_FILE = "chatsvc.db"
SECRET_FILE = ".chatsvc-jwt-secret"


@dataclass
class Settings:
    listen: str = DEFAULT_LISTEN
    database_url: str = f"sqlite+aiosqlite:///{DEFAULT_DATABASE_FILE}"
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
    # Largest response message a stream writer builds from pending events.
    batch_bytes: int = 64 * 1024
    shutdown_grace_seconds: float = 5.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        settings = cls()
        settings.listen = env.get("CHATSVC_LISTEN", settings.listen)
        if env.get("CHATSVC_DATABASE_URL"):
            settings.database_url = normalize_database_url(env["CHATSVC_DATABASE_URL"])
        settings.redis_url = env.get("CHATSVC_REDIS_URL") or None
        settings.jwt_secret = env.get("CHATSVC_JWT_SECRET") or None
        key_file = env.get("CHATSVC_JWT_PUBLIC_KEY_FILE")
        if key_file:
            settings.jwt_public_key = Path(key_file).read_text()
        for name in ("max_message_length", "snapshot_messages", "replay_limit", "subscriber_buffer", "batch_bytes"):
            value = env.get(f"CHATSVC_{name.upper()}")
            if value:
                setattr(settings, name, int(value))
        return settings

    def resolve_jwt_secret(self) -> str | None:
        """The HS256 secret in force, creating the local one on first use."""
        if self.jwt_secret or self.jwt_public_key:
            return self.jwt_secret
        path = Path(SECRET_FILE)
        if not path.exists():
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        self.jwt_secret = path.read_text().strip()
        return self.jwt_secret


def normalize_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite://` URLs and pick the async driver."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url
