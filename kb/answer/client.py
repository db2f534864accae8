"""The language-model client: settings from ``KB_LLM_*`` (:class:`LLMSettings`) and one chat request to an
OpenAI-compatible server (``POST {KB_LLM_URL}/chat/completions``, ``stream: true``), read as server-sent
events (:func:`stream_chat`; a plain JSON body is accepted too), with the standard library only.

* **One deadline** (``KB_LLM_TIMEOUT``) for the whole exchange: the host name lookup (:func:`_lookup`),
  connecting, sending, status line, headers and any body (error, JSON, chunked, event stream). Every
  read and write waits at most the time left (:class:`_DeadlineSocket`), so a server trickling one
  byte at a time is cut off at the deadline, whatever part of the reply it trickles.
* **Settings are checked** when read (:meth:`LLMSettings.from_env`): an http(s) URL with a host (IPv6
  literals in brackets) and a port 1-65535, no spaces or control characters; a timeout from 0.1 s to a
  day; a whole number of tokens from 1 to 1 000 000; ``KB_LLM_EXTRA`` a JSON object (no NaN) that does
  not set ``model``, ``messages`` or ``stream`` (the model shown is the model asked). Anything else is
  one :class:`kb.errors.LLMError` naming the variable.
* **Server text is untrusted**: a server's error (HTTP body or ``error`` event) is put on one line
  without control characters and cut at :data:`SERVER_TEXT_CHARS`; every message is redacted
  (:func:`kb.sanitize.redact`: the API key, the URL's user info). Any failure is one LLMError.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import json
import math
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

from ..errors import LLMError
from ..sanitize import one_line, redact

ENV_URL, ENV_MODEL, ENV_KEY, ENV_TIMEOUT = "KB_LLM_URL", "KB_LLM_MODEL", "KB_LLM_API_KEY", "KB_LLM_TIMEOUT"
ENV_MAX_TOKENS, ENV_EXTRA = "KB_LLM_MAX_TOKENS", "KB_LLM_EXTRA"
MAX_RESPONSE_BYTES = 1_000_000
SERVER_TEXT_CHARS = 200  # of a server's error message, HTTP or streamed
TIMEOUT_RANGE = (0.1, 86_400.0)
MAX_TOKENS_RANGE = (1, 1_000_000)
RESERVED_FIELDS = ("messages", "model", "stream")  # kb sets them; KB_LLM_EXTRA may not
CONNECT_SECONDS = 10.0
_BAD_URL_CHARS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


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
        """Settings from ``KB_LLM_*``; None when ``KB_LLM_URL`` is unset (nothing will be sent).
        Every value is checked here: a bad one is an LLMError naming its variable, never a traceback."""
        env = os.environ if env is None else env
        url = env.get(ENV_URL, "").strip()
        if not url:
            return None
        check_url(url)
        model = env.get(ENV_MODEL, "").strip()
        if not model:
            raise LLMError(f"{ENV_MODEL} is not set; set it to the model name the server at {ENV_URL} serves")
        if one_line(model) != model or len(model) > 200:
            raise LLMError(f"{ENV_MODEL} must be one line of at most 200 characters without control characters")
        timeout = _number(env, ENV_TIMEOUT, 60.0, TIMEOUT_RANGE, whole=False)
        max_tokens = int(_number(env, ENV_MAX_TOKENS, 400, MAX_TOKENS_RANGE, whole=True))
        return cls(url, model, env.get(ENV_KEY) or None, timeout, max_tokens, extra=_extra(env))

    def display_url(self) -> str:
        """The URL without user name, password or query string (safe to print and show)."""
        try:
            p = urlsplit(self.url)
            port = p.port
        except ValueError:
            return "(a malformed URL)"
        host = p.hostname or ""
        netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        return urlunsplit((p.scheme, netloc, p.path.rstrip("/"), "", ""))

    def secrets(self) -> tuple[str, ...]:
        """What must never be printed: the API key and the URL's user name and password."""
        userinfo = self.url.partition("://")[2].split("/", 1)[0].rpartition("@")[0]
        return tuple(s for s in (self.api_key, userinfo, userinfo.partition(":")[2]) if s)


