"""The language-model client: settings from ``KB_LLM_*`` (:class:`LLMSettings`) and one chat request to an
OpenAI-compatible server, streamed as server-sent events (:func:`stream_chat`), with the standard library only.

``POST {KB_LLM_URL}/chat/completions`` with ``stream: true``, read as server-sent events (``data: {json}``
lines, ``data: [DONE]``). One deadline (``KB_LLM_TIMEOUT``) bounds connecting, waiting and streaming; every
socket read waits at most the time left. Any failure (refused, timeout, HTTP error, malformed stream) is one
:class:`kb.errors.LLMError` with a message saying what to do.
"""
from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from ..errors import LLMError

ENV_URL, ENV_MODEL, ENV_KEY, ENV_TIMEOUT = "KB_LLM_URL", "KB_LLM_MODEL", "KB_LLM_API_KEY", "KB_LLM_TIMEOUT"
ENV_MAX_TOKENS, ENV_EXTRA = "KB_LLM_MAX_TOKENS", "KB_LLM_EXTRA"
MAX_RESPONSE_BYTES = 1_000_000


# -- settings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LLMSettings:
    """Where and how to ask for a generated answer (from the environment, see :meth:`from_env`)."""

    url: str  # OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0  # seconds for the whole answer: connect, wait and stream
    max_tokens: int = 400
    temperature: float = 0.0
    # a JSON object merged into the request body: server options such as seed, top_p or llama.cpp's grammar
    extra: str = "{}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMSettings | None:
        """Settings from ``KB_LLM_*``; None when ``KB_LLM_URL`` is unset (nothing will be sent)."""
        env = os.environ if env is None else env
        url = env.get(ENV_URL, "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LLMError(f"{ENV_URL} is not an http(s) URL with a host; set it to the server's base URL, "
                           "e.g. http://127.0.0.1:8080/v1")
        model = env.get(ENV_MODEL, "").strip()
        if not model:
            raise LLMError(f"{ENV_MODEL} is not set; set it to the model name the server at {ENV_URL} serves")
        extra = env.get(ENV_EXTRA, "").strip() or "{}"
        try:
            fields = json.loads(extra)
        except ValueError:
            fields = None
        if not isinstance(fields, dict) or {"messages", "stream"} & set(fields):
            raise LLMError(f"{ENV_EXTRA} must be a JSON object of extra request fields (not messages or stream)")
        return cls(url, model, env.get(ENV_KEY) or None, _positive(env, ENV_TIMEOUT, 60.0),
                   int(_positive(env, ENV_MAX_TOKENS, 400)), extra=extra)

    def display_url(self) -> str:
        """The URL without user name, password or query string (safe to print and show)."""
        p = urlsplit(self.url)
        host = p.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        if p.port:
            netloc += f":{p.port}"
        return urlunsplit((p.scheme, netloc, p.path.rstrip("/"), "", ""))


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise LLMError(f"{name}={raw!r} must be a positive number")
    return value


# -- the request ----------------------------------------------------------------------------


def _connection(settings: LLMSettings) -> tuple[http.client.HTTPConnection, str]:
    p = urlsplit(settings.url)
    connect = min(settings.timeout, 10.0)
    if p.scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            p.hostname or "", p.port, timeout=connect, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(p.hostname or "", p.port, timeout=connect)
    return conn, p.path.rstrip("/") + "/chat/completions" + (f"?{p.query}" if p.query else "")


def _server_error(status: int, reason: str, body: bytes) -> str:
    detail = body.decode("utf-8", "replace").strip()
    try:
        err = json.loads(detail).get("error")
        detail = err.get("message", detail) if isinstance(err, dict) else str(err or detail)
    except (ValueError, AttributeError):
        pass
    return f"HTTP {status} {reason}: {' '.join(detail.split())[:200]}"


def _sse_pieces(obj: object) -> tuple[str, bool]:
    """The text of one streamed event and whether it finished the answer; LLMError if malformed."""
    if not isinstance(obj, dict):
        raise LLMError("malformed event")
    if obj.get("error"):
        err = obj["error"]
        raise LLMError(str(err.get("message", err) if isinstance(err, dict) else err))
    choices = obj.get("choices")
    if not isinstance(choices, list):
        raise LLMError("an event without choices")
    if not choices:
        return "", False  # e.g. a usage-only event
    c = choices[0]
    if not isinstance(c, dict):
        raise LLMError("malformed choice")
    part = c.get("delta") if isinstance(c.get("delta"), dict) else c.get("message")
    text = (part or {}).get("content") if isinstance(part, dict) else c.get("text")
    if text is not None and not isinstance(text, str):
        raise LLMError("content is not text")
    return text or "", bool(c.get("finish_reason"))


def _read_events(resp: http.client.HTTPResponse, sock_timeout: Callable[[], None]) -> Iterator[str]:
    buf, total, finished = b"", 0, False
    while True:
        sock_timeout()
        chunk = resp.read1(65536)
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise LLMError("the answer is larger than 1 MB")
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line or line.startswith((":", "event:", "id:", "retry:")):
                continue
            if not line.startswith("data:"):
                raise LLMError(f"not a server-sent event: {line[:80]!r}")
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                obj = json.loads(data)
            except ValueError:
                raise LLMError(f"an event that is not JSON: {data[:80]!r}") from None
            text, done = _sse_pieces(obj)
            finished = finished or done
            if text:
                yield text
    if not finished:
        raise LLMError("the stream ended before the answer was finished")


def stream_chat(settings: LLMSettings, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
    """The model's answer in pieces as the server streams them; :class:`LLMError` on any failure."""
    where = settings.display_url()
    deadline = time.monotonic() + settings.timeout
    conn, path = _connection(settings)
    request = {"model": settings.model, "max_tokens": settings.max_tokens, "temperature": settings.temperature}
    request |= json.loads(settings.extra) | {"messages": list(messages), "stream": True}
    body = json.dumps(request).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"  # OpenAI, vLLM, llama.cpp, Ollama
        headers["api-key"] = settings.api_key  # Azure OpenAI

    def sock_timeout() -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if conn.sock is not None:
            conn.sock.settimeout(left)

    try:
        conn.request("POST", path, body=body, headers=headers)
        sock_timeout()
        resp = conn.getresponse()
        if resp.status != 200:
            raise LLMError(_server_error(resp.status, resp.reason, resp.read(4096)))
        if resp.getheader("Content-Type", "").startswith("application/json"):
            yield _sse_pieces(json.loads(resp.read(MAX_RESPONSE_BYTES)))[0]  # the server ignored stream=true
            return
        yield from _read_events(resp, sock_timeout)
    except LLMError as e:
        raise LLMError(f"the language model server at {where} failed: {e}. "
                       f"Check the server, or unset {ENV_URL}") from None
    except TimeoutError:
        raise LLMError(f"the language model server at {where} gave no complete answer within {settings.timeout:g} s; "
                       f"raise {ENV_TIMEOUT} or use a faster model") from None
    except ConnectionRefusedError:
        raise LLMError(f"cannot reach the language model server at {where} (connection refused); "
                       f"start it, or unset {ENV_URL}") from None
    except (http.client.HTTPException, ValueError, OSError) as e:
        raise LLMError(f"the language model server at {where} failed: {type(e).__name__}: {e}. "
                       f"Check the server, or unset {ENV_URL}") from None
    finally:
        conn.close()
