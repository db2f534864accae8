"""Limits of ``kb serve``: hits per request, request body size, requests a minute per key and
time per request.

The rate limit is a fixed one-minute window per key, counted in a small file per key under the
server's state folder and updated under an exclusive lock (``fcntl.flock``), so every worker
process of one server shares the count.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

MAX_K = 100
WINDOW = 60.0  # seconds of the rate limit's window


@dataclass(frozen=True)
class Limits:
    max_k: int = MAX_K
    max_body_bytes: int = 256 * 1024
    rate: int | None = None  # requests a minute for a key without its own rate (None: unlimited)
    timeout: float = 30.0  # seconds a request may take (a generated answer: the model's own timeout)
    max_batch: int = 100  # questions in one POST /v1/ask
    max_text_chars: int = 20_000  # characters of document text in one response

    def to_json(self) -> dict:
        return asdict(self)


class RateLimiter:
    """Requests a minute per key name, shared by processes through files in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, name: str, per_minute: int, now: float | None = None) -> float:
        """Count one request; 0 when it is allowed, else the seconds until the window ends."""
        now = time.time() if now is None else now
        path = self.folder / (hashlib.sha256(name.encode("utf-8")).hexdigest()[:32] + ".rate")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 256)
            try:
                start, count = json.loads(raw) if raw else (now, 0)
            except ValueError:
                start, count = now, 0
            if now - start >= WINDOW or now < start:
                start, count = now, 0
            if count >= per_minute:
                return max(0.001, start + WINDOW - now)
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps([start, count + 1]).encode())
            return 0.0
        finally:
            os.close(fd)  # releases the lock


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 (by its
    Content-Length before anything is read, or as soon as the streamed body passes the limit)."""

    def __init__(self, app, limit: int, reject) -> None:
        self.app = app
        self.limit = limit
        self.reject = reject  # async (scope, receive, send) -> None: sends the 413 answer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await self.reject(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except BodyTooLarge:
            await self.reject(scope, receive, send)
