"""API keys of ``kb serve``, kept in a JSON file that holds only their hashes.

``kb keys add NAME --role reader|admin --groups g1,g2 --keys FILE [--rate N]`` makes a key (``kb_``
and 43 URL-safe characters: 32 random bytes) and prints it once; the file keeps its name, role,
access groups, rate limit and the SHA-256 of the key, never the key. A request is matched by
hashing the key it sends and comparing with every stored hash in constant time
(:func:`hmac.compare_digest`), so neither the file nor the timing tells a key.

File (written atomically, mode 0600)::

    {"version": 1, "keys": [{"name", "role", "groups": [...], "rate": int | null, "sha256", "created"}]}
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import KBError
from ..files import atomic_write_bytes
from ..records import valid_group

ROLES = ("reader", "admin")
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PREFIX = "kb_"


@dataclass(frozen=True)
class ApiKey:
    """One key as stored: no secret, only its hash."""

    name: str
    role: str
    groups: tuple[str, ...]
    sha256: str
    rate: int | None = None  # requests a minute (None: the server's default)
    created: str = ""

    def to_json(self) -> dict:
        return asdict(self) | {"groups": list(self.groups)}

    def public(self) -> dict:
        """What ``kb keys list`` and the admin endpoint show (no hash)."""
        return {"name": self.name, "role": self.role, "groups": list(self.groups), "rate": self.rate,
                "created": self.created}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def parse_groups(text: str | None) -> tuple[str, ...]:
    """``g1,g2`` as a sorted tuple of valid group names (KBError naming a bad one)."""
    groups = sorted({g.strip() for g in (text or "").split(",") if g.strip()})
    for g in groups:
        if not valid_group(g):
            raise KBError(f"group {g[:40]!r} is not a name of letters, digits, '.', '_' or '-' (at most 64)")
    return tuple(groups)


def load_keys(path: Path) -> tuple[ApiKey, ...]:
    """The keys of a key file (an empty tuple when it does not exist yet)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ()
    except OSError as e:
        raise KBError(f"cannot read the key file {path}: {e.strerror or e}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
        return tuple(_key_of(k) for k in data["keys"])
    except (ValueError, KeyError, TypeError) as e:
        raise KBError(f"the key file {path} is damaged ({type(e).__name__}); restore it or make a new one") from None


def _key_of(row: dict) -> ApiKey:
    if row["role"] not in ROLES or not isinstance(row["sha256"], str) or len(row["sha256"]) != 64:
        raise ValueError("bad key row")
    rate = row.get("rate")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int) or rate < 1):
        raise ValueError("bad rate")
    groups = row.get("groups") or []
    if not all(valid_group(g) for g in groups):
        raise ValueError("bad group")
    return ApiKey(str(row["name"]), row["role"], tuple(groups), row["sha256"], rate, str(row.get("created", "")))


def save_keys(path: Path, keys: tuple[ApiKey, ...]) -> None:
    data = json.dumps({"version": 1, "keys": [k.to_json() for k in keys]}, ensure_ascii=False, indent=1)
    try:
        atomic_write_bytes(path, data.encode("utf-8"))
        os.chmod(path, 0o600)
    except OSError as e:
        raise KBError(f"cannot write the key file {path}: {e.strerror or e}") from None


def add_key(path: Path, name: str, role: str, groups: tuple[str, ...], rate: int | None = None) -> str:
    """Store a new key and return it (the only time it is seen)."""
    if not NAME_RE.fullmatch(name):
        raise KBError(f"key name {name[:40]!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if role not in ROLES:
        raise KBError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if rate is not None and rate < 1:
        raise KBError("--rate must be at least 1 request a minute")
    keys = load_keys(path)
    if any(k.name == name for k in keys):
        raise KBError(f"a key named {name!r} exists; remove it first (kb keys remove {name})")
    token = new_token()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    save_keys(path, (*keys, ApiKey(name, role, groups, hash_token(token), rate, created)))
    return token


def remove_key(path: Path, name: str) -> None:
    keys = load_keys(path)
    if not any(k.name == name for k in keys):
        raise KBError(f"no key named {name!r} in {path}")
    save_keys(path, tuple(k for k in keys if k.name != name))


def match_key(keys: tuple[ApiKey, ...], token: str) -> ApiKey | None:
    """The key whose hash is the token's (every stored hash is compared, in constant time)."""
    digest = hash_token(token)
    found = None
    for k in keys:
        if hmac.compare_digest(k.sha256, digest):
            found = k
    return found


class KeyFile:
    """A key file, re-read when it changes on disk (``kb keys add`` while the server runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: tuple[ApiKey, ...] = ()
        self.current()

    def current(self) -> tuple[ApiKey, ...]:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if stamp != self._stamp:
            self._keys = load_keys(self.path)
            self._stamp = stamp
        return self._keys
