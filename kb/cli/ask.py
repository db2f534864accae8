"""``kb ask``: the extractive answer (and with ``--generate`` the checked answer of a language model),
with its sources and a figure's series over the years, for a reader or as JSON."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

from ..contract import answer_error_json, answer_json
from ..errors import KBError
from ..sanitize import redact, safe_terminal
from .args import filters_of, open_kb
from .search import print_hits, print_notes


def ask_one(kb, question: str, a: argparse.Namespace):
    """Search and answer one question (the answer reads the top 5 hits, whatever -k shows)."""
    from ..answer.extract import ask

    res, ans = ask(kb, question, k=a.k, filters=filters_of(a), mode=a.mode, use_query_years=not a.no_query_year)
    print_notes(res)
    return res, ans


def series_of(kb, question: str, a: argparse.Namespace) -> list:
    """The figure a question asks about, year by year (empty unless it asks for figures over years)."""
    from ..series import series

    return series(kb, question, filters=filters_of(a), mode=a.mode, use_query_years=not a.no_query_year)


def print_series(entries) -> None:
    """A series as a small table under the answer: year, kind, value and source; each quoted table
    row once, with its header."""
    if not entries:
        return
    print("Över åren:")
    quotes: list[str] = []
    for e in entries:
        if e.quote not in quotes:
            quotes.append(e.quote)
        value = f"{e.value} {e.unit}" if e.unit and e.unit not in e.value else e.value
        print(f"  {e.year}  {e.kind:<8} {safe_terminal(value):>12}  [{quotes.index(e.quote) + 1}] "
              f"{safe_terminal(e.citation)}")
    for i, q in enumerate(quotes, 1):
        print(textwrap.fill(f"[{i}] {safe_terminal(q)}", 100, initial_indent="  ", subsequent_indent="      "))


def print_answer(res, ans, k: int) -> None:
    """The answer for a reader: quoted sentences with [n] and their place, or a plain statement that
    the reports do not state it clearly followed by the closest passages."""
    from ..answer.extract import NONE_NOTE, UNCERTAIN_NOTE, unknown_note

    hits = res.hits[:k]
    if not ans.calibrated:
        print("(Obs: det finns ingen kalibrerad gräns för osäkra svar för indexets inbäddningsmodell; "
              "svaret visas utan den.)")
    if ans.sentences:
        print("Svar:" if ans.verdict != "uncertain" else f"Svar ({UNCERTAIN_NOTE}):")
        for s in ans.sentences:
            if s.header:  # a table row is shown under its header, so its values can be read
                print(textwrap.fill(f"[tabell] {safe_terminal(s.header)}", 100, initial_indent="  ",
                                    subsequent_indent="  "))
            line = f"{safe_terminal(s.sentence)} [{s.hit_rank}]"
            print(textwrap.fill(line, 100, initial_indent="  ", subsequent_indent="  "))
            print(f"      ({safe_terminal(s.citation)})")
        print_sources(hits)
        return
    note = unknown_note(ans.unknown)
    print(NONE_NOTE + (f" {safe_terminal(note)}" if note else ""))
    print("De passager som ligger närmast:")
    print_hits(replace(res, hits=hits[:3]))


def cmd_ask(a: argparse.Namespace) -> int:
    from ..answer.extract import QuestionError
    if (a.question is None) == (a.queries is None):
        raise KBError("give either a QUESTION or --queries FILE.jsonl")
    if a.generate and a.queries is not None:
        raise KBError("--generate answers one QUESTION; it does not take --queries")
    batch = None if a.queries is None else read_queries(a.queries)
    kb = open_kb(a)
    if batch is None:
        res, ans = ask_one(kb, a.question, a)
        gen = generated(a, kb, res)  # None unless --generate
        ser = series_of(kb, a.question, a)
        if a.json:
            print(json.dumps(answer_json("question", a.question, res, ans, a.k, gen, ser), ensure_ascii=False))
        else:
            if not print_generated(gen, res.hits[: a.k]):
                print_answer(res, ans, a.k)
            print_series(ser)
        return 0
    for qid, query in batch:
        try:
            res, ans = ask_one(kb, query, a)
        except QuestionError as e:  # one bad line does not stop the batch
            line = answer_error_json("query_id", qid, str(e))
            print(json.dumps(line, ensure_ascii=False) if a.json else f"=== {safe_terminal(qid)}: kb: error: {e}")
            continue
        ser = series_of(kb, query, a)
        if a.json:
            print(json.dumps(answer_json("query_id", qid, res, ans, a.k, series=ser), ensure_ascii=False))
        else:
            print(f"=== {safe_terminal(qid)}: {safe_terminal(query)}")
            print_answer(res, ans, a.k)
            print_series(ser)
    return 0


def generated(a: argparse.Namespace, kb, res):
    """``kb ask --generate``: the checked answer of the language model server (kb.answer.generate), or None."""
    if not a.generate:
        return None
    from ..answer.client import ENV_MODEL, ENV_URL, LLMSettings
    from ..answer.generate import generate
    from ..answer.prompt import sources_from_hits

    settings = LLMSettings.from_env()
    if settings is None:
        raise KBError(f"--generate needs a language model server: set {ENV_URL} (an OpenAI-compatible base URL, "
                      f"e.g. http://127.0.0.1:8080/v1) and {ENV_MODEL}")
    # the passages the extractive answer reads (top 5), and only ones the output lists
    gen = generate(settings, a.question, sources_from_hits(res.hits, min(a.k, 5)), kb.analyzer)
    if gen.error:
        print(f"kb: warning: {safe_terminal(redact(gen.error))}; showing the extractive answer", file=sys.stderr)
    return gen


def print_generated(gen, hits) -> bool:
    """Print a generated answer (unsupported sentences marked) and its sources; False when the
    extractive answer is to be printed instead."""
    if gen is None:
        return False
    if gen.fallback:
        if gen.error is None:
            print("Språkmodellens svar kunde inte beläggas i källorna; svaret nedan är citerat ur rapporterna.\n")
        return False
    print(f"Svar skrivet av språkmodellen {safe_terminal(gen.model)} (varje mening kontrollerad mot källorna; "
          "kontrollen visar att källan säger detta, inte att det är sant):")
    for s in gen.sentences:
        refs = "".join(f"[{n}]" for n in s.citations)
        text = f"{safe_terminal(s.text)} {refs}" + ("" if s.supported else "  (ej belagt)")
        print(textwrap.fill(text, 100, initial_indent="  ", subsequent_indent="  "))
        if s.evidence:
            ev = s.evidence[0]
            label = "källan säger" if s.supported else "närmaste mening i källan"
            quote = f"{label} [{ev.hit}]: ”{safe_terminal(' '.join(ev.text.split()))}”"
            print(textwrap.fill(quote, 100, initial_indent="      ", subsequent_indent="      "))
    print_sources(hits)
    return True


def print_sources(hits) -> None:
    """The "Källor" list under an answer: [n] and the citation of each hit."""
    print("\nKällor:")
    for h in hits:
        print(f"  [{h.rank}] {safe_terminal(h.citation)}")


def read_queries(path: Path) -> list[tuple[str, str]]:
    from ..evaluate import read_jsonl_objects, row_id, row_query

    where = f"query file {path}"
    rows = read_jsonl_objects(path, "query file")
    return [(row_id(row, n, where, default=str(i)), row_query(row, n, where)) for i, (n, row) in enumerate(rows, 1)]
