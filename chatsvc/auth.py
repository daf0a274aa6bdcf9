"""JWT tokens: who the caller is (`Principal`), verified without gRPC."""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from chatsvc.errors import denied, unauthenticated

MAX_USER_ID_LENGTH = 128
# Verified tokens remembered (all forgotten at once when full).
VERIFIED_TOKENS_LIMIT = 10_000


class Role(str, enum.Enum):  # noqa: UP042 -- str(Role.X) and f-strings keep their current text
    INSTRUCTOR = "instructor"
    PARTICIPANT = "participant"


@dataclass(frozen=True)
class Principal:
    user_id: str
    display_name: str
    role: Role
    # The sessions the token may enter; None means any session.
    sessions: frozenset[str] | None = None

    @property
    def is_instructor(self) -> bool:
        return self.role is Role.INSTRUCTOR

    def may_enter(self, session_id: str) -> bool:
        return self.sessions is None or session_id in self.sessions

    def check_session(self, session_id: str) -> None:
        if not self.may_enter(session_id):
            raise denied(f"your token does not allow session {session_id!r}")


class TokenVerifier:
    """Checks `Bearer` tokens: HS256 with a shared secret, or RS256 with a public key."""

    def __init__(
        self, *, secret: str | None = None, public_key: str | None = None, now: Callable[[], float] = time.time
    ) -> None:
        if public_key:
            self._key, self._algorithms = public_key, ["RS256"]
        elif secret:
            self._key, self._algorithms = secret, ["HS256"]
        else:
            raise ValueError("a JWT secret or public key is required")
        # Tokens verified before, with their expiry: a client sends the same token with
        # every call, and checking a signature costs more than the rest of a small call.
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._now = now

    def verify(self, token: str, *, remember: bool = True) -> Principal:
        """The token's principal; with `remember`, the verified token is kept until it expires
        so that its next use skips the signature check."""
        return self.verify_expiring(token, remember=remember)[0]

    def verify_expiring(self, token: str, *, remember: bool = True) -> tuple[Principal, float]:
        """The token's principal and its expiry (epoch seconds): what a live stream needs."""
        known = self._verified.get(token)
        if known is not None:
            if self._now() < known[1]:
                return known
            del self._verified[token]
            raise unauthenticated("token expired")
        principal, expires = self._decode(token)
        if self._now() >= expires:  # PyJWT looked at the wall clock; this is the server's
            raise unauthenticated("token expired")
        if not remember:
            return principal, expires
        if len(self._verified) >= VERIFIED_TOKENS_LIMIT:
            self._verified.clear()
        self._verified[token] = (principal, expires)
        return principal, expires

    def _decode(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("token expired") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthenticated(f"token is missing the {exc.claim!r} claim") from None
        except jwt.InvalidAlgorithmError:
            raise unauthenticated(f"token must be signed with {self._algorithms[0]}") from None
        except jwt.InvalidSignatureError:
            raise unauthenticated("token signature is invalid") from None
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"token is invalid: {exc}") from None
        return principal_from_claims(claims), float(claims["exp"])


# C0, DEL and C1 controls: a user id or name holding one could not be stored alike on
# SQLite and PostgreSQL (which refuses NUL).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def principal_from_claims(claims: dict) -> Principal:
    user_id = claims.get("sub")
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > MAX_USER_ID_LENGTH:
        raise unauthenticated("token 'sub' must be a user id of 1 to 128 characters")
    if CONTROL_CHARACTERS.search(user_id) or CONTROL_CHARACTERS.search(str(claims.get("name") or "")):
        raise unauthenticated("token 'sub' and 'name' must not contain control characters")
    try:
        role = Role(claims.get("role"))
    except ValueError:
        raise unauthenticated("token 'role' must be 'instructor' or 'participant'") from None
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        name = user_id
    sessions = claims.get("sessions")
    if sessions is not None:
        if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
            raise unauthenticated("token 'sessions' must be a list of session ids")
        sessions = frozenset(sessions)
    return Principal(user_id=user_id, display_name=name.strip()[:100], role=role, sessions=sessions)


def mint_token(
    *,
    secret: str,
    user_id: str,
    name: str,
    role: Role | str,
    sessions: list[str] | None = None,
    ttl_seconds: int = 12 * 3600,
    private_key: str | None = None,
) -> str:
    """A signed token (HS256 with the secret, or RS256 with a PEM private key)."""
    claims: dict = {"sub": user_id, "name": name, "role": Role(role).value, "exp": int(time.time()) + ttl_seconds}
    if sessions:
        claims["sessions"] = list(sessions)
    if private_key:
        return jwt.encode(claims, private_key, algorithm="RS256")
    return jwt.encode(claims, secret, algorithm="HS256")
