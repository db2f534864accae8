"""The figure-series gold set (eval/series/questions.jsonl): well-formed, and every figure is quoted
exactly from its report."""
from __future__ import annotations

import json

from conftest import CORPUS, EVAL

from kb.series_score import parse_number

SERIES = EVAL / "series" / "questions.jsonl"
KINDS = {"utfall", "budget", "plan", "prognos", "mål", "okänd"}
QUESTION_FIELDS = {"id", "query", "type", "metric", "series"}
PAIR_FIELDS = {"year", "value", "number", "unit", "kind", "doc", "quote", "header"}


def collapse(text: str) -> str:
    return " ".join(text.split())


def rows() -> list[dict]:
    return [json.loads(line) for line in SERIES.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_questions_are_well_formed_and_enough():
    qs = rows()
    assert len(qs) >= 20
    ids = [q["id"] for q in qs]
    assert len(ids) == len(set(ids))
    for q in qs:
        assert set(q) == QUESTION_FIELDS, q["id"]
        assert q["type"] == "series" and q["query"].strip() and q["metric"].strip() and q["series"], q["id"]
        for pair in q["series"]:
            assert set(pair) == PAIR_FIELDS, (q["id"], pair)
            assert isinstance(pair["year"], int) and 1990 <= pair["year"] <= 2049, (q["id"], pair["year"])
            assert pair["kind"] in KINDS and pair["unit"].strip(), (q["id"], pair)


def test_every_figure_is_quoted_exactly_and_parses_to_its_number():
    docs = {p.name: collapse(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.txt")}
    for q in rows():
        for pair in q["series"]:
            where = (q["id"], pair["year"], pair["value"])
            assert pair["doc"] in docs, where
            assert pair["quote"] == collapse(pair["quote"]) and pair["quote"] in docs[pair["doc"]], where
            assert pair["header"] is None or collapse(pair["header"]) in docs[pair["doc"]], where
            assert pair["value"] in pair["quote"], where
            number = parse_number(pair["value"])
            assert number is not None and abs(number - pair["number"]) < 1e-9, where


def test_each_question_lists_a_figure_once_per_document_year_and_kind():
    for q in rows():
        seen = [(p["doc"], p["year"], p["kind"], p["number"]) for p in q["series"]]
        assert len(seen) == len(set(seen)), q["id"]
