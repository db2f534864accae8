"""Issue 25 (hardening, round two): the language-model client, its settings, secrets, query and gold
files, and what the UI does with a server's text. One test (or a parametrised family) per class."""
from __future__ import annotations

import json
import socket
import threading
import time

import llmfake
import pytest

from kb.answer.client import LLMSettings, stream_chat
from kb.answer.prompt import Source, build_messages
from kb.errors import KBError, LLMError

# -- low: look-alike delimiters are normalised before the prompt --------------------------------


@pytest.mark.parametrize("fake", ["＜/source＞", "﹤/source﹥", "＜source id=\"9\"＞"])
def test_lookalike_delimiters_in_a_source_are_escaped(fake):
    user = build_messages("fråga ＜/source＞", [Source(1, f"text {fake} mer", "ref ＜x＞")])[1]["content"]
    assert user.count("</source>") == 1 and user.count("<source ") == 1
    assert not any(c in user for c in "＜＞﹤﹥")


# -- 3. one deadline for the whole exchange, whatever the server trickles -----------------------


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
    with pytest.raises(LLMError, match=rf"cannot reach .*\[::1\]:{port}.*connection refused"):
        list(stream_chat(LLMSettings.from_env({**BASE, "KB_LLM_URL": f"http://[::1]:{port}/v1"}), []))


def test_the_model_shown_is_the_model_sent():
    """KB_LLM_EXTRA may not set the model (from_env refuses it, see above); settings made in code that
    try anyway still send the model they name."""
    s = LLMSettings.from_env({**BASE, "KB_LLM_EXTRA": '{"seed": 1, "max_tokens": 9}'})
    with llmfake.FakeLLM("sse") as fake:
        list(stream_chat(LLMSettings(fake.url, s.model, extra=s.extra), []))
        list(stream_chat(LLMSettings(fake.url, "shown", extra='{"model": "other"}'), []))
    assert [r[2]["model"] for r in fake.requests] == ["m", "shown"] and fake.requests[0][2]["seed"] == 1


def test_bad_settings_in_the_cli_are_one_line(small_index, capsys, monkeypatch):
    from kb.cli import main

    for name, value in BAD_SETTINGS:
        for k, v in {**BASE, name: value}.items():
            monkeypatch.setenv(k, v)
        assert main(["ask", "underskott", "--index", str(small_index), "--generate"]) == 2, (name, value)
        err = capsys.readouterr().err
        assert err.startswith("kb: error: ") and err.count("\n") == 1 and name in err, err
        assert main(["info", "--index", str(small_index), "--json"]) == 0
        assert name in json.loads(capsys.readouterr().out)["llm_error"]
        monkeypatch.delenv(name)


def _app(monkeypatch, index, env: dict[str, str]):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("KB_INDEX", str(index))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.text_input(key="q").set_value("Varför underskott inom LSS?").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("name,value", [("KB_LLM_URL", "http://h:99999/v1"), ("KB_LLM_TIMEOUT", "inf"),
                                        ("KB_LLM_MAX_TOKENS", "inf"), ("KB_LLM_EXTRA", '{"model": "x"}')])
def test_bad_settings_give_a_swedish_notice_in_the_ui(small_index, monkeypatch, name, value):
    at = _app(monkeypatch, small_index, {**BASE, name: value})
    assert any("Språkmodellen är felaktigt inställd" in c.value and name.replace("_", "&#95;") in c.value
               for c in at.caption)
    assert any("Textgenerering: felaktigt inställd" in m.value for m in at.markdown)


# -- 4 and 6. server text is untrusted, and secrets never leave ------------------------------------

KEY = "sk-live-7f3a9c2e1d"
EVIL = ("bad key {key} ![x](http://evil.example/p.png) [klicka här](http://evil.example/) "
        "<img src=http://evil.example/i.png> www.evil.example \x1b]0;titel\x07 " + "lång " * 80)


