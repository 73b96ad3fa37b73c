"""API keys (SPEC §6): `Authorization: Bearer KEY`, each key an `admin` or a `search` key.

Keys come from `UNICORN_API_KEYS="KEY:admin,KEY2:search"` and/or a file named by
`UNICORN_API_KEYS_FILE` with one `KEY:ROLE` per line (`#` starts a comment). A presented key is
compared with every configured key in constant time (hmac.compare_digest over SHA-256 digests).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

ROLES = ("admin", "search")


def parse_keys(spec: str) -> dict[str, str]:
    """`"KEY:admin,KEY2:search"` (commas or newlines between entries) -> {key: role}."""
    keys: dict[str, str] = {}
    for entry in spec.replace("\n", ",").split(","):
        entry = entry.split("#", 1)[0].strip()
        if not entry:
            continue
        key, sep, role = entry.rpartition(":")
        if not sep or not key or role not in ROLES:
            raise ValueError(f"bad API key entry {entry[:4]}...: expected KEY:admin or KEY:search")
        keys[key] = role
    return keys


def keys_from_env(environ=os.environ) -> dict[str, str]:
    keys = parse_keys(environ.get("UNICORN_API_KEYS", ""))
    path = environ.get("UNICORN_API_KEYS_FILE")
    if path:
        keys.update(parse_keys(Path(path).read_text()))
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
