"""Shared text rules (kb.text): years, sentence ends, headings, table lines, folding."""
from __future__ import annotations

from kb.text import (
    YEAR_MAX,
    YEAR_MIN,
    fold,
    is_heading,
    is_numeric_line,
    is_year,
    mark_heading,
    query_years,
    sentence_breaks,
    years_in,
)


def test_one_year_rule_for_questions_and_documents():
    assert (YEAR_MIN, YEAR_MAX) == (1990, 2049)
    assert years_in("Budget 2021, utfall 2019 och 2019,5 procent; 12023") == [2021, 2019]
    assert query_years("2023 2019 2023") == (2023, 2019)
    assert is_year("2023") and not is_year("1989") and not is_year("2050") and not is_year("20231")


def test_sentence_breaks_skip_abbreviations_and_keep_closing_quotes():
    text = 'Kostnaderna ökar bl.a. Till följd av fler brukare. Han sa "klart." Nästa mening.'
    ends = [text[:e] for e, _ in sentence_breaks(text)]
    assert ends == ["Kostnaderna ökar bl.a. Till följd av fler brukare.",
                    'Kostnaderna ökar bl.a. Till följd av fler brukare. Han sa "klart."']
    assert sentence_breaks("inga meningsslut här") == []


def test_heading_mark_and_table_lines():
    assert mark_heading("Ekonomi ") == " Ekonomi"
    assert is_heading(mark_heading("Ekonomi"), True, None)
    assert not is_heading("Ekonomi", True, None)  # unmarked, nothing follows
    assert is_numeric_line("LSS -30,1 -46,0 -15,9") and not is_numeric_line("Underskottet inom LSS ökade.")


def test_fold():
    assert fold("Orsa-\nken, 92,5 MNKR!") == "orsaken925mnkr"
