"""Command-line values kb refuses with one clear line (issue 25): a hit count below 1, an empty gold quote."""
from __future__ import annotations

import json

import pytest
from test_hardening import one_error_line

from kb.cli import main


@pytest.mark.parametrize("cmd", [["search", "underskott"], ["ask", "varför underskott inom LSS"]])
@pytest.mark.parametrize("k", ["0", "-1", "-50"])
def test_a_hit_count_below_one_is_refused(capsys, small_index, cmd, k):
    err = one_error_line(capsys, [*cmd, "-k", k, "--index", str(small_index)])
    assert f"-k must be at least 1 (the number of hits), not {k}" in err


def test_eval_refuses_a_hit_count_below_one(capsys, small_index, tmp_path):
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "q1", "query": "underskott LSS",
                                "relevant": [{"quote": "Underskott inom LSS", "grade": 2}]}) + "\n", encoding="utf-8")
    assert "-k must be at least 1" in one_error_line(capsys, ["eval", str(gold), "-k", "0", "--index", str(small_index)])


def test_a_hit_count_of_one_still_works(capsys, small_index):
    assert main(["search", "underskott", "-k", "1", "--json", "--index", str(small_index)]) == 0
    assert len(json.loads(capsys.readouterr().out)["hits"]) == 1


@pytest.mark.parametrize("quote", ["", "   ", "\n\t"])
def test_an_empty_gold_quote_names_the_file_and_line(capsys, small_index, tmp_path, quote):
    gold = tmp_path / "gold.jsonl"
    ok = {"id": "q1", "query": "underskott LSS", "relevant": [{"quote": "Underskott inom LSS", "grade": 2}]}
    bad = {"id": "q2", "query": "sjukfrånvaro", "relevant": [{"quote": quote, "grade": 2}]}
    gold.write_text(json.dumps(ok) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    err = one_error_line(capsys, ["eval", str(gold), "--index", str(small_index)])
    assert f"gold file {gold} line 2: \"quote\" is empty" in err
    assert "not a string" not in err
