"""JWT tokens: who the caller is (`Principal`), verified without gRPC."""

from __future__ import annotations

import enum
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt

from chatsvc.errors import denied, unauthenticated
from chatsvc.jwks import JwksKeys

MAX_USER_ID_LENGTH = 128
# Verified tokens remembered (all forgotten at once when full).
VERIFIED_TOKENS_LIMIT = 10_000
# What an identity provider's keys may sign with: never HS* (a published key is no secret).
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


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


@dataclass(frozen=True)
class ClaimNames:
    """Where a token keeps who the caller is (an identity provider may use a namespaced
    claim such as `https://example.com/role`, or a list of roles)."""

    user: str = "sub"
    name: str = "name"
    role: str = "role"
    sessions: str = "sessions"


class TokenVerifier:
    """Checks `Bearer` tokens: HS256 with a shared secret, RS256 with a public key, or the key
    of an identity provider's JWKS that the token's `kid` names; `iss` and `aud` when given."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        public_key: str | None = None,
        jwks: JwksKeys | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        claims: ClaimNames | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._jwks = jwks
        self._key: str | None = None
        if jwks is not None:
            self._algorithms = list(ASYMMETRIC_ALGORITHMS)
        elif public_key:
            self._key, self._algorithms = public_key, ["RS256"]
        elif secret:
            self._key, self._algorithms = secret, ["HS256"]
        else:
            raise ValueError("a JWT secret, public key or JWKS is required")
        self._issuer = issuer
        self._audience = audience
        self._claims = claims or ClaimNames()
        required = ["exp", self._claims.user] + (["iss"] if issuer else []) + (["aud"] if audience else [])
        # An identity provider's tokens always carry an audience: without one configured it is not checked.
        self._options = {"require": required, "verify_aud": audience is not None}
        # Tokens verified before, with their expiry: a client sends the same token with
        # every call, and checking a signature costs more than the rest of a small call.
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._now = now

    async def prepare(self, token: str) -> None:
        """Have at hand the key that signed `token`, before `verify`: with a JWKS, a token naming
        a key not yet cached fetches the key set (on a thread, rate-limited). Never raises."""
        if self._jwks is None or token in self._verified:
            return
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return  # verify says what is wrong with it
        await self._jwks.load(kid if isinstance(kid, str) else None)

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
        key: str | jwt.PyJWK | None = self._key
        algorithms = self._algorithms
        try:
            if self._jwks is not None:
                kid = jwt.get_unverified_header(token).get("kid")
                jwk = self._jwks.key(kid if isinstance(kid, str) else None)
                key, algorithms = jwk, [jwk.algorithm_name]
                if jwk.algorithm_name not in ASYMMETRIC_ALGORITHMS:
                    raise unauthenticated(f"the identity provider's key {kid!r} is for {jwk.algorithm_name}, which this server does not accept")
            claims = jwt.decode(
                token, key, algorithms=algorithms, options=self._options, issuer=self._issuer, audience=self._audience  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("token expired") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthenticated(f"token is missing the {exc.claim!r} claim") from None
        except jwt.InvalidAlgorithmError:
            raise unauthenticated(f"token must be signed with {' or '.join(algorithms)}") from None
        except jwt.InvalidSignatureError:
            raise unauthenticated("token signature is invalid") from None
        except jwt.InvalidIssuerError:
            issued_by = _unverified_claim(token, "iss")
            raise unauthenticated(f"token was issued by {issued_by!r}; this server accepts tokens issued by {self._issuer!r}") from None
        except jwt.InvalidAudienceError:
            audience = _unverified_claim(token, "aud")
            raise unauthenticated(f"token is for audience {audience!r}; this server is audience {self._audience!r}") from None
        except jwt.PyJWTError as exc:
            raise unauthenticated(f"token is invalid: {exc}") from None
        return principal_from_claims(claims, self._claims), float(claims["exp"])


def _unverified_claim(token: str, name: str) -> object:
    """A claim of a token whose signature checked out but whose claims did not (for the message)."""
    value = jwt.decode(token, options={"verify_signature": False}).get(name)
    return value[:200] if isinstance(value, str) else value


# C0, DEL and C1 controls: a user id or name holding one could not be stored alike on
# SQLite and PostgreSQL (which refuses NUL).
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def principal_from_claims(claims: dict, names: ClaimNames | None = None) -> Principal:
    names = names or ClaimNames()
    user_id = claims.get(names.user)
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > MAX_USER_ID_LENGTH:
        raise unauthenticated(f"token {names.user!r} must be a user id of 1 to 128 characters")
    name = claims.get(names.name)
    if CONTROL_CHARACTERS.search(user_id) or CONTROL_CHARACTERS.search(str(name or "")):
        raise unauthenticated(f"token {names.user!r} and {names.name!r} must not contain control characters")
    role = _role(claims.get(names.role))
    if role is None:
        raise unauthenticated(f"token {names.role!r} must be 'instructor' or 'participant' (or a list holding one)")
    if not isinstance(name, str) or not name.strip():
        name = user_id
    sessions = claims.get(names.sessions)
    if sessions is not None:
        if not isinstance(sessions, list) or not all(isinstance(s, str) for s in sessions):
            raise unauthenticated(f"token {names.sessions!r} must be a list of session ids")
        sessions = frozenset(sessions)
    return Principal(user_id=user_id, display_name=name.strip()[:100], role=role, sessions=sessions)


def _role(value: object) -> Role | None:
    """The role a claim gives: one role, or the highest of a list of roles (others ignored)."""
    values = value if isinstance(value, list) else [value]
    for role in (Role.INSTRUCTOR, Role.PARTICIPANT):
        if role.value in values:
            return role
    return None


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