def check_url(url: str) -> SplitResult:
    """The parts of a base URL; LLMError (naming ``KB_LLM_URL``, not echoing the URL, which may hold a
    password) unless it is http(s) with a valid host and port and no spaces or control characters."""
    example = "set it to the server's base URL, e.g. http://127.0.0.1:8080/v1 or http://[::1]:8080/v1"
    if _BAD_URL_CHARS.search(url):
        raise LLMError(f"{ENV_URL} holds spaces or control characters; {example}")
    try:
        parts = urlsplit(url)
        port, host = parts.port, parts.hostname
    except ValueError as e:
        raise LLMError(f"{ENV_URL} is not a valid URL ({one_line(str(e))[:80]}); {example}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise LLMError(f"{ENV_URL} is not an http(s) URL with a host; {example}")
    if port == 0:
        raise LLMError(f"{ENV_URL} has port 0; use a port from 1 to 65535")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise LLMError(f"{ENV_URL} has a malformed IPv6 address in brackets; {example}") from None
    return parts


def _number(env: Mapping[str, str], name: str, default: float, bounds: tuple[float, float], whole: bool) -> float:
    """A number from ``env[name]`` within ``bounds`` (a whole one if ``whole``); ``default`` when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not bounds[0] <= value <= bounds[1] or (whole and value != int(value)):
        kind = "a positive whole number" if whole else "a positive number of seconds"
        raise LLMError(f"{name}={one_line(raw)[:40]!r} must be {kind} from {bounds[0]:g} to {bounds[1]:g}")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _extra(env: Mapping[str, str]) -> str:
    """``KB_LLM_EXTRA`` checked and re-serialised: a JSON object (no NaN, no deep nesting) that does
    not set what kb sets itself."""
    raw = env.get(ENV_EXTRA, "").strip() or "{}"
    try:
        fields = json.loads(raw, parse_constant=_no_constant) if len(raw) <= 100_000 else None
    except (ValueError, RecursionError):
        fields = None
    if not isinstance(fields, dict):
        raise LLMError(f'{ENV_EXTRA} must be a JSON object of extra request fields, e.g. {{"seed": 1}}')
    reserved = sorted(set(RESERVED_FIELDS) & set(fields))
    if reserved:
        raise LLMError(f"{ENV_EXTRA} may not set {', '.join(reserved)}: kb sets them (the model with {ENV_MODEL})")
    return json.dumps(fields, ensure_ascii=False)


# -- the connection: one deadline for every read and write ----------------------------------


class _DeadlineSocket:
    """A connected socket whose every read and write waits at most until ``deadline`` (monotonic):
    ``http.client`` reads the status line, headers and any body through :meth:`makefile`."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock, self._deadline = sock, deadline

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline has passed")
        self._sock.settimeout(min(left, TIMEOUT_RANGE[1]))  # settings made in code may say inf

    def recv_into(self, buffer, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes, flags)

    def sendall(self, data, flags: int = 0) -> None:
        self._arm()
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: object) -> io.BufferedReader:
        # as socket.makefile does: the file holds a reference, so closing the connection (http.client
        # does when the reply ends with the connection) leaves the socket open until the file is closed
        self._sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(socket.SocketIO(self, "rb"), buffering or io.DEFAULT_BUFFER_SIZE)  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:  # SocketIO.close calls it
        self._sock._decref_socketios()  # type: ignore[attr-defined]

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


class _HTTP(http.client.HTTPConnection):
    deadline = 0.0  # an HTTP connection whose socket keeps the deadline (set before connecting)

    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self.deadline)


class _HTTPS(http.client.HTTPSConnection):
    deadline = 0.0  # the same over TLS

    def connect(self) -> None:
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self.deadline)


