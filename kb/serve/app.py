"""The application of ``kb serve``: configuration, state of one worker process, keys and logging.

:func:`create_app` builds the FastAPI application for a :class:`ServeConfig`; :func:`app_from_env`
is the factory each uvicorn worker process calls (the configuration comes in ``KB_SERVE_CONFIG``
as JSON). Every request is logged on one line: method, path (without the query string), status,
milliseconds and the key's name; never a key, a question or document text.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool

from .access import LOCAL, Reader
from .errors import ApiError, error_response, install
from .holder import IndexHolder
from .keys import KeyFile, match_key
from .limits import BodyLimit, Limits, RateLimiter

log = logging.getLogger("kb.serve")
ENV_CONFIG = "KB_SERVE_CONFIG"


@dataclass(frozen=True)
class ServeConfig:
    index: str
    keys: str | None = None
    state_dir: str = ""
    limits: Limits = field(default_factory=Limits)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_env(text: str) -> ServeConfig:
        d = json.loads(text)
        return ServeConfig(d["index"], d.get("keys"), d.get("state_dir", ""), Limits(**d.get("limits", {})))


class ServerState:
    """What one worker process holds: the open index, the key file, the rate limiter."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        self.limits = config.limits
        self.holder = IndexHolder(config.index)
        self.keyfile = KeyFile(Path(config.keys)) if config.keys else None
        self.limiter = RateLimiter(Path(config.state_dir) / "rate") if config.state_dir else None

    def kb(self) -> Any:
        return self.holder.get()

    def reader(self, authorization: str | None) -> Reader:
        """The caller of a request (401 without a valid key when the server has keys)."""
        if self.keyfile is None:
            return LOCAL
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "this server needs a key: send the header 'Authorization: Bearer KEY'",
                           headers={"WWW-Authenticate": "Bearer"})
        key = match_key(self.keyfile.current(), token.strip())
        if key is None:
            raise ApiError(401, "unknown key", headers={"WWW-Authenticate": "Bearer"})
        rate = key.rate if key.rate is not None else self.limits.rate
        if rate is not None and self.limiter is not None:
            wait = self.limiter.take(key.name, rate)
            if wait:
                raise ApiError(429, f"more than {rate} requests a minute with this key; retry in {wait:.0f} s",
                               headers={"Retry-After": str(max(1, round(wait + 0.5)))})
        return Reader(key.name, key.role, key.groups)

    async def run(self, fn, *args, **kwargs) -> Any:
        """Run blocking work in the thread pool within the time limit (504 past it). A thread cannot
        be stopped: past the limit the answer is 504 at once and the work finishes unseen."""
        task = asyncio.ensure_future(run_in_threadpool(fn, *args, **kwargs))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.limits.timeout)
        except TimeoutError:
            task.add_done_callback(lambda t: t.cancelled() or t.exception())  # its outcome is not wanted
            raise ApiError(504, f"the request took longer than {self.limits.timeout:g} s") from None


def state_of(request: Request) -> ServerState:
    return request.app.state.kb


def need(action: str):
    """A dependency: the request's reader, allowed to do ``action`` ("read" or "admin")."""

    def dependency(request: Request) -> Reader:
        reader = state_of(request).reader(request.headers.get("authorization"))
        request.state.key_name = reader.name
        if not reader.may(action):
            raise ApiError(403, f"the key {reader.name!r} ({reader.role}) may not do this")
        return reader

    return dependency


class RequestLog:
    """ASGI middleware: one log line per request, and a JSON 500 for an error nothing handled."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        status = {"code": 0}

        async def sent(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        except Exception as e:  # noqa: BLE001 - the last guard: a JSON 500, no traceback
            log.error("kb.serve: internal error on %s: %s", scope.get("path"), type(e).__name__)
            if not status["code"]:
                await error_response(500, "internal error; the server log names its kind")(scope, receive, sent)
        name = (scope.get("state") or {}).get("key_name", "-")
        log.info("%s %s %s %d %.1fms", name, scope.get("method"), scope.get("path"), status["code"],
                 1000 * (time.perf_counter() - t0))


async def _too_large(scope, receive, send) -> None:
    await error_response(413, "the request body is too large")(scope, receive, send)


def create_app(config: ServeConfig) -> FastAPI:
    from .routes import router

    app = FastAPI(title="kb", version="1", description="Search and cited answers over Swedish municipal reports.")
    app.state.kb = ServerState(config)
    install(app)
    app.include_router(router)
    app.add_middleware(BodyLimit, limit=config.limits.max_body_bytes, reject=_too_large)
    app.add_middleware(RequestLog)
    return app


def app_from_env() -> FastAPI:
    """The uvicorn factory (``kb.serve.app:app_from_env``) each worker process calls."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    return create_app(ServeConfig.from_env(os.environ[ENV_CONFIG]))
