"""API keys and signed viewers (docs/http-api.md).

Keys: `Authorization: Bearer KEY`, each key an `admin` or a `search` key, from
`UNICORN_API_KEYS="KEY:admin,KEY2:search"` and/or a file named by `UNICORN_API_KEYS_FILE` with one
`KEY:ROLE` per line (`#` starts a comment). A presented key is compared with every configured key
in constant time (hmac.compare_digest over SHA-256 digests).

Viewers: with `UNICORN_VIEWER_SECRET` set, the viewer comes as `X-Viewer-Token`, a JWT signed with
HS256 under that secret, with `sub` (the viewer id as a decimal string) and `exp`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from pathlib import Path

import jwt

from api.errors import ApiError
from unicorn.engine import MAX_ID

ROLES = ("admin", "search")
ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key of at least 256 bits


def parse_keys(spec: str, source: str = "UNICORN_API_KEYS") -> dict[str, str]:
    """`"KEY:admin,KEY2:search"` (commas or newlines between entries) -> {key: role}.

    A malformed entry is named by its number (1-based, counting every comma- or newline-separated
    entry of `source`); nothing of its text is repeated, since it may hold key material.
    """
    keys: dict[str, str] = {}
    for number, entry in enumerate(spec.replace("\n", ",").split(","), start=1):
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        key, sep, role = entry.rpartition(":")
        if not sep or not key or role not in ROLES:
            raise ValueError(f"{source}: entry {number} is malformed: expected KEY:admin or KEY:search")
        keys[key] = role
    return keys


def keys_from_env(environ=os.environ) -> dict[str, str]:
    keys = parse_keys(environ.get("UNICORN_API_KEYS", ""))
    path = environ.get("UNICORN_API_KEYS_FILE")
    if path:
        keys.update(parse_keys(Path(path).read_text(), source=f"UNICORN_API_KEYS_FILE {path}"))
    return keys


class Keys:
    def __init__(self, keys: dict[str, str]) -> None:
        self._digests = [(hashlib.sha256(key.encode()).digest(), role) for key, role in keys.items()]

    def role(self, authorization: str | None) -> str | None:
        """The role of a `Bearer KEY` header, or None for no key or a wrong one."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        presented = hashlib.sha256(key.strip().encode()).digest()
        found = None
        for digest, role in self._digests:
            if hmac.compare_digest(digest, presented):
                found = role
        return found


class ViewerTokens:
    """Mints and verifies viewer tokens: HS256 JWTs with `sub` = viewer id and `exp`."""

    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(f"UNICORN_VIEWER_SECRET must be at least {MIN_SECRET_BYTES} bytes long")
        self._secret = secret

    def mint(self, viewer: int, ttl_s: int) -> tuple[str, int]:
        """A token for `viewer` and its expiry (Unix seconds)."""
        expires = int(time.time()) + ttl_s
        return jwt.encode({"sub": str(viewer), "exp": expires}, self._secret, algorithm=ALGORITHM), expires

    def viewer(self, token: str) -> int:
        """The viewer id a token asserts; 401 `unauthorized` when it is not a valid, unexpired token."""
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        except jwt.ExpiredSignatureError:
            raise ApiError("unauthorized", "the viewer token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise ApiError("unauthorized", f"the viewer token is not valid: {exc}") from None
        sub = claims["sub"]
        if not (len(sub) <= 20 and sub.isascii() and sub.isdigit() and int(sub) <= MAX_ID):
            raise ApiError("unauthorized", "the viewer token's sub is not a user id")
        return int(sub)


def viewer_tokens_from_env(environ=os.environ) -> ViewerTokens | None:
    secret = environ.get("UNICORN_VIEWER_SECRET")
    return ViewerTokens(secret) if secret else None
