"""A stand-in identity provider: signing keys it can rotate, tokens they sign, and its JWKS served
by a real HTTP server (http.server on a free loopback port, in a thread)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.example.test/"
AUDIENCE = "sessionchat"


@dataclass
class SigningKey:
    kid: str
    algorithm: str
    private_key: Any

    def jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        if self.algorithm == "RS256":
            published = jwt.algorithms.RSAAlgorithm.to_jwk(public, as_dict=True)
        else:
            published = jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True)
        return {**published, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def new_key(algorithm: str = "ES256") -> SigningKey:
    if algorithm == "RS256":
        private: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(f"key-{uuid.uuid4().hex[:8]}", algorithm, private)


class IdentityProvider:
    """Publishes `keys` at `jwks_url` while running; counts the requests it answered.
    `hold()` makes requests wait until `release()` (a slow provider); `arrived` is set when one came."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [new_key("RS256")]
        self.requests = 0
        self._open = threading.Event()
        self._open.set()
        self.arrived = threading.Event()
        self._stopped = False
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 -- http.server's name
                provider.arrived.set()
                provider._open.wait(30)
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                provider.requests += 1
                body = json.dumps({"keys": [key.jwk() for key in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.jwks_url = f"http://127.0.0.1:{self._http.server_address[1]}/.well-known/jwks.json"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def current(self) -> SigningKey:
        return self.keys[-1]

    def rotate(self, algorithm: str = "ES256") -> SigningKey:
        """A new key signs from now on, and the old one is no longer published."""
        self.keys = [new_key(algorithm)]
        return self.current

    def token(self, user_id: str = "ann", *, key: SigningKey | None = None, ttl: int = 600, **claims: Any) -> str:
        """A token as the provider issues it (its issuer and audience unless overridden)."""
        key = key or self.current
        payload = {"sub": user_id, "name": user_id.title(), "role": "participant", "iss": ISSUER, "aud": AUDIENCE,
                   "exp": int(time.time()) + ttl, **claims}
        payload = {name: value for name, value in payload.items() if value is not None}
        return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def stop(self) -> None:
        """Down: the port stops answering (connections are refused)."""
        if self._stopped:
            return
        self._stopped = True
        self.release()
        self._http.shutdown()
        self._http.server_close()