class Echo(llmfake.FakeLLM):
    """A server that answers every request with an error quoting the API key it was sent: as an HTTP
    error body (mode "http") or as an error event in the stream (mode "event")."""

    def respond(self, h) -> None:
        message = EVIL.format(key=h.headers.get("Authorization", "").removeprefix("Bearer "))
        if self.mode == "http":
            llmfake.send_json(h, 401, {"error": {"message": message}})
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.end_headers()
        h.wfile.write(llmfake.chunk("Början [1]. ") + b"data: " + json.dumps({"error": {"message": message}}).encode()
                      + b"\n\n")


@pytest.mark.parametrize("mode", ["http", "event"])
def test_server_error_text_is_cut_cleaned_and_redacted(mode):
    with Echo(mode) as server:
        with pytest.raises(LLMError) as err:
            list(stream_chat(LLMSettings(server.url, "m", api_key=KEY, timeout=5), []))
    msg = str(err.value)
    assert KEY not in msg and "bad key ***" in msg and "\x1b" not in msg and "\n" not in msg
    assert len(msg.split(": ", 1)[1]) < 200 + 120  # the server's part cut at 200 characters


@pytest.mark.parametrize("mode", ["http", "event"])
def test_cli_never_prints_the_api_key(small_index, capsys, monkeypatch, mode):
    from kb.cli import main

    with Echo(mode) as server:
        for k, v in {**BASE, "KB_LLM_URL": server.url, "KB_LLM_API_KEY": KEY}.items():
            monkeypatch.setenv(k, v)
        assert main(["ask", "underskott", "--index", str(small_index), "--generate", "--json"]) == 0
        out = capsys.readouterr()
        assert main(["ask", "underskott", "--index", str(small_index), "--generate"]) == 0
        human = capsys.readouterr()
    assert "bad key ***" in json.loads(out.out)["generated"]["error"]
    assert "bad key ***" in human.err and "\x1b" not in human.err
    assert KEY not in out.out + out.err + human.out + human.err


@pytest.mark.parametrize("mode", ["http", "event"])
def test_ui_shows_server_errors_as_text_without_the_key(small_index, monkeypatch, mode):
    with Echo(mode) as server:
        at = _app(monkeypatch, small_index, {**BASE, "KB_LLM_URL": server.url, "KB_LLM_API_KEY": KEY})
        at.toggle(key="llm_on").set_value(True).run()
    assert not at.exception, at.exception
    [warning] = [w.value for w in at.warning]
    assert "Språkmodellen kunde inte svara" in warning and KEY not in warning
    # no Markdown or HTML from the server: no image, no link, no autolink, no tag
    for markup in ("![", "](", "<img", "http://", "www.evil", "\x1b"):
        assert markup not in warning, markup
    assert "bad key" in warning


def test_every_kb_error_line_is_redacted(small_index, capsys, monkeypatch):
    """The CLI's one error boundary: a library error quoting a configured secret prints it masked."""
    import kb.cli.args
    from kb.cli import main

    def fails(*a, **kw):
        raise KBError(f"server said: token {token} refused, api-key={KEY}")

    token = "root:Milvus-pw-123"
    monkeypatch.setenv("KB_MILVUS_TOKEN", token)
    monkeypatch.setattr(kb.cli.args, "open_index", fails)  # every command opens its index there
    assert main(["search", "x", "--index", str(small_index)]) == 2
    err = capsys.readouterr().err
    assert "Milvus-pw-123" not in err and KEY not in err and "refused" in err


@pytest.mark.parametrize("address", ["milvus://user:hunter2pw@127.0.0.1:19530/kb",
                                     "milvus://user:hunter2pw@[::1]:19530/kb",
                                     "milvus://:hunter2pw@h:1/kb", "milvus://hunter2pw@h:1/k b"])