def _lookup(host: str, port: int, deadline: float) -> list:
    """``getaddrinfo`` within the deadline: the system resolver has no timeout of its own, so it runs
    in a daemon thread that is abandoned (TimeoutError) when the deadline passes."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            box["error"] = e

    thread = threading.Thread(target=run, name="kb-llm-lookup", daemon=True)
    thread.start()
    thread.join(min(max(0.0, deadline - time.monotonic()), TIMEOUT_RANGE[1]))
    if thread.is_alive():
        raise TimeoutError("the host name lookup did not finish in time")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["infos"]  # type: ignore[return-value]


def _connector(deadline: float):
    """``socket.create_connection`` for http.client, with the lookup and every attempt within the deadline."""

    def create(address: tuple[str, int], timeout: float, source_address=None) -> socket.socket:
        error: OSError = OSError("the host name has no address")
        for family, kind, proto, _, sockaddr in _lookup(address[0], address[1], deadline):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the deadline has passed")
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(min(timeout, left))
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as e:
                sock.close()
                error = e
        raise error

    return create


def _connection(settings: LLMSettings, deadline: float) -> tuple[http.client.HTTPConnection, str]:
    p = check_url(settings.url)
    connect = max(0.001, min(deadline - time.monotonic(), CONNECT_SECONDS))
    conn: _HTTP | _HTTPS
    if p.scheme == "https":
        conn = _HTTPS(p.hostname or "", p.port, timeout=connect, context=ssl.create_default_context())
    else:
        conn = _HTTP(p.hostname or "", p.port, timeout=connect)
    conn.deadline = deadline
    setattr(conn, "_create_connection", _connector(deadline))  # noqa: B010 (http.client's hook for connecting)
    return conn, p.path.rstrip("/") + "/chat/completions" + (f"?{p.query}" if p.query else "")


# -- the reply ------------------------------------------------------------------------------


def server_text(text: object) -> str:
    """What a server says (an error message) as one line without control characters, cut at
    :data:`SERVER_TEXT_CHARS` characters."""
    s = one_line(str(text))
    return s if len(s) <= SERVER_TEXT_CHARS else s[: SERVER_TEXT_CHARS - 1] + "…"


def _server_error(status: int, reason: str, body: bytes) -> str:
    detail = body.decode("utf-8", "replace").strip()
    try:
        err = json.loads(detail).get("error")
        detail = err.get("message", detail) if isinstance(err, dict) else str(err or detail)
    except (ValueError, AttributeError, RecursionError):
        pass
    return f"HTTP {status} {server_text(reason)}: {server_text(detail)}"


def _sse_pieces(obj: object) -> tuple[str, bool]:
    """The text of one streamed event and whether it finished the answer; LLMError if malformed."""
    if not isinstance(obj, dict):
        raise LLMError("malformed event")
    if obj.get("error"):
        err = obj["error"]
        raise LLMError(server_text(err.get("message", err) if isinstance(err, dict) else err))
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


def _event_data(line: str) -> object:
    """The JSON of one ``data:`` line (``[DONE]`` as None); LLMError for anything else."""
    if not line.startswith("data:"):
        raise LLMError(f"not a server-sent event: {server_text(repr(line[:80]))}")
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise LLMError(f"an event that is not JSON: {server_text(repr(data[:80]))}") from None


def _read_events(resp: http.client.HTTPResponse) -> Iterator[str]:
    buf, total, finished = b"", 0, False
    while True:
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
            obj = _event_data(line)
            if obj is None:
                return
            text, done = _sse_pieces(obj)
            finished = finished or done
            if text:
                yield text
    if not finished:
        raise LLMError("the stream ended before the answer was finished")


def _request(settings: LLMSettings, messages: Sequence[Mapping[str, str]]) -> tuple[bytes, dict[str, str]]:
    request = {"model": settings.model, "max_tokens": settings.max_tokens, "temperature": settings.temperature}
    request |= json.loads(settings.extra) | {"messages": list(messages), "stream": True}
    request["model"] = settings.model  # the model shown is the model asked, whatever ``extra`` holds
    headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"  # OpenAI, vLLM, llama.cpp, Ollama
        headers["api-key"] = settings.api_key  # Azure OpenAI
    return json.dumps(request).encode("utf-8"), headers


def _exchange(settings: LLMSettings, messages: Sequence[Mapping[str, str]], deadline: float) -> Iterator[str]:
    conn, path = _connection(settings, deadline)
    try:
        body, headers = _request(settings, messages)
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            raise LLMError(_server_error(resp.status, resp.reason, resp.read(4096)))
        if resp.getheader("Content-Type", "").startswith("application/json"):
            yield _sse_pieces(json.loads(resp.read(MAX_RESPONSE_BYTES)))[0]  # the server ignored stream=true
            return
        yield from _read_events(resp)
    finally:
        conn.close()


def stream_chat(settings: LLMSettings, messages: Sequence[Mapping[str, str]]) -> Iterator[str]:
    """The model's answer in pieces as the server streams them; :class:`LLMError` on any failure (its
    message redacted: no API key, no password)."""
    where = settings.display_url()
    try:
        yield from _exchange(settings, messages, time.monotonic() + settings.timeout)
    except LLMError as e:
        raise _failure(settings, f"the language model server at {where} failed: {e}. "
                                 f"Check the server, or unset {ENV_URL}") from None
    except TimeoutError:  # socket.timeout is TimeoutError
        raise _failure(settings, f"the language model server at {where} gave no complete answer within "
                                 f"{settings.timeout:g} s; raise {ENV_TIMEOUT} or use a faster model") from None
    except ConnectionRefusedError:
        raise _failure(settings, f"cannot reach the language model server at {where} (connection refused); "
                                 f"start it, or unset {ENV_URL}") from None
    except (http.client.HTTPException, ValueError, OSError, RecursionError) as e:
        raise _failure(settings, f"the language model server at {where} failed: {type(e).__name__}: "
                                 f"{server_text(e)}. Check the server, or unset {ENV_URL}") from None


def _failure(settings: LLMSettings, message: str) -> LLMError:
    return LLMError(redact(one_line(message), settings.secrets()))
