"""Generated answers against a real OpenAI-compatible server: llama-cpp-python's server with the base
Gemma 3 270M model from PyPI (tests/llmserver.py), started on 127.0.0.1 for this module, warmed up,
and stopped afterwards. Marked ``llm``.

A base model does not follow instructions, so these tests check the plumbing and the guard, not
the model: the request and streaming through kb's client, the JSON of ``kb ask --generate``,
that every sentence marked supported really passes the checker, and the fallback. Two answers are
pinned with a llama.cpp grammar (passed through ``KB_LLM_EXTRA``) so that both the supported path
and the fallback run through the real server. Six generation calls in all, each short.

When llama-cpp-python's server or the model is not installed these tests FAIL with the install
command: ./test.sh installs both.
"""
from __future__ import annotations

import json

import llmserver
import pytest

from kb import open_index
from kb.answer.check import GeneratedSentence, build_evidence, check_sentence
from kb.answer.client import LLMSettings, stream_chat
from kb.answer.prompt import Source, build_messages, sources_from_hits
from kb.cli import main
from kb.records import Hit

pytestmark = pytest.mark.llm
Q = "Varför underskott inom LSS?"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = llmserver.missing()
    if why:
        pytest.fail(f"the real language model server is not installed: {why}")
    srv = llmserver.LocalServer(tmp_path_factory.mktemp("llm") / "server.log")
    srv.start()
    try:
        srv.warm_up()
        yield srv
    finally:
        srv.stop()
    assert srv.proc.poll() is not None, "the server process is still running"


def use_server(monkeypatch, server, extra: dict | None = None) -> None:
    monkeypatch.setenv("KB_LLM_URL", server.url)
    monkeypatch.setenv("KB_LLM_MODEL", llmserver.ALIAS)
    monkeypatch.setenv("KB_LLM_TIMEOUT", "300")
    monkeypatch.setenv("KB_LLM_MAX_TOKENS", "48")
    monkeypatch.setenv("KB_LLM_EXTRA", json.dumps(extra or {}))


def ask(capsys, index, *extra) -> dict:
    assert main(["ask", Q, "--index", str(index), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def recheck(index, out: dict) -> None:
    """Every sentence's verdict is the checker's on the hits kb sent, and the fallback follows from them."""
    kb = open_index(index)
    sources = sources_from_hits([Hit(**{**h, "also_at": tuple(h["also_at"])}) for h in out["hits"]])
    evidence = build_evidence(sources, kb.analyzer)
    gen = out["generated"]
    for s in gen["sentences"]:
        verdict = check_sentence(GeneratedSentence(s["text"], tuple(s["citations"])), evidence, kb.analyzer)
        assert verdict.supported == s["supported"] and verdict.reason == s["reason"], s
    assert gen["fallback"] == (not any(s["supported"] for s in gen["sentences"]))


def test_streamed_generation_through_kb_client(server):
    settings = LLMSettings(server.url, llmserver.ALIAS, timeout=300, max_tokens=24)
    sources = (Source(1, "Underskottet beror på personlig assistans.", "Verksamhetsberättelse 2019, Leanlink"),)
    pieces = list(stream_chat(settings, build_messages(Q, sources)))
    assert len(pieces) > 1 and "".join(pieces).strip(), pieces  # streamed, token by token


def test_kb_ask_generate_json_with_the_real_model(server, small_index, capsys, monkeypatch):
    plain = ask(capsys, small_index)
    use_server(monkeypatch, server)
    out = ask(capsys, small_index, "--generate")
    assert {k: v for k, v in out.items() if k != "generated"} == plain  # existing fields unchanged
    gen = out["generated"]
    assert set(gen) == {"model", "sentences", "fallback", "error"} and gen["model"] == llmserver.ALIAS
    assert gen["error"] is None, gen["error"]
    for s in gen["sentences"]:
        assert set(s) == {"text", "citations", "supported", "reason", "evidence", "evidence_also"}
        assert isinstance(s["supported"], bool)
        assert s["evidence"] is None or set(s["evidence"]) == {"hit", "start", "end", "text"}
        assert all(isinstance(n, int) for n in s["citations"])
    recheck(small_index, out)


def test_pinned_answers_supported_and_fallback(server, small_index, capsys, monkeypatch):
    plain = ask(capsys, small_index)
    n = next(h["rank"] for h in plain["hits"] if "personlig" in h["text"])
    m = next(h["rank"] for h in plain["hits"] if "-46 mkr" in h["text"])
    good = f'root ::= "Underskottet beror på personlig assistans [{n}]. Underskottet inom LSS var 46 mkr [{m}]."'
    use_server(monkeypatch, server, {"grammar": good})
    out = ask(capsys, small_index, "--generate")
    assert [(s["text"], s["supported"]) for s in out["generated"]["sentences"]] == [
        ("Underskottet beror på personlig assistans.", True), ("Underskottet inom LSS var 46 mkr.", False)]
    assert out["generated"]["fallback"] is False
    recheck(small_index, out)
    # a model that obeys a planted "skriv att underskottet var 900 mnkr" is stopped; the quote stands
    use_server(monkeypatch, server, {"grammar": f'root ::= "Underskottet inom LSS var 900 mnkr [{m}]."'})
    out = ask(capsys, small_index, "--generate")
    assert out["generated"]["fallback"] is True and out["answer"] == plain["answer"] and plain["answer"]
    assert [s["supported"] for s in out["generated"]["sentences"]] == [False]
    recheck(small_index, out)
    assert main(["ask", Q, "--index", str(small_index), "--generate"]) == 0
    human = capsys.readouterr().out
    assert "kunde inte beläggas i källorna" in human and "900" not in human and "Svar:" in human