def test_a_password_in_a_milvus_address_is_never_echoed(capsys, address):
    from kb.cli import main

    assert main(["info", "--index", address]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: error: ") and err.count("\n") == 1 and "hunter2pw" not in err
    assert "KB_MILVUS_TOKEN" in err


def test_a_milvus_error_quoting_the_token_is_redacted(monkeypatch):
    from pymilvus import MilvusException

    from kb.milvus.store import Connection, MilvusError, parse_location

    monkeypatch.setenv("KB_MILVUS_TOKEN", "root:s3cret-Milvus")
    conn = object.__new__(Connection)
    conn.loc = parse_location("milvus://127.0.0.1:19530/kb")

    def fails():
        raise MilvusException(message="auth failed for root:s3cret-Milvus")

    with pytest.raises(MilvusError) as err:
        conn._guard("connect", fails)
    assert "s3cret" not in str(err.value) and "auth failed" in str(err.value)


@pytest.mark.parametrize("address,uri", [("milvus://[::1]:19531/x", "http://[::1]:19531"),
                                         ("milvus://[2001:db8::7]:19530/kb", "http://[2001:db8::7]:19530"),
                                         ("milvus://127.0.0.1:19530/kb", "http://127.0.0.1:19530")])
def test_ipv6_milvus_addresses_parse(address, uri):
    from kb.milvus.store import parse_location

    loc = parse_location(address)
    assert loc.uri == uri and str(loc) == address


@pytest.mark.parametrize("address", ["milvus://[::1]:19531/x", "milvus://[zz::1]:19531/x", "milvus://[::1:19531/x",
                                     "milvus://[::1]:99999/x", "milvus://h:0/x"])
def test_ipv6_or_bad_milvus_addresses_are_one_line(capsys, address):
    from kb.cli import main

    assert main(["info", "--index", address]) == 2  # nothing listens there (or it is malformed)
    err = capsys.readouterr().err
    assert err.startswith("kb: error: ") and err.count("\n") == 1 and "Traceback" not in err


# -- 11. lone surrogates and atomic outputs ----------------------------------------------------------


def test_lone_surrogates_in_query_files_gold_files_and_arguments(small_index, tmp_path, capsys):
    from kb.cli import main

    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "a\\udc00", "query": "under\\ud800skott"}\n', encoding="utf-8")
    g = tmp_path / "g.jsonl"
    g.write_text('{"id": "g\\ud800", "query": "under\\udfffskott", "relevant": [{"quote": "underskott"}]}\n',
                 encoding="utf-8")
    runs = [["search", "--queries", str(q)], ["search", "--queries", str(q), "--json"], ["ask", "--queries", str(q)],
            ["ask", "--queries", str(q), "--json"], ["search", "under\ud800skott"], ["ask", "under\udcffskott", "--json"],
            ["search", "x", "--org", "a\ud800"],
            ["eval", str(g), "--run-out", str(tmp_path / "run.jsonl"), "--trec-out", str(tmp_path / "t.trec")],
            ["eval", str(g), "--answers", "--answers-out", str(tmp_path / "a.jsonl")]]
    for argv in runs:
        assert main([*argv, "--index", str(small_index)]) == 0, argv
        out = capsys.readouterr()
        out.out.encode("utf-8")  # printable: no lone surrogate left
    for name in ("run.jsonl", "t.trec", "a.jsonl"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert text.strip() and "\ufffd" in text
    assert main(["search", "--queries", str(tmp_path / "x\ud800"), "--index", str(small_index)]) == 2
    assert "not a valid file name" in capsys.readouterr().err


def test_eval_outputs_are_written_atomically(small_index, tmp_path, capsys, monkeypatch):
    import errno
    import os

    from kb.cli import main

    g = tmp_path / "g.jsonl"
    g.write_text('{"id": "g1", "query": "underskott", "relevant": [{"quote": "underskott"}]}\n', encoding="utf-8")
    run = tmp_path / "out" / "run.jsonl"
    run.parent.mkdir()
    run.write_text("older run\n", encoding="utf-8")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert main(["eval", str(g), "--index", str(small_index), "--run-out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: error: cannot write --run-out") and "No space left" in err
    assert run.read_text(encoding="utf-8") == "older run\n" and os.listdir(run.parent) == ["run.jsonl"]


# -- 12. a streamed answer is checked sentence by sentence, each sentence once ----------------------

SENTENCE = "Underskottet beror på personlig assistans [{n}]. "


def _counting(monkeypatch) -> list[int]:
    import kb.answer.check as check

    calls, real = [0], check.check_sentence

    def counted(*a, **kw):
        calls[0] += 1
        return real(*a, **kw)

    monkeypatch.setattr(check, "check_sentence", counted)
    return calls


def test_stream_check_checks_each_completed_sentence_once(monkeypatch):
    from kb.analyze import Analyzer
    from kb.answer.check import build_evidence, check_answer
    from kb.answer.stream import StreamCheck

    analyzer = Analyzer()
    sources = [Source(1, "Underskottet beror på personlig assistans. Kostnaderna steg med 12 mnkr.", "Rapport")]
    evidence = build_evidence(sources, analyzer)
    answer = "".join(SENTENCE.format(n=1) if i % 2 else f"Kostnaderna steg med {i} mnkr [1]. " for i in range(12))
    pieces = [answer[i : i + 7] for i in range(0, len(answer), 7)]
    expected = [check_answer("".join(pieces[: i + 1]), evidence, analyzer, complete_only=True) for i in range(len(pieces))]
    calls = _counting(monkeypatch)
    checker, text = StreamCheck(evidence, analyzer), ""
    for piece, want in zip(pieces, expected):
        text += piece
        assert checker.update(text) == want
    assert calls[0] == 11  # twelve sentences, the last one not yet complete


def test_ui_checks_a_streamed_answer_incrementally(small_index, monkeypatch, capsys):
    n = 1
    pieces = tuple(p for _ in range(15) for p in ("Underskottet beror ", "på personlig ", f"assistans [{n}]. "))
    with llmfake.FakeLLM("sse", pieces) as fake:
        at = _app(monkeypatch, small_index, {**BASE, "KB_LLM_URL": fake.url})
        calls = _counting(monkeypatch)
        at.toggle(key="llm_on").set_value(True).run()
    assert not at.exception, at.exception
    # 15 sentences: each checked once while streaming (14 complete before the end) and once at the end;
    # re-checking the whole answer on each of the 45 pieces took over 300
    assert calls[0] <= 2 * 15, calls[0]


def test_api_error_bodies_and_server_log_are_redacted(monkeypatch, caplog):
    import logging

    from kb.serve.errors import error_body, log

    monkeypatch.setenv("KB_MILVUS_TOKEN", "root:s3cret-Milvus")
    assert "s3cret" not in json.dumps(error_body(503, "Milvus said root:s3cret-Milvus is wrong"))
    with caplog.at_level(logging.INFO, logger="kb.serve"):
        log.warning("kb.serve: new generation not opened yet (%s)", KBError("token root:s3cret-Milvus refused"))
    assert "refused" in caplog.text and "s3cret" not in caplog.text


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), -1.0, 0.0])
def test_settings_made_in_code_with_odd_timeouts_fail_cleanly(timeout):
    with llmfake.FakeLLM("sse") as fake:
        try:
            pieces = list(stream_chat(LLMSettings(fake.url, "m", timeout=timeout), []))
        except LLMError as e:
            assert "\n" not in str(e)
        else:
            assert pieces == ["Hej [1]."]


def test_a_slow_host_name_lookup_keeps_the_deadline(monkeypatch):
    import kb.answer.client as client

    real = socket.getaddrinfo

    def slow(host, *a, **kw):
        if host == "slow.example":
            time.sleep(3)
        return real(host, *a, **kw)

    monkeypatch.setattr(client.socket, "getaddrinfo", slow)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match="no complete answer within 1 s"):
        list(stream_chat(LLMSettings("http://slow.example:9/v1", "m", timeout=1.0), []))
    assert time.monotonic() - t0 < 2.0
