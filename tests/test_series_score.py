"""kb.series_score: Swedish numbers, doc ids, and recall/precision of returned series entries."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS

from kb.ingest.read import make_doc_id
from kb.series_score import doc_key, evaluate_series, format_series_table, parse_number, score_series

DOC = "kommunstyrelsen-verksamhetsberattelse-2023.txt"
DOC_ID = "kommunstyrelsen-verksamhetsberattelse-2023"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8,0", 8.0), ("206 583", 206583.0), ("-46", -46.0), ("\u221246", -46.0), ("\u2013 1,9", -1.9),
        ("65.4", 65.4), ("1 700 000", 1700000.0), ("2\u00a0417", 2417.0), ("9,9 %", 9.9), ("0", 0.0),
        ("70,02", 70.02), (" 12,6 ", 12.6), (7, 7.0), (2.5, 2.5),
    ],
)
def test_parse_number_reads_swedish_figures(text, expected):
    assert parse_number(text) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("text", ["", "-", "I.U.", "i.u", "≤6,0", "8,0 mnkr", "20 20 20", "12 34", "abc", None, True, "1,2,3"])
def test_parse_number_refuses_what_is_not_one_figure(text):
    assert parse_number(text) is None


def test_doc_key_is_kbs_doc_id_for_every_bundled_report():
    for path in CORPUS.glob("*.txt"):
        assert doc_key(path.name) == make_doc_id(path, CORPUS) == doc_key(make_doc_id(path, CORPUS))
    assert doc_key("Årsrapport Ö 2023.pdf") == make_doc_id(Path("/c/Årsrapport Ö 2023.pdf"), Path("/c"))


def gold(year, number, doc=DOC):
    return {"doc": doc, "year": year, "number": number, "value": str(number)}


def ret(year, number, doc_id=DOC_ID, **extra):
    return {"doc_id": doc_id, "year": year, "number": number, **extra}


def test_a_match_needs_the_same_document_year_and_number():
    g = [gold(2022, 7.0), gold(2023, 6.3)]
    s = score_series(g, [ret(2022, 7.0), ret(2023, 6.3 + 1e-12), ret(2021, 7.0), ret(2023, 6.3, doc_id="other")])
    assert s == {"recall": 1.0, "precision": 0.5, "matched": 2, "correct": 2, "returned": 4, "gold": 2}


def test_value_is_parsed_when_number_is_missing_and_file_names_count_as_doc_ids():
    s = score_series([gold(2019, 206583)], [{"doc_id": DOC, "year": "2019", "value": "206 583"}])
    assert (s["recall"], s["precision"]) == (1.0, 1.0)


def test_repeated_gold_figures_count_once_and_repeated_correct_entries_stay_correct():
    s = score_series([gold(2023, 2.0), gold(2023, 2.0), gold(2022, 2.2)], [ret(2023, 2.0), ret(2023, 2.0)])
    assert (s["gold"], s["matched"], s["recall"], s["precision"]) == (2, 1, 0.5, 1.0)


def test_nothing_returned_has_no_precision_and_no_gold_has_no_recall():
    assert score_series([gold(2023, 1.0)], [])["precision"] is None
    assert score_series([gold(2023, 1.0)], [])["recall"] == 0.0
    assert score_series([], [ret(2023, 1.0)]) == {
        "recall": None, "precision": 0.0, "matched": 0, "correct": 0, "returned": 1, "gold": 0}


def test_unreadable_entries_match_nothing():
    s = score_series([gold(2023, 1.0)], [{"doc_id": DOC_ID, "year": "tjugo", "number": 1.0}, {"year": 2023, "number": 1.0},
                                          {"doc_id": DOC_ID, "year": 2023, "value": "I.U."}])
    assert (s["matched"], s["correct"], s["returned"]) == (0, 0, 3)


def test_evaluate_series_averages_recall_over_gold_and_precision_over_answered_questions():
    rows = [
        {"id": "s1", "metric": "a", "series": [gold(2021, 1.0), gold(2022, 2.0)]},
        {"id": "s2", "metric": "b", "series": [gold(2021, 5.0)]},
        {"id": "s3", "metric": "c", "series": [gold(2021, 9.0)]},
    ]
    result = evaluate_series(rows, {"s1": [ret(2021, 1.0)], "s2": [ret(2021, 5.0), ret(2020, 5.0)], "zz": [ret(2021, 9.0)]})
    assert result["questions"] == 3
    assert result["recall"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert result["precision"] == pytest.approx((1.0 + 0.5) / 2)
    assert [q["id"] for q in result["per_question"]] == ["s1", "s2", "s3"]
    assert result["per_question"][2]["precision"] is None
    table = format_series_table(result)
    lines = table.splitlines()
    assert len(lines) == 5 and lines[1].split()[:5] == ["s1", "0.500", "1.000", "1/2", "1"]
    assert lines[3].split()[:3] == ["s3", "0.000", "-"] and lines[-1].startswith("mean")


def test_evaluate_series_with_nothing_is_empty_not_an_error():
    result = evaluate_series([], {})
    assert (result["recall"], result["precision"], result["questions"]) == (None, None, 0)
    assert format_series_table(result).splitlines()[-1].split()[:3] == ["mean", "-", "-"]
