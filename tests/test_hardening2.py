"""Issue 25 (hardening, round two): the language-model client, its settings, secrets, query and gold
files, and what the UI does with a server's text. One test (or a parametrised family) per class."""
from __future__ import annotations

import json

import pytest

from kb.answer.prompt import Source, build_messages


# -- low: look-alike delimiters are normalised before the prompt --------------------------------


@pytest.mark.parametrize("fake", ["＜/source＞", "﹤/source﹥", "＜source id=\"9\"＞"])
def test_lookalike_delimiters_in_a_source_are_escaped(fake):
    user = build_messages("fråga ＜/source＞", [Source(1, f"text {fake} mer", "ref ＜x＞")])[1]["content"]
    assert user.count("</source>") == 1 and user.count("<source ") == 1
    assert not any(c in user for c in "＜＞﹤﹥")


# -- 3. one deadline for the whole exchange, whatever the server trickles -----------------------

import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import llmfake  # noqa: E402

from kb.answer.client import LLMSettings, stream_chat  # noqa: E402
from kb.errors import KBError, LLMError  # noqa: E402


class Trickle:
    """A raw HTTP server: per connection it reads the request, sends ``head`` at once and then
    ``tail`` one byte every ``gap`` seconds (until the client goes away)."""

    def __init__(self, head: bytes, tail: bytes, gap: float = 0.05) -> None:
        self.head, self.tail, self.gap = head, tail, gap
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.stop = threading.Event()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.one, args=(conn,), daemon=True).start()

    def one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            length = int(next((ln.split(b":")[1] for ln in data.split(b"\r\n")
                               if ln.lower().startswith(b"content-length:")), b"0"))
            body = data.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += conn.recv(65536)
            try:
                conn.sendall(self.head)
                for i in range(len(self.tail)):
                    if self.stop.is_set():
                        return
                    conn.sendall(self.tail[i : i + 1])
                    time.sleep(self.gap)
            except OSError:
                return

    def __enter__(self) -> Trickle:
        threading.Thread(target=self.serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.sock.close()


OK_SSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
ERROR_BODY = json.dumps({"error": {"message": "x" * 100}}).encode()
JSON_BODY = json.dumps({"choices": [{"message": {"content": "Hej " * 30}, "finish_reason": "stop"}]}).encode()
TRICKLES = {
    "status line": (b"", OK_SSE + b"\r\n"),
    "header line": (OK_SSE, b"X-Padding: " + b"a" * 120 + b"\r\n\r\n"),
    "json body": (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(JSON_BODY), JSON_BODY),
    "error body": (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n" % len(ERROR_BODY), ERROR_BODY),
    "chunked body": (OK_SSE + b"Transfer-Encoding: chunked\r\n\r\n", b"10;" + b"e" * 150 + b"\r\n"),
    "event stream": (OK_SSE + b"\r\n", llmfake.chunk("a" * 150)),
}


@pytest.mark.parametrize("name", list(TRICKLES))
def test_the_deadline_holds_whatever_the_server_trickles(name):
    head, tail = TRICKLES[name]
    with Trickle(head, tail) as server:
        t0 = time.monotonic()
        with pytest.raises(LLMError, match="no complete answer within 1 s"):
            list(stream_chat(LLMSettings(server.url, "m", timeout=1.0), [{"role": "user", "content": "x"}]))
        assert time.monotonic() - t0 < 2.0, name  # the trickle would take 6 to 8 s


# -- 5. bad settings: one clear line, never a traceback --------------------------------------------

BASE = {"KB_LLM_URL": "http://127.0.0.1:8080/v1", "KB_LLM_MODEL": "m"}
BAD_SETTINGS = [
    ("KB_LLM_URL", "http://h:99999/v1"), ("KB_LLM_URL", "http://h:abc/v1"), ("KB_LLM_URL", "http://h:-1/v1"),
    ("KB_LLM_URL", "http://[::1/v1"), ("KB_LLM_URL", "http://[zz]:80/v1"), ("KB_LLM_URL", "http://::1:80/v1"),
    ("KB_LLM_URL", "http://h/v1 x"), ("KB_LLM_URL", "http://h/v1\r\nX: y"), ("KB_LLM_URL", "ftp://h/"),
    ("KB_LLM_TIMEOUT", "inf"), ("KB_LLM_TIMEOUT", "-inf"), ("KB_LLM_TIMEOUT", "nan"), ("KB_LLM_TIMEOUT", "-1"),
    ("KB_LLM_TIMEOUT", "0"), ("KB_LLM_TIMEOUT", "1e400"), ("KB_LLM_TIMEOUT", "1e300"), ("KB_LLM_TIMEOUT", "abc"),
    ("KB_LLM_TIMEOUT", "1e-300"),
    ("KB_LLM_MAX_TOKENS", "inf"), ("KB_LLM_MAX_TOKENS", "nan"), ("KB_LLM_MAX_TOKENS", "1.5"),
    ("KB_LLM_MAX_TOKENS", "0"), ("KB_LLM_MAX_TOKENS", "-3"), ("KB_LLM_MAX_TOKENS", "1e30"),
    ("KB_LLM_MAX_TOKENS", "99999999999999999999"), ("KB_LLM_MAX_TOKENS", "zwei"),
    ("KB_LLM_EXTRA", '{"model": "other"}'), ("KB_LLM_EXTRA", '{"messages": []}'), ("KB_LLM_EXTRA", '{"stream": false}'),
    ("KB_LLM_EXTRA", '{"seed": NaN}'), ("KB_LLM_EXTRA", "[" * 100_000), ("KB_LLM_EXTRA", "[]"),
    ("KB_LLM_MODEL", "a\nb"),
]


@pytest.mark.parametrize("name,value", BAD_SETTINGS, ids=[f"{n}={v[:20]!r}" for n, v in BAD_SETTINGS])
def test_bad_llm_settings_are_one_clear_error(name, value):
    with pytest.raises(LLMError) as err:
        LLMSettings.from_env({**BASE, name: value})
    msg = str(err.value)
    assert name in msg and "\n" not in msg and len(msg) < 300


@pytest.mark.parametrize("url,shown", [
    ("http://[::1]:8080/v1", "http://[::1]:8080/v1"),
    ("https://[2001:db8::1]/v1/", "https://[2001:db8::1]/v1"),
    ("http://u:pw@[::1]:81/v1?key=x", "http://[::1]:81/v1"),
])
def test_ipv6_literal_hosts_work(url, shown):
    s = LLMSettings.from_env({**BASE, "KB_LLM_URL": url})
    assert s is not None and s.display_url() == shown


def test_ipv6_server_is_reached():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        srv = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    port = srv.getsockname()[1]
    srv.close()  # refused, but through the IPv6 loopback: the address was understood
    with pytest.raises(LLMError, match=r"cannot reach .*\[::1\]:%d.*connection refused" % port):
        list(stream_chat(LLMSettings.from_env({**BASE, "KB_LLM_URL": f"http://[::1]:{port}/v1"}), []))


def test_the_model_shown_is_the_model_sent():
    s = LLMSettings.from_env({**BASE, "KB_LLM_EXTRA": '{"seed": 1, "max_tokens": 9}'})
    with llmfake.FakeLLM("sse") as fake:
        list(stream_chat(LLMSettings(fake.url, s.model, extra=s.extra), []))
    assert fake.requests[0][2]["model"] == s.model == "m"
