"""Every error of the HTTP API as one JSON shape, ``{"error": {"code", "message"}}``, never a traceback.

Handlers cover the API's own errors (:class:`ApiError`), HTTP errors of the framework (404 for an
unknown path, 405), validation errors (422), kb's errors (a question kb cannot take: 400; an index
that cannot be read: 503) and anything else (500, logged without the request's content).
"""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..answer.extract import QuestionError
from ..errors import (
    IndexCorruptError,
    IndexIncompatibleError,
    IndexMissingError,
    KBError,
)
from ..sanitize import RedactingFilter, redact
from .access import NotFound

log = logging.getLogger("kb.serve")
log.addFilter(RedactingFilter())  # no configured secret in the server log (kb.sanitize.redact)

CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         413: "too_large", 422: "invalid", 429: "rate_limited", 500: "internal", 503: "unavailable",
         504: "timeout"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.headers = headers or {}


def error_body(status: int, message: str, code: str | None = None) -> dict:
    """The one JSON shape of every error; the message redacted (:func:`kb.sanitize.redact`)."""
    return {"error": {"code": code or CODES.get(status, "error"), "message": redact(message)}}


def error_response(status: int, message: str, code: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "request"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, exc.headers)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError) -> JSONResponse:
        return error_response(400, str(exc), "bad_question")

    @app.exception_handler(KBError)
    async def kb_error(request: Request, exc: KBError) -> JSONResponse:
        down = isinstance(exc, (IndexMissingError, IndexCorruptError, IndexIncompatibleError))
        return error_response(503 if down else 400, str(exc))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("kb.serve: internal error on %s: %s", request.url.path, type(exc).__name__)
        return error_response(500, "internal error; the server log names its kind")
